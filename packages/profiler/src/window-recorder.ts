// Records what the triggers saw, one JSON line per evaluation window, so a run (a leak, a quiet
// day, a CPU-starved host) can be replayed through the trigger engine later, deterministically:
// the detectors' tests and the `triggers` benchmark are built on such recordings. Off unless asked
// (evidence.recordTo or TAILTRACE_EVIDENCE_RECORD); bounded in size; never throws into the service.
import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import type { RuntimeWindowStats } from '@tailtrace/formats';
import type { EngineConfig, WindowReadings } from './evaluation.ts';

export const RECORDING_FORMAT = 'tailtrace-trigger-recording';

/** The first line of a recording. */
export interface RecordingHeader {
  format: typeof RECORDING_FORMAT;
  version: 1;
  service: string;
  startedAt: string;
  /** The engine configuration the live run used (a replay may use another). */
  config: EngineConfig;
}

/** Every later line: the engine's input, plus runtime context for a reader (not judged). */
export interface RecordedWindow extends Omit<WindowReadings, 'ops'> {
  ops: Array<{ kind: WindowReadings['ops'][number]['kind']; operation: string; count: number; p99: number }>;
  runtime?: {
    gcMajor: number;
    gcMinor: number;
    gcPauseMs: number;
    eventLoopP99Ms: number;
    utilization: number;
  };
  /** What the live engine decided (for comparison with a replay). */
  fired?: string[];
}

export interface WindowRecorder {
  write(w: WindowReadings, runtime: RuntimeWindowStats | undefined, fired: string[]): void;
  close(): Promise<void>;
}

/** A week of 5 s windows of a busy service is far below this; it only stops a runaway. */
const MAX_BYTES = 64 * 2 ** 20;

export function createWindowRecorder(path: string, header: Omit<RecordingHeader, 'format' | 'version' | 'startedAt'>, onError: (err: unknown) => void): WindowRecorder {
  let bytes = 0;
  let stream: WriteStream | undefined = createWriteStream(path, { flags: 'w', mode: 0o600 });
  stream.on('error', (err) => {
    onError(err);
    stream = undefined;
  });
  const line = (v: unknown): void => {
    if (stream === undefined) return;
    const text = `${JSON.stringify(v)}\n`;
    bytes += text.length;
    if (bytes > MAX_BYTES) return;
    stream.write(text);
  };
  line({ format: RECORDING_FORMAT, version: 1, startedAt: new Date().toISOString(), ...header } satisfies RecordingHeader);
  return {
    write(w, runtime, fired) {
      const rec: RecordedWindow = {
        startMs: w.startMs,
        endMs: w.endMs,
        selfPause: w.selfPause,
        ops: w.ops.map((o) => ({ kind: o.kind, operation: o.operation, count: o.count, p99: o.p99 })),
        majors: w.majors,
        heapUsedBytes: w.heapUsedBytes,
        heapLimitBytes: w.heapLimitBytes,
      };
      if (runtime) {
        rec.runtime = {
          gcMajor: runtime.gc.byKind.major.count,
          gcMinor: runtime.gc.byKind.minor.count,
          gcPauseMs: Math.round(runtime.gc.totalPauseMs * 100) / 100,
          eventLoopP99Ms: Math.round(runtime.eventLoop.p99Ms * 100) / 100,
          utilization: Math.round(runtime.eventLoop.utilization * 1000) / 1000,
        };
      }
      if (fired.length > 0) rec.fired = fired;
      line(rec);
    },
    close() {
      const s = stream;
      stream = undefined;
      return new Promise((resolve) => (s ? s.end(() => resolve()) : resolve()));
    },
  };
}

/** Parses a recording (JSON lines); throws with the line number on anything malformed. */
export function parseRecording(text: string): { header: RecordingHeader; windows: RecordedWindow[] } {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const parse = (l: string, i: number): unknown => {
    try {
      return JSON.parse(l);
    } catch (err) {
      throw new Error(`recording line ${i + 1}: ${(err as Error).message}`);
    }
  };
  const header = parse(lines[0] ?? '', 0) as RecordingHeader;
  if (header?.format !== RECORDING_FORMAT) throw new Error(`not a ${RECORDING_FORMAT} (line 1)`);
  return { header, windows: lines.slice(1).map((l, i) => parse(l, i + 1) as RecordedWindow) };
}
