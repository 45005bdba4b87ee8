// `npm run demo -- --scenario leak`: the services run with evidence capture on (short windows so
// the demo fits in a minute or two). Under steady load each service writes its scheduled baseline
// bundle on its own; then the gateway's GET /api/orders/:id starts leaking (examples/services/leak.ts)
// and its latency regresses. Nobody calls anything after that: the gateway's own triggers (P99
// regression or heap growth) write the evidence, and the demo only waits for that bundle to
// appear, then runs `tailtrace diagnose` on the baseline and the triggered bundle.
import { writeFileSync } from 'node:fs';
import { diagnosePaths, relativePaths, renderDiagnoseHtml, renderDiagnoseText } from '@tailtrace/cli';
import type { EvidenceManifest } from '@tailtrace/profiler';
import { runScenario } from './scenario-run.ts';

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

export async function runLeakScenario(o: LeakScenarioOptions): Promise<LeakScenarioResult> {
  const run = await runScenario({
    scenario: 'leak',
    rate: o.rate,
    windowMs: o.windowMs,
    evidenceDir: o.evidenceDir,
    durationS: o.timeoutS,
    gatewaySnapshots: true,
    log: (line) => o.log(line.replace(/^leak on \(gateway\)$/, 'leak on: GET /api/orders/:id now keeps every OrderSession and sorts them all per request')),
  });
  const baseline = run.baselines.gateway!;
  o.log(`  baseline: ${baseline.dir} (snapshot ${baseline.manifest.snapshot.status})`);
  if (run.detection === null) throw new Error(`no trigger within ${o.timeoutS} s of the leak`);
  const triggered = run.detection.bundle;
  o.log(`  ${run.detection.afterS.toFixed(1)} s after the leak started: ${triggered.manifest.trigger.kind}: ${triggered.manifest.trigger.reason}`);
  o.log(`  bundle complete ${run.detection.evidenceAfterS.toFixed(1)} s after the leak started: ${triggered.dir} (snapshot ${triggered.manifest.snapshot.status}${triggered.manifest.snapshot.reason ? `: ${triggered.manifest.snapshot.reason}` : ''})`);
  const early = run.falseTriggers;
  if (early.length > 0) o.log(`  before the leak: ${early.map((b) => `${b.service}: ${b.manifest.trigger.reason}${b.blip ? ' (a blip)' : ''}`).join('; ')}`);
  for (const s of ['orders', 'inventory'] as const) {
    const other = run.triggers.filter((b) => b.service === s && run.switchedAtMs !== null && b.manifest.window.endMs >= run.switchedAtMs);
    o.log(`  ${s}: ${other.length === 0 ? 'no trigger' : other.map((b) => b.manifest.trigger.reason).join('; ')}`);
  }

  o.log(`\n$ tailtrace diagnose ${baseline.dir} ${triggered.dir}\n`);
  const report = await diagnosePaths(baseline.dir, triggered.dir);
  const text = renderDiagnoseText(report);
  // The verdict, the top suspects and the traces to open; the whole report goes to the files.
  const rel = relativePaths(report); // the service's files relative to its root, as the text report shows them
  o.log('Verdict');
  for (const line of report.verdict) o.log(`  ${rel(line)}`);
  o.log('\nSuspects');
  for (const s of report.suspects.slice(0, 3)) o.log(`  ${s.rank}. ${rel(s.title)}`);
  o.log('\nSlow traces to open in Tempo/Jaeger');
  for (const t of report.slowTraces.slice(0, 3)) o.log(`  ${t.traceId}  ${t.operation}  ${t.durationMs.toFixed(1)} ms`);
  const files = [`${o.reportBase}.txt`, `${o.reportBase}.json`, `${o.reportBase}.html`];
  writeFileSync(files[0]!, `${text}\n`);
  writeFileSync(files[1]!, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(files[2]!, renderDiagnoseHtml(report));
  return { baseline: baseline.dir, triggered: triggered.dir, trigger: triggered.manifest.trigger, verdict: report.verdict, reportFiles: files };
}
