// The compose stack's files, checked by real parsers: docker-compose (Debian's package, via
// scripts/ensure-compose.sh) parses collector/compose.yaml, promtool (Debian's prometheus
// package) checks prometheus.yml; plus the wiring users rely on: fixed datasource UIDs,
// exemplar trace_id -> Tempo, traces -> metrics with our metric names, every dashboard mounted
// where the provider loads from, every mounted file present.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { collectorDir, repoRoot } from './support/collector.ts';

const composeFile = join(collectorDir, 'compose.yaml');
const compose = parse(readFileSync(composeFile, 'utf8'));

function which(cmd: string): boolean {
  return spawnSync('bash', ['-c', `command -v ${cmd}`]).status === 0;
}

test('docker-compose parses compose.yaml (config -q)', () => {
  // scripts/ensure-compose.sh (run by `npm test` before the tests) installs it from Debian.
  assert.ok(which('docker-compose'), 'docker-compose is not installed: run `bash scripts/ensure-compose.sh`');
  const r = spawnSync('docker-compose', ['-f', composeFile, 'config', '-q'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
});

test('promtool accepts prometheus.yml', () => {
  const r = spawnSync('promtool', ['check', 'config', join(collectorDir, 'prometheus.yml')], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
});

test('every bind-mounted file or directory exists', () => {
  for (const [name, svc] of Object.entries(compose.services) as [string, { volumes?: string[] }][]) {
    for (const v of svc.volumes ?? []) {
      const src = v.split(':')[0]!;
      if (!src.startsWith('.')) continue; // named volume
      assert.ok(existsSync(resolve(collectorDir, src)), `${name}: ${src} does not exist`);
    }
  }
});

test('Prometheus keeps exemplars and accepts remote write; the Collector writes to it', () => {
  const cmd: string[] = compose.services.prometheus.command;
  assert.ok(cmd.includes('--enable-feature=exemplar-storage'));
  assert.ok(cmd.includes('--web.enable-remote-write-receiver'));
  const env = compose.services['otel-collector'].environment;
  assert.equal(env.PROMETHEUS_REMOTE_WRITE_ENDPOINT, 'http://prometheus:9090/api/v1/write');
  assert.equal(env.TEMPO_ENDPOINT, 'tempo:4317');
  assert.match(compose.services['otel-collector'].image, /opentelemetry-collector-contrib:0\.158\.0$/);
  const manifest = readFileSync(join(collectorDir, 'builder-config.yaml'), 'utf8');
  assert.match(manifest, /otlpreceiver v0\.158\.0/, 'compose image and builder manifest are the same Collector version');
});

test('Grafana datasources: fixed UIDs, exemplar trace_id -> Tempo, traces -> metrics', () => {
  const ds = parse(readFileSync(join(collectorDir, 'grafana/provisioning/datasources/datasources.yaml'), 'utf8')).datasources;
  const prom = ds.find((d: { uid: string }) => d.uid === 'prometheus');
  const tempo = ds.find((d: { uid: string }) => d.uid === 'tempo');
  assert.equal(prom?.type, 'prometheus');
  assert.equal(tempo?.type, 'tempo');
  assert.deepEqual(prom.jsonData.exemplarTraceIdDestinations.map((e: { name: string; datasourceUid: string }) => [e.name, e.datasourceUid]), [['trace_id', 'tempo']]);
  assert.equal(tempo.jsonData.tracesToMetrics.datasourceUid, 'prometheus');
  for (const q of tempo.jsonData.tracesToMetrics.queries) assert.match(q.query, /traces_span_metrics_(calls_total|duration_seconds_bucket)/);
  assert.equal(tempo.jsonData.serviceMap.datasourceUid, 'prometheus');
  // dashboards default to the provisioned uid
  const d = JSON.parse(readFileSync(join(repoRoot, 'dashboards', 'service-overview.json'), 'utf8'));
  assert.equal(d.templating.list.find((v: { name: string }) => v.name === 'datasource').current.value, 'prometheus');
});

test('Grafana loads every bundled dashboard from where compose mounts dashboards/', () => {
  const prov = parse(readFileSync(join(collectorDir, 'grafana/provisioning/dashboards/tailtrace.yaml'), 'utf8'));
  const path = prov.providers[0].options.path;
  const mount = (compose.services.grafana.volumes as string[]).find((v) => v.split(':')[1] === path);
  assert.ok(mount, `nothing mounted at ${path}`);
  assert.equal(resolve(collectorDir, mount!.split(':')[0]!), join(repoRoot, 'dashboards'));
  assert.ok((compose.services.grafana.volumes as string[]).some((v) => v.startsWith('./grafana/provisioning:/etc/grafana/provisioning')));
});

test('services that can be probed have healthchecks', () => {
  for (const name of ['prometheus', 'tempo', 'grafana']) assert.ok(compose.services[name].healthcheck, name);
});
