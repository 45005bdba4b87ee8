// The shipped Collector configs against the real Collector binary built from
// collector/builder-config.yaml: `validate` passes on every one (the gateway only with its
// required endpoints set), the manifest holds exactly the components they use (plus the
// test-only ones it marks), the configs start clean (no deprecated names), and the span-metric
// buckets are the services' own.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { DEFAULT_BUCKETS } from '@tailtrace/metrics';
import { collectorBinary, collectorDir, startCollector, tempDir, validateConfig } from './support/collector.ts';

const agent = join(collectorDir, 'otel-collector.yaml');
const gateway = join(collectorDir, 'gateway.yaml');
const agentLb = join(collectorDir, 'agent-loadbalancing.yaml');
const SHIPPED = [agent, gateway, agentLb];
const GATEWAY_ENV = { TEMPO_ENDPOINT: 'tempo-distributor:4317', REMOTE_WRITE_ENDPOINT: 'http://mimir:8080/api/v1/push', OTELCOL_REPLICA: 'gateway-0' };

test('the Collector binary builds from the manifest and reports its version', () => {
  const bin = collectorBinary();
  const manifest = parse(readFileSync(join(collectorDir, 'builder-config.yaml'), 'utf8'));
  const version = execFileSync(bin, ['--version'], { encoding: 'utf8' });
  assert.ok(version.includes(manifest.dist.version), version);
});

test('validate: agent config as shipped (defaults only)', () => {
  const r = validateConfig([agent]);
  assert.equal(r.status, 0, r.output);
});

test('validate: agent config with the debug exporter toggled on', () => {
  const r = validateConfig([agent], { TAILTRACE_DEBUG_EXPORTER: 'debug', TAILTRACE_DEBUG_VERBOSITY: 'detailed' });
  assert.equal(r.status, 0, r.output);
});

test('validate: load-balancing agent config', () => {
  const r = validateConfig([agentLb], { GATEWAY_HOSTNAME: 'otelcol-gateway.observability.svc.cluster.local' });
  assert.equal(r.status, 0, r.output);
});

test('validate: gateway config with its endpoints set, and refused without them', () => {
  const ok = validateConfig([gateway], GATEWAY_ENV);
  assert.equal(ok.status, 0, ok.output);
  const missing = validateConfig([gateway], {});
  assert.notEqual(missing.status, 0, 'the gateway must not start without TEMPO_ENDPOINT / REMOTE_WRITE_ENDPOINT');
});

test('validate rejects a broken config (the check is real)', () => {
  const t = tempDir('tailtrace-bad-');
  try {
    const bad = join(t.dir, 'bad.yaml');
    writeFileSync(bad, readFileSync(agent, 'utf8').replace('check_interval: 1s', 'check_interval: 1s\n    no_such_option: 1'));
    assert.notEqual(validateConfig([bad]).status, 0);
  } finally {
    t.cleanup();
  }
});

/** component type (before the /name) of every component a config uses, by kind. */
function usedComponents(file: string): Set<string> {
  const cfg = parse(readFileSync(file, 'utf8'));
  const used = new Set<string>();
  for (const kind of ['receivers', 'processors', 'exporters', 'connectors', 'extensions']) {
    for (const id of Object.keys(cfg[kind] ?? {})) used.add(`${kind}:${id.split('/')[0]}`);
  }
  return used;
}

test('the manifest lists exactly the components the shipped configs use (+ marked test-only ones)', () => {
  const bin = collectorBinary();
  const comps = parse(execFileSync(bin, ['components'], { encoding: 'utf8' }));
  // module path of every component name the binary has
  const byName = new Map<string, string>();
  for (const kind of ['receivers', 'processors', 'exporters', 'connectors', 'extensions']) {
    for (const c of comps[kind] ?? []) byName.set(`${kind}:${c.name}`, c.module.split(' ')[0]);
  }
  const used = new Set<string>();
  for (const f of SHIPPED) for (const c of usedComponents(f)) used.add(c);
  for (const c of used) assert.ok(byName.has(c), `${c} is used by a shipped config but not in the build`);
  const manifestText = readFileSync(join(collectorDir, 'builder-config.yaml'), 'utf8');
  const unused = [...byName.keys()].filter((c) => !used.has(c));
  // Only the file exporter (the e2e tests' Tempo stand-in) may be in the build unused, and the
  // manifest must say it is test-only.
  assert.deepEqual(unused, ['exporters:file']);
  assert.match(manifestText, /TEST-ONLY[^\n]*\n([ \t]*#[^\n]*\n)*\s*- gomod: \S+\/exporter\/fileexporter /);
});

test('span-metric and service-graph buckets equal @tailtrace/metrics DEFAULT_BUCKETS (seconds)', () => {
  const toSeconds = (d: string): number => {
    const m = /^([\d.]+)(us|ms|s)$/.exec(String(d));
    assert.ok(m, `duration ${d}`);
    return Number(m[1]) * { us: 1e-6, ms: 1e-3, s: 1 }[m[2] as 'us' | 'ms' | 's'];
  };
  for (const f of [agent, gateway]) {
    const cfg = parse(readFileSync(f, 'utf8'));
    const sm = cfg.connectors.span_metrics;
    assert.equal(sm.histogram.unit, 's', `${f}: span metrics unit set explicitly to seconds`);
    assert.equal(sm.exemplars.enabled, true);
    assert.ok(sm.aggregation_cardinality_limit > 0, 'cardinality limit');
    for (const list of [sm.histogram.explicit.buckets, cfg.connectors.service_graph.latency_histogram_buckets]) {
      const secs = list.map(toSeconds);
      assert.equal(secs.length, DEFAULT_BUCKETS.length, f);
      secs.forEach((s: number, i: number) => assert.ok(Math.abs(s - DEFAULT_BUCKETS[i]!) < 1e-12, `${f}: bucket ${i} ${s} vs ${DEFAULT_BUCKETS[i]}`));
    }
    for (const [name, p] of Object.entries(cfg.service.pipelines) as [string, { processors?: string[] }][]) {
      assert.equal(p.processors?.[0], 'memory_limiter', `${f}: ${name} starts with memory_limiter`);
    }
  }
});

test('the agent config starts clean: healthy, no deprecated names or options in its log', async () => {
  const t = tempDir('tailtrace-start-');
  try {
    const c = await startCollector({
      configs: [agent],
      logFile: join(t.dir, 'agent.log'),
      env: { TEMPO_ENDPOINT: '127.0.0.1:9', PROMETHEUS_REMOTE_WRITE_ENDPOINT: 'http://127.0.0.1:9/api/v1/write' },
    });
    const metrics = await (await fetch(c.telemetryUrl)).text();
    await c.stop();
    assert.match(metrics, /^otelcol_process_uptime_seconds_total/m, 'own telemetry with Prometheus suffixes');
    const log = c.proc.log();
    assert.doesNotMatch(log, /deprecated/i, log);
    assert.doesNotMatch(log, /\terror\t/, log);
  } finally {
    t.cleanup();
  }
});
