// One run of a demo scenario with evidence capture on: the three services under steady load, each
// writing its scheduled baseline bundle on its own; then (unless the scenario is plain) a fault is
// switched on and the run waits for the services' own triggers to catch it. Used by the leak demo
// and by the triggers benchmark (`npm run bench -- triggers`), which runs it many times, with and
// without a competing CPU load, to measure the detectors.
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EvidenceManifest, OutcomeFile } from '@tailtrace/profiler';
import { startStack } from './stack.ts';
import type { ServiceName, Stack } from './stack.ts';
import type { DriverConfig } from './load/main.ts';

export type ScenarioKind = 'plain' | 'gc-heavy' | 'leak' | 'slow-dependency';
const SERVICES: readonly ServiceName[] = ['gateway', 'orders', 'inventory'];

/** Where each scenario's fault is played, and which triggers count as catching it. */
const FAULTS: Record<ScenarioKind, { at?: ServiceName; startEnv?: string; catches?: (b: FoundBundle) => boolean }> = {
  plain: {},
  // On from the start: the ring fills during warm-up; its churn must never look like a leak.
  'gc-heavy': { startEnv: 'gc-heavy' },
  leak: { at: 'gateway', catches: (b) => b.service === 'gateway' && (b.manifest.trigger.kind === 'p99_regression' || b.manifest.trigger.kind === 'heap_growth') },
  'slow-dependency': { at: 'inventory', catches: (b) => b.manifest.trigger.kind === 'p99_regression' },
};

export interface ScenarioRunOptions {
  scenario: ScenarioKind;
  /** HTTP requests per second at the gateway (gRPC at orders: a quarter of it). */
  rate: number;
  /** The services' evaluation window (HDR window = trigger window). */
  windowMs: number;
  /** One sub-directory per service. */
  evidenceDir: string;
  /** Record what each service's triggers saw (JSON lines per service) into this directory. */
  recordDir?: string;
  /** Plain and gc-heavy: how long the whole run lasts. Others: give up this long after the switch. */
  durationS: number;
  /** The gateway takes snapshots on triggers and baselines (the leak demo diffs them). */
  gatewaySnapshots?: boolean;
  /** Stop as soon as the fault is caught (else run the full duration). */
  stopOnDetection?: boolean;
  log?: (line: string) => void;
}

export interface FoundBundle {
  service: ServiceName;
  dir: string;
  manifest: EvidenceManifest;
  /** The service later judged the trigger a blip (outcome.json). */
  blip: boolean;
}

export interface ScenarioRunResult {
  scenario: ScenarioKind;
  startedAtMs: number;
  /** When every service had written its first baseline bundle. */
  baselinesAtMs: number;
  /** When the fault was switched on (plain / gc-heavy: never). */
  switchedAtMs: number | null;
  /**
   * The first trigger that caught the fault: seconds from the switch to the end of the window that
   * fired it (the detector's decision), and to the bundle being complete (a snapshot can take seconds).
   */
  detection: { bundle: FoundBundle; afterS: number; evidenceAfterS: number } | null;
  /** Every trigger bundle (not baselines) of every service, oldest first. */
  triggers: FoundBundle[];
  /** Triggers while nothing was wrong: before the switch, or at any time in a plain / gc-heavy run. */
  falseTriggers: FoundBundle[];
  /** Seconds of fault-free running that false triggers are counted over (from the first baseline). */
  quietS: number;
  /** The first baseline bundle of each service. */
  baselines: Partial<Record<ServiceName, FoundBundle>>;
}

/** Complete bundles of one service, oldest first (partial ones are dot-prefixed until renamed). */
export function bundles(evidenceDir: string, service: ServiceName): FoundBundle[] {
  const dir = join(evidenceDir, service);
  if (!existsSync(dir)) return [];
  const out: FoundBundle[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const manifest = join(dir, name, 'manifest.json');
    if (!existsSync(manifest)) continue;
    try {
      const m = JSON.parse(readFileSync(manifest, 'utf8')) as EvidenceManifest;
      const outcome = join(dir, name, m.files.outcome ?? 'outcome.json');
      const blip = existsSync(outcome) && (JSON.parse(readFileSync(outcome, 'utf8')) as OutcomeFile).triggers.some((t) => t.outcome === 'blip');
      out.push({ service, dir: join(dir, name), manifest: m, blip });
    } catch {
      // Being written right now: the next poll sees it whole.
    }
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, timeoutS: number, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutS} s`);
    await sleep(250);
  }
}

function startDriver(stack: Stack, rate: number, durationS: number) {
  const cfg: DriverConfig = { gatewayUrl: stack.gatewayUrl, ordersAddr: stack.ordersAddr, rate, grpcRate: Math.max(1, Math.round(rate / 4)), durationS, warmupS: 0 };
  // The driver is our child and is ended by its PID.
  return fork(fileURLToPath(new URL('./load/main.ts', import.meta.url)), [JSON.stringify(cfg)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
}

const detected = (b: FoundBundle, switchedAtMs: number) => ({
  bundle: b,
  afterS: (b.manifest.window.endMs - switchedAtMs) / 1000,
  evidenceAfterS: (Date.parse(b.manifest.createdAt) - switchedAtMs) / 1000,
});

const triggersOf = (dir: string): FoundBundle[] =>
  SERVICES.flatMap((s) => bundles(dir, s)).filter((b) => b.manifest.trigger.kind !== 'baseline')
    .sort((a, b) => Date.parse(a.manifest.createdAt) - Date.parse(b.manifest.createdAt));

export async function runScenario(o: ScenarioRunOptions): Promise<ScenarioRunResult> {
  const log = o.log ?? (() => {});
  const fault = FAULTS[o.scenario];
  mkdirSync(o.evidenceDir, { recursive: true });
  if (o.recordDir) mkdirSync(o.recordDir, { recursive: true });
  const serviceEnv = (s: ServiceName): Record<string, string> => ({
    TAILTRACE_EVIDENCE_DIR: join(o.evidenceDir, s),
    ...(s === 'gateway' && o.gatewaySnapshots ? { TAILTRACE_DEMO_SNAPSHOTS: 'triggers' } : {}),
    ...(fault.startEnv ? { TAILTRACE_DEMO_SCENARIO: fault.startEnv } : {}),
  });
  const startedAtMs = Date.now();
  const stack = await startStack({
    quiet: true,
    env: { TAILTRACE_DEMO_EVIDENCE_WINDOW_MS: String(o.windowMs), ...(o.recordDir ? { TAILTRACE_DEMO_RECORD_DIR: o.recordDir } : {}) },
    serviceEnv: { gateway: serviceEnv('gateway'), orders: serviceEnv('orders'), inventory: serviceEnv('inventory') },
  });
  const baselineBudgetS = 60 + (o.windowMs / 1000) * 10;
  const driver = startDriver(stack, o.rate, baselineBudgetS + o.durationS + 30);
  try {
    log(`load: ${o.rate} req/s over HTTP to gateway, ${Math.max(1, Math.round(o.rate / 4))} req/s over gRPC to orders; evidence in ${o.evidenceDir}`);
    log(`waiting for every service's scheduled baseline bundle (${(o.windowMs / 1000).toFixed(0)} s windows) ...`);
    const baselines: Partial<Record<ServiceName, FoundBundle>> = {};
    await waitFor('baseline bundles', baselineBudgetS, () => {
      for (const s of SERVICES) baselines[s] ??= bundles(o.evidenceDir, s).find((b) => b.manifest.trigger.kind === 'baseline');
      return SERVICES.every((s) => baselines[s]) ? true : undefined;
    });
    const baselinesAtMs = Date.now();
    const firstBaselineMs = Math.min(...SERVICES.map((s) => Date.parse(baselines[s]!.manifest.createdAt)));
    let switchedAtMs: number | null = null;
    let detection: ScenarioRunResult['detection'] = null;
    if (fault.at === undefined) {
      await sleep(Math.max(0, startedAtMs + o.durationS * 1000 - Date.now()));
    } else {
      const svc = stack[fault.at];
      svc.child.send({ type: 'scenario', name: o.scenario });
      switchedAtMs = Date.now();
      log(`${o.scenario} on (${fault.at})`);
      const caught = (): FoundBundle | undefined =>
        triggersOf(o.evidenceDir).find((b) => b.manifest.window.endMs >= switchedAtMs! && fault.catches!(b));
      try {
        detection = detected(await waitFor('trigger', o.durationS, () => (o.stopOnDetection === false ? undefined : caught())), switchedAtMs);
      } catch {
        const b = caught();
        if (b) detection = detected(b, switchedAtMs);
      }
    }
    // Outcomes (blips) are written a window after a trigger: give the last one a chance.
    await sleep(o.windowMs + 500);
    // Beside the recordings: what happened when, for a replay to judge its verdicts against.
    if (o.recordDir) {
      writeFileSync(join(o.recordDir, 'scenario.json'), `${JSON.stringify({
        scenario: o.scenario, faultAt: fault.at ?? null, switchedAtMs, windowMs: o.windowMs, rate: o.rate,
        detection: detection ? { service: detection.bundle.service, kind: detection.bundle.manifest.trigger.kind, afterS: detection.afterS, evidenceAfterS: detection.evidenceAfterS } : null,
      }, null, 2)}\n`);
    }
    const triggers = triggersOf(o.evidenceDir);
    const quietEnd = switchedAtMs ?? Date.now();
    const falseTriggers = triggers.filter((b) => b.manifest.window.endMs < quietEnd);
    return {
      scenario: o.scenario, startedAtMs, baselinesAtMs, switchedAtMs, detection, triggers, falseTriggers,
      quietS: Math.max(0, (quietEnd - firstBaselineMs) / 1000), baselines,
    };
  } finally {
    if (driver.exitCode === null && driver.signalCode === null) driver.kill('SIGTERM');
    await stack.stop();
  }
}
