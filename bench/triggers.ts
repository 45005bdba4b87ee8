// `npm run bench -- triggers`: how well the evidence triggers do their job on live runs of the
// demo (three services under steady load, 5 s windows): the leak caught, how fast, also with a
// competing CPU load, and how often they fire when nothing is wrong.
//
//   --runs K           runs of each fault scenario, quiet and with the CPU hog (default 10)
//   --plain-runs K     fault-free runs (default 10), each --plain-minutes long (default 5)
//   --scenarios LIST   of leak, slow-dependency, gc-heavy, plain (default leak,plain)
//   --hog N            busy processes competing for the CPU in the "hog" rounds (default 4; 0: none)
//   --hog-scenarios L  which scenarios also run under the hog (default leak)
//   --timeout S        give up on a fault this long after it starts (default 120)
//   --rate R           HTTP requests per second at the gateway (default 200)
//   --record DIR       keep each run's trigger recordings (JSON lines per service) under DIR
//   --json             print the results as JSON
//
// Every figure comes from this run: detection rate, median and worst time from the fault to the
// bundle that caught it, false triggers (count, and per hour of fault-free running).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runScenario } from '../examples/scenario-run.ts';
import type { ScenarioKind, ScenarioRunResult } from '../examples/scenario-run.ts';

interface RunRow {
  scenario: ScenarioKind;
  load: 'quiet' | 'hog';
  detected: boolean | null;
  afterS: number | null;
  /** From the fault to the bundle being complete (the snapshot's pause included). */
  evidenceAfterS: number | null;
  caughtBy: string | null;
  falseTriggers: string[];
  blips: number;
  quietS: number;
  loadAvg: number;
  error?: string;
}

interface SummaryRow {
  scenario: ScenarioKind;
  load: 'quiet' | 'hog';
  runs: number;
  detected: number | null;
  medianDetectS: number | null;
  maxDetectS: number | null;
  medianEvidenceS: number | null;
  falseTriggers: number;
  falsePerHour: number;
  quietHours: number;
}

const median = (xs: number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** N busy loops at normal priority, each ending itself after maxS (and ended by PID when done). */
function startHog(n: number, maxS: number): ChildProcess[] {
  const code = `const end = Date.now() + ${Math.round(maxS * 1000)}; let x = 0; while (Date.now() < end) { x = (x * 31 + 7) % 1000003; }`;
  return Array.from({ length: n }, () => spawn(process.execPath, ['-e', code], { stdio: 'ignore', env: { ...process.env, NODE_OPTIONS: '' } }));
}

function stopHog(hog: ChildProcess[]): void {
  for (const p of hog) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}

async function oneRun(scenario: ScenarioKind, load: 'quiet' | 'hog', o: { hog: number; timeoutS: number; plainS: number; rate: number; record?: string; index: number }): Promise<RunRow> {
  const dir = mkdtempSync(join(tmpdir(), `tailtrace-triggers-${scenario}-`));
  const fault = scenario === 'leak' || scenario === 'slow-dependency';
  const durationS = fault ? o.timeoutS : o.plainS;
  const hog = load === 'hog' ? startHog(o.hog, durationS + 300) : [];
  const loads: number[] = [];
  const sampler = setInterval(() => loads.push(loadavg()[0]!), 5000);
  try {
    const r: ScenarioRunResult = await runScenario({
      scenario, rate: o.rate, windowMs: 5000, durationS,
      evidenceDir: join(dir, 'evidence'),
      ...(o.record ? { recordDir: join(o.record, `${scenario}-${load}-${o.index}`) } : {}),
      // As in the leak demo: the gateway takes snapshots (the pauses are part of what is measured).
      gatewaySnapshots: true,
    });
    return {
      scenario, load,
      detected: fault ? r.detection !== null : null,
      afterS: r.detection?.afterS ?? null,
      evidenceAfterS: r.detection?.evidenceAfterS ?? null,
      caughtBy: r.detection ? `${r.detection.bundle.service} ${r.detection.bundle.manifest.trigger.kind}` : null,
      falseTriggers: r.falseTriggers.map((b) => `${b.service}: ${b.manifest.trigger.reason}${b.blip ? ' [blip]' : ''}`),
      blips: r.triggers.filter((b) => b.blip).length,
      quietS: r.quietS,
      loadAvg: median(loads) ?? loadavg()[0]!,
    };
  } catch (err) {
    return { scenario, load, detected: fault ? false : null, afterS: null, evidenceAfterS: null, caughtBy: null, falseTriggers: [], blips: 0, quietS: 0, loadAvg: loadavg()[0]!, error: (err as Error).message };
  } finally {
    clearInterval(sampler);
    stopHog(hog);
    rmSync(dir, { recursive: true, force: true });
  }
}

function summarize(rows: RunRow[]): SummaryRow[] {
  const out: SummaryRow[] = [];
  for (const key of new Set(rows.map((r) => `${r.scenario}|${r.load}`))) {
    const rs = rows.filter((r) => `${r.scenario}|${r.load}` === key);
    const fault = rs[0]!.detected !== null;
    const times = rs.flatMap((r) => (r.afterS !== null ? [r.afterS] : []));
    const quietHours = rs.reduce((a, r) => a + r.quietS, 0) / 3600;
    const falseTriggers = rs.reduce((a, r) => a + r.falseTriggers.length, 0);
    out.push({
      scenario: rs[0]!.scenario, load: rs[0]!.load, runs: rs.length,
      detected: fault ? rs.filter((r) => r.detected).length : null,
      medianDetectS: median(times), maxDetectS: times.length ? Math.max(...times) : null,
      medianEvidenceS: median(rs.flatMap((r) => (r.evidenceAfterS !== null ? [r.evidenceAfterS] : []))),
      falseTriggers, falsePerHour: quietHours > 0 ? falseTriggers / quietHours : 0, quietHours,
    });
  }
  return out;
}

function table(rows: SummaryRow[], machine: string): string {
  const f = (v: number | null, d = 1) => (v === null ? '-' : v.toFixed(d));
  const lines = [
    `triggers benchmark (${machine})`,
    '',
    '| scenario | load | runs | detected | time to detect, median / max (s) | bundle complete, median (s) | false triggers | per hour of quiet running |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    lines.push(`| ${r.scenario} | ${r.load} | ${r.runs} | ${r.detected === null ? '-' : `${r.detected}/${r.runs}`} | ${f(r.medianDetectS)} / ${f(r.maxDetectS)} | ${f(r.medianEvidenceS)} | ${r.falseTriggers} | ${f(r.falsePerHour, 2)} (${(r.quietHours * 60).toFixed(0)} min) |`);
  }
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: '10' },
      'plain-runs': { type: 'string', default: '10' },
      'plain-minutes': { type: 'string', default: '5' },
      scenarios: { type: 'string', default: 'leak,plain' },
      hog: { type: 'string', default: '4' },
      'hog-scenarios': { type: 'string', default: 'leak' },
      timeout: { type: 'string', default: '120' },
      rate: { type: 'string', default: '200' },
      record: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const known: ScenarioKind[] = ['leak', 'slow-dependency', 'gc-heavy', 'plain'];
  const scenarios = values.scenarios.split(',').map((s) => s.trim()) as ScenarioKind[];
  for (const s of scenarios) {
    if (!known.includes(s)) {
      process.stderr.write(`triggers: unknown scenario '${s}' (known: ${known.join(', ')})\n`);
      return 2;
    }
  }
  const hogScenarios = new Set(values['hog-scenarios'].split(',').map((s) => s.trim()));
  const o = {
    hog: Number(values.hog), timeoutS: Number(values.timeout), plainS: Number(values['plain-minutes']) * 60,
    rate: Number(values.rate), index: 0, ...(values.record ? { record: values.record } : {}),
  };
  // Every quiet run first: a load average (and the page cache, the CPU's clocks) still carries a
  // hog run for a minute after it ends.
  const plan: Array<[ScenarioKind, 'quiet' | 'hog']> = [];
  const runsOf = (s: ScenarioKind) => (s === 'plain' || s === 'gc-heavy' ? Number(values['plain-runs']) : Number(values.runs));
  for (const s of scenarios) for (let i = 0; i < runsOf(s); i++) plan.push([s, 'quiet']);
  if (o.hog > 0) for (const s of scenarios) if (hogScenarios.has(s)) for (let i = 0; i < runsOf(s); i++) plan.push([s, 'hog']);
  const rows: RunRow[] = [];
  for (const [i, [scenario, load]] of plan.entries()) {
    const row = await oneRun(scenario, load, { ...o, index: i });
    rows.push(row);
    const what = row.detected === null ? '' : row.detected ? `caught in ${row.afterS!.toFixed(1)} s (bundle complete at ${row.evidenceAfterS!.toFixed(1)} s) by ${row.caughtBy}` : `NOT caught${row.error ? ` (${row.error})` : ''}`;
    process.stderr.write(`[triggers] ${i + 1}/${plan.length} ${scenario} ${load} (load avg ${row.loadAvg.toFixed(1)}): ${what} false triggers ${row.falseTriggers.length}${row.falseTriggers.length ? `: ${row.falseTriggers.join(' | ')}` : ''}\n`);
  }
  const summary = summarize(rows);
  const machine = `${cpus().length} cores, ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}; hog = ${o.hog} busy processes`;
  if (values.json) process.stdout.write(`${JSON.stringify({ machine, summary, runs: rows }, null, 2)}\n`);
  else process.stdout.write(`${table(summary, machine)}\n`);
  return 0;
}
