// Bundles asked for between evaluations: capture() called by the service, the opt-in signal, and
// the evidence endpoint (evidence-route.ts). They describe the windowMs up to now, read live: the
// evaluation loop's last cut can be up to a window old.
import type { EvidenceTriggerKind, RuntimeWindowStats, TimeWindow } from '@tailtrace/formats';
import type { TriggerEngine } from './evaluation.ts';
import type { CaptureResult, EvidenceWriter, OpEvidence, SnapshotPolicy, WindowData } from './evidence-writer.ts';
import type { LatencySource, TriggerKind } from './profiler.ts';
import type { RuntimeMonitor } from './runtime-monitor.ts';
import { policyWants } from './snapshot-policy.ts';

export interface CaptureOptions {
  reason?: string;
  /** Overrides the policy's choice (never the guard, never policy 'never'). */
  snapshot?: boolean;
}

export type Capture = (kind: EvidenceTriggerKind, opts?: CaptureOptions) => Promise<CaptureResult>;

/** Where the live windows are read from. */
export interface LiveSources {
  latency: LatencySource | undefined;
  engine: Pick<TriggerEngine, 'baseline'>;
  monitor: Pick<RuntimeMonitor, 'peek'>;
  /** The evaluation loop's runtime baseline (a copy). */
  runtimeBaseline: () => RuntimeWindowStats[];
}

export interface CaptureConfig {
  windowMs: number;
  snapshots: SnapshotPolicy;
  signal: NodeJS.Signals | false;
  now: () => number;
}

export interface CaptureDeps extends LiveSources {
  writer: Pick<EvidenceWriter, 'write'>;
  /** Keeps a promise in the set stop() waits for. */
  track: <T>(p: Promise<T>) => Promise<T>;
  fail: (where: string, err: unknown) => void;
  /** Must not throw (the caller guards the user's callback). */
  onTrigger: (kind: TriggerKind) => void;
}

export function createCapture(cfg: CaptureConfig, deps: CaptureDeps): Capture {
  return (kind, opts = {}) => {
    if (kind !== 'baseline') deps.onTrigger(kind);
    const reason = opts.reason ?? captureReason(kind, cfg.signal);
    let data: WindowData;
    try {
      const now = cfg.now();
      data = liveData(deps, { startMs: now - cfg.windowMs, endMs: now });
    } catch (err) {
      deps.fail('evidence data', err);
      return Promise.resolve({ status: 'failed', reason: (err as Error).message });
    }
    return deps.track(deps.writer.write({ kind, reason }, data, opts.snapshot ?? policyWants(cfg.snapshots, kind)));
  };
}

/** The reason a capture gives when its caller gives none. */
export function captureReason(kind: EvidenceTriggerKind, signal: NodeJS.Signals | false): string {
  if (kind === 'signal') return `signal ${signal || ''}`.trim();
  if (kind === 'endpoint') return 'POST /debug/tailtrace/evidence';
  return `manual capture (${kind})`;
}

/** The current windows read live, for a capture between evaluations. */
export function liveData(src: LiveSources, window: TimeWindow): WindowData {
  const latency = src.latency;
  const ops: OpEvidence[] = [];
  for (const ref of latency?.operations() ?? []) {
    const r = latency!.read(ref.kind, ref.operation);
    if (r === undefined || r.count === 0) continue;
    const encoded = latency!.encode(ref.kind, ref.operation);
    ops.push({ ref: { kind: ref.kind, operation: ref.operation }, window: { ...window, encoded, count: r.count }, baseline: src.engine.baseline(ref.kind, ref.operation) });
  }
  return { window, ops, runtime: src.monitor.peek(), runtimeBaseline: src.runtimeBaseline() };
}

/**
 * Captures a bundle with a snapshot (subject to the guard) on each `signal`; returns what removes
 * the listener. A signal that cannot be listened to is reported, not thrown.
 */
export function captureOnSignal(signal: NodeJS.Signals | false, capture: Capture, fail: (where: string, err: unknown) => void): () => void {
  if (!signal) return () => {};
  const onSignal = (): void => {
    void capture('signal', { snapshot: true });
  };
  try {
    process.on(signal, onSignal);
  } catch (err) {
    fail(`signal ${signal}`, err);
    return () => {};
  }
  return () => {
    process.off(signal, onSignal);
  };
}
