// The alert rules on real parts: a real Prometheus (Debian's package) loaded with the generated
// rules scrapes the demo's three services (their own /metrics) while the leak demo runs, and
// again, from scratch, while the plain demo runs. The leak must fire a latency or heap alert for
// the gateway, with its annotations rendered (runbook, panel, diagnose command), and the service
// overview's "Firing alerts" panel must show it; the plain demo must fire nothing.
//
// The rules are the production ones generated with other parameters (dashboards/src/rules.ts,
// LIVE below): every duration x 1/30 (5m windows -> 10s, 1h heap slope -> 2m), evaluated every
// second, a 400 ms budget held 30 s for the gateway's GET /api/orders/:id (0.5 s and 10m -> 20 s
// are the defaults) and 8 MiB per (scaled) hour of heap growth. The expressions are the committed
// ones.
// The demo runs as `npm run demo -- --scenario leak` does (5 s evidence windows, 200 req/s HTTP to
// the gateway and 50 req/s gRPC to orders); the plain run is the same without the leak.
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { startStack } from '../examples/stack.ts';
import type { Stack } from '../examples/stack.ts';
import type { DriverConfig } from '../examples/load/main.ts';
import { renderRules } from '../dashboards/src/rules.ts';
import { PRODUCTION } from '../dashboards/src/rule-params.ts';
import type { RuleParams } from '../dashboards/src/rule-params.ts';
import { tempDir } from './support/collector.ts';
import { interpolate, loadDashboards, queryPanels } from './support/dashboards.ts';
import { sleep, waitFor } from './support/proc.ts';
import { startPrometheus } from './support/prometheus.ts';
import type { Prometheus, PromAlert } from './support/prometheus.ts';

const LIVE: RuleParams = {
  ...PRODUCTION,
  timeScale: 1 / 30,
  evaluationInterval: '1s',
  // A budget of its own for the leaking route (the default is 0.5 s), held for 30 s: on two cores
  // shared with other work the plain demo's 10 s P99 has been seen at 0.1-0.5 s for a moment; the
  // leak takes it to seconds and keeps it there.
  latency: { ...PRODUCTION.latency, budgets: [{ kind: 'http', job: 'gateway', operation: '/api/orders/:id', p99Seconds: 0.4 }], for: '15m' },
  heap: { ...PRODUCTION.heap, minGrowthBytes: 8 * 2 ** 20 },
  // 20 s: a blip is judged one 5 s evidence window after its trigger.
  evidence: { ...PRODUCTION.evidence, for: '10m' },
};
const RATE = 200;
const WARMUP_S = 20;
const LEAK_BUDGET_S = 150;
const CAUGHT_BY = new Set(['TailtraceHttpP99OverBudget', 'TailtraceHeapGrowing', 'TailtraceHttpP99Regressed']);
const ERROR_BUDGET = new Set(['TailtraceHttpErrorBudgetBurn', 'TailtraceHttpErrorBudgetBurnSlow']);

const tmp = tempDir('tailtrace-alerts-');
const rulesFile = join(tmp.dir, 'tailtrace-live.rules.yml');
writeFileSync(rulesFile, renderRules(LIVE));
after(() => tmp.cleanup());

interface Run {
  prom: Prometheus;
  stack: Stack;
  driver: ChildProcess;
  startedAt: number;
  stop(): Promise<void>;
}

/** A fresh Prometheus with the live rules, the demo's services (evidence windows as the leak demo), steady load. */
async function startRun(name: string, durationS: number): Promise<Run> {
  const prom = await startPrometheus({ scrapeIntervalS: 1, rules: [rulesFile] });
  const evidence = (s: string) => ({ TAILTRACE_EVIDENCE_DIR: join(tmp.dir, name, s) });
  let stack: Stack;
  try {
    stack = await startStack({
      quiet: true,
      stderr: false,
      env: { TAILTRACE_DEMO_EVIDENCE_WINDOW_MS: '5000' },
      serviceEnv: { gateway: evidence('gateway'), orders: evidence('orders'), inventory: evidence('inventory') },
    });
  } catch (err) {
    await prom.stop();
    throw err;
  }
  for (const svc of [stack.gateway, stack.orders, stack.inventory]) prom.setTargets(svc.name, [svc.metricsUrl]);
  const cfg: DriverConfig = { gatewayUrl: stack.gatewayUrl, ordersAddr: stack.ordersAddr, rate: RATE, grpcRate: RATE / 4, durationS, warmupS: 0 };
  // Our child, ended by its PID.
  const driver = fork(fileURLToPath(new URL('../examples/load/main.ts', import.meta.url)), [JSON.stringify(cfg)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  return {
    prom, stack, driver, startedAt: Date.now(),
    async stop() {
      if (driver.exitCode === null && driver.signalCode === null) driver.kill('SIGTERM');
      await stack.stop();
      await prom.stop();
    },
  };
}

const firing = (alerts: PromAlert[]) => alerts.filter((a) => a.state === 'firing');
const describeAlert = (a: PromAlert) => `${a.labels.alertname}{${Object.entries(a.labels).filter(([k]) => k !== 'alertname').map(([k, v]) => `${k}=${v}`).join(',')}}`;

/** Requests the route has answered with a 5xx or not at all, from the raw counter the rules read. */
async function failedRequests(prom: Prometheus, job: string, route: string): Promise<number> {
  const r = await prom.query(`sum(http_server_request_duration_seconds_count{job="${job}",http_route="${route}",http_response_status_code=~"5..|0"})`);
  return Number(r[0]?.value?.[1] ?? 0);
}

let leakTookS = 60;

test('the leak demo fires a latency or heap alert for the gateway, with its runbook, on the service overview', async (t) => {
  const run = await startRun('leak', WARMUP_S + LEAK_BUDGET_S + 30);
  try {
    await sleep(WARMUP_S * 1000);
    // Before the leak nothing may fire that the leak's catch is judged on, or that the demo's data
    // does not back. An error-budget alert is the one exception when the gateway really did fail
    // requests: with two test suites sharing two cores, the gateway once failed over 1.4% of its
    // warm-up requests (its deadline to orders is 2 s), which is what that alert is there to say.
    const early = firing(await run.prom.alerts());
    const unbacked: string[] = [];
    for (const a of early) {
      const failed = ERROR_BUDGET.has(a.labels.alertname!) ? await failedRequests(run.prom, a.labels.job!, a.labels.http_route!) : 0;
      if (failed > 0) t.diagnostic(`before the leak, backed by ${failed} failed requests: ${describeAlert(a)}`);
      else unbacked.push(describeAlert(a));
    }
    assert.deepEqual(unbacked, [], 'nothing fires before the leak (but an error budget burnt by real failures)');
    run.stack.gateway.child.send({ type: 'scenario', name: 'leak' });
    const leakAt = Date.now();
    const seen = new Map<string, number>();
    const caught = await waitFor('a latency or heap alert for the gateway', async () => {
      const now = firing(await run.prom.alerts());
      for (const a of now) if (!seen.has(describeAlert(a))) seen.set(describeAlert(a), (Date.now() - leakAt) / 1000);
      return now.find((a) => CAUGHT_BY.has(a.labels.alertname!) && a.labels.service === 'gateway');
    }, LEAK_BUDGET_S * 1000, 1000);
    leakTookS = (Date.now() - run.startedAt) / 1000;
    t.diagnostic(`${describeAlert(caught)} fired ${((Date.now() - leakAt) / 1000).toFixed(0)} s after the leak started`);
    t.diagnostic(`firing by then: ${[...seen].map(([k, s]) => `${k} (+${s.toFixed(0)} s)`).join('; ')}`);
    t.diagnostic(`summary: ${caught.annotations.summary}`);

    // What the person paged reads: rendered templates, the panel, the command.
    assert.equal(caught.labels.severity, 'warning');
    for (const [k, v] of Object.entries(caught.annotations)) assert.doesNotMatch(v, /error expanding|<no value>|\{\{/, `annotation ${k}: ${v}`);
    assert.match(caught.annotations.summary!, /^gateway /);
    assert.match(caught.annotations.runbook!, /panel "[^"]+"/);
    assert.match(caught.annotations.runbook!, /DIR=\$\{TAILTRACE_EVIDENCE_DIR:-\$\{TMPDIR:-\/tmp\}\/tailtrace-evidence\/gateway\}; tailtrace diagnose /);
    assert.match(caught.annotations.dashboard!, /^\/d\/tailtrace-(service-overview|heap-evidence)\?viewPanel=\d+&var-job=gateway$/);

    // The service overview's "Firing alerts" panel, queried as Grafana would, shows it.
    const overview = loadDashboards().get('service-overview.json')!;
    const panel = queryPanels(overview).find((p) => p.title === 'Firing alerts')!;
    const expr = interpolate(panel.targets![0]!.expr, { vars: { job: '.+', instance: '.*' }, rateIntervalS: 4, intervalS: 1, rangeS: 60 });
    const shown = await run.prom.query(expr);
    assert.ok(shown.some((s) => s.metric.alertname === caught.labels.alertname && s.metric.job === 'gateway' && Number(s.value![1]) >= 1), JSON.stringify(shown.map((s) => s.metric)));
  } finally {
    await run.stop();
  }
});

test('the plain demo, as long as the leak run took, fires nothing', async (t) => {
  const durationS = Math.max(60, Math.ceil(leakTookS));
  const run = await startRun('plain', durationS + 30);
  try {
    const fired = new Map<string, number>();
    const pending = new Set<string>();
    while (Date.now() - run.startedAt < durationS * 1000) {
      const alerts = await run.prom.alerts();
      for (const a of alerts) if (a.state === 'pending') pending.add(a.labels.alertname!);
      for (const a of firing(alerts)) if (!fired.has(describeAlert(a))) fired.set(describeAlert(a), (Date.now() - run.startedAt) / 1000);
      await sleep(1000);
    }
    // The rules were evaluated all along (a recorded series of the run exists).
    const p99 = await run.prom.query('job_route:http_server_request_duration_seconds:p99_10s{job="gateway"}');
    assert.ok(p99.length > 0, 'the recording rules ran on the plain demo');
    t.diagnostic(`${durationS} s of the plain demo: gateway P99 now ${p99.map((s) => `${(Number(s.value![1]) * 1000).toFixed(1)} ms`).join(', ')}; pending for a moment: ${[...pending].join(', ') || 'none'}`);
    assert.deepEqual([...fired].map(([k, s]) => `${k} at +${s.toFixed(0)} s`), [], 'alerts fired during the plain demo');
  } finally {
    await run.stop();
  }
});
