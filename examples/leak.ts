// `npm run demo -- --scenario leak`: the services run with evidence capture on (short windows so
// the demo fits in a minute or two). Under steady load each service writes its scheduled baseline
// bundle on its own; then the gateway's GET /api/orders/:id starts leaking (examples/services/leak.ts)
// and its latency regresses. Nobody calls anything after that: the gateway's own triggers (P99
// regression or heap growth) write the evidence, and the demo only waits for that bundle to
// appear, then runs `tailtrace diagnose` on the baseline and the triggered bundle.
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { diagnosePaths, renderDiagnoseHtml, renderDiagnoseText } from '@tailtrace/cli';
import type { EvidenceManifest } from '@tailtrace/profiler';
import { startStack } from './stack.ts';
import type { ServiceName } from './stack.ts';
import type { DriverConfig } from './load/main.ts';

export interface LeakScenarioOptions {
  /** HTTP requests per second at the gateway. */
  rate: number;
  /** Where the services write their bundles (one sub-directory per service). */
  evidenceDir: string;
  /** Where the diagnose report goes (.txt, .json and .html next to each other, without extension). */
  reportBase: string;
  /** Give up when no trigger fired within this many seconds after the leak started. */
  timeoutS: number;
  /** The evaluation window of the services (HDR window = trigger window). */
  windowMs: number;
  log: (line: string) => void;
}

export interface LeakScenarioResult {
  baseline: string;
  triggered: string;
  trigger: EvidenceManifest['trigger'];
  verdict: string[];
  reportFiles: string[];
}

interface FoundBundle {
  dir: string;
  manifest: EvidenceManifest;
}

/** Complete bundles in `dir`, oldest first (partial ones are dot-prefixed until renamed). */
function bundles(dir: string): FoundBundle[] {
  if (!existsSync(dir)) return [];
  const out: FoundBundle[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const manifest = join(dir, name, 'manifest.json');
    if (!existsSync(manifest)) continue;
    try {
      out.push({ dir: join(dir, name), manifest: JSON.parse(readFileSync(manifest, 'utf8')) as EvidenceManifest });
    } catch {
      // Being written right now: the next poll sees it whole.
    }
  }
  return out;
}

async function waitFor<T>(what: string, timeoutS: number, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutS} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function runLeakScenario(o: LeakScenarioOptions): Promise<LeakScenarioResult> {
  const dirOf = (s: ServiceName) => join(o.evidenceDir, s);
  const evidenceEnv = (s: ServiceName) => ({ TAILTRACE_EVIDENCE_DIR: dirOf(s) });
  mkdirSync(o.evidenceDir, { recursive: true });
  const stack = await startStack({
    quiet: true,
    env: { TAILTRACE_DEMO_EVIDENCE_WINDOW_MS: String(o.windowMs) },
    serviceEnv: { gateway: { ...evidenceEnv('gateway'), TAILTRACE_DEMO_SNAPSHOTS: 'triggers' }, orders: evidenceEnv('orders'), inventory: evidenceEnv('inventory') },
  });
  // The load runs until the evidence is in; the driver is our child and is ended by its PID.
  const budgetS = 60 + o.timeoutS * 2;
  const cfg: DriverConfig = { gatewayUrl: stack.gatewayUrl, ordersAddr: stack.ordersAddr, rate: o.rate, grpcRate: Math.max(1, Math.round(o.rate / 4)), durationS: budgetS, warmupS: 0 };
  const driver = fork(fileURLToPath(new URL('./load/main.ts', import.meta.url)), [JSON.stringify(cfg)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  try {
    o.log(`load: ${o.rate} req/s over HTTP to gateway, ${cfg.grpcRate} req/s over gRPC to orders; evidence in ${o.evidenceDir}`);
    o.log(`waiting for the gateway's scheduled baseline bundle (${(o.windowMs / 1000).toFixed(0)} s windows) ...`);
    const baseline = await waitFor('baseline bundle', 60 + (o.windowMs / 1000) * 8, () =>
      bundles(dirOf('gateway')).find((b) => b.manifest.trigger.kind === 'baseline'));
    o.log(`  baseline: ${baseline.dir} (snapshot ${baseline.manifest.snapshot.status})`);
    stack.gateway.child.send({ type: 'scenario', name: 'leak' });
    const leakAt = Date.now();
    o.log('leak on: GET /api/orders/:id now keeps every OrderSession and sorts them all per request');
    o.log('waiting for the gateway to capture evidence on its own ...');
    const triggered = await waitFor('trigger', o.timeoutS, () =>
      bundles(dirOf('gateway')).find((b) => b.manifest.trigger.kind !== 'baseline' && Date.parse(b.manifest.createdAt) >= leakAt));
    o.log(`  ${((Date.now() - leakAt) / 1000).toFixed(1)} s after the leak started: ${triggered.manifest.trigger.kind}: ${triggered.manifest.trigger.reason}`);
    o.log(`  bundle: ${triggered.dir} (snapshot ${triggered.manifest.snapshot.status}${triggered.manifest.snapshot.reason ? `: ${triggered.manifest.snapshot.reason}` : ''})`);
    const early = bundles(dirOf('gateway')).filter((b) => b.manifest.trigger.kind !== 'baseline' && Date.parse(b.manifest.createdAt) < leakAt);
    if (early.length > 0) o.log(`  gateway before the leak: ${early.map((b) => b.manifest.trigger.reason).join('; ')}`);
    for (const s of ['orders', 'inventory'] as const) {
      const other = bundles(dirOf(s)).filter((b) => b.manifest.trigger.kind !== 'baseline');
      o.log(`  ${s}: ${other.length === 0 ? 'no trigger' : other.map((b) => b.manifest.trigger.reason).join('; ')}`);
    }
    driver.kill('SIGTERM');

    o.log(`\n$ tailtrace diagnose ${baseline.dir} ${triggered.dir}\n`);
    const report = await diagnosePaths(baseline.dir, triggered.dir);
    const text = renderDiagnoseText(report);
    // The verdict, the top suspects and the traces to open; the whole report goes to the files.
    o.log('Verdict');
    for (const line of report.verdict) o.log(`  ${line}`);
    o.log('\nSuspects');
    for (const s of report.suspects.slice(0, 3)) o.log(`  ${s.rank}. ${s.title}`);
    o.log('\nSlow traces to open in Tempo/Jaeger');
    for (const t of report.slowTraces.slice(0, 3)) o.log(`  ${t.traceId}  ${t.operation}  ${t.durationMs.toFixed(1)} ms`);
    const files = [`${o.reportBase}.txt`, `${o.reportBase}.json`, `${o.reportBase}.html`];
    writeFileSync(files[0]!, `${text}\n`);
    writeFileSync(files[1]!, `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(files[2]!, renderDiagnoseHtml(report));
    return { baseline: baseline.dir, triggered: triggered.dir, trigger: triggered.manifest.trigger, verdict: report.verdict, reportFiles: files };
  } finally {
    if (driver.exitCode === null && driver.signalCode === null) driver.kill('SIGTERM');
    await stack.stop();
  }
}
