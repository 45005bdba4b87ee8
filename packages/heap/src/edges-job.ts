// The main thread's side of the edges worker: shared columns sized from snapshot.edge_count (the
// header is checked first, so the count is bounded by the file size), where the worker found the
// array, its progress, and its result.
import { Worker } from 'node:worker_threads';
import type { Layout } from './layout.ts';
import { edgeColumns } from './numbers.ts';
import type { EdgeColumns } from './numbers.ts';

export interface EdgesWorkerData {
  path: string;
  size: number;
  /** File offset of the '[' of "nodes". */
  nodesStart: number;
  bufferBytes: number;
  layout: Layout;
  columns: EdgeColumns;
  /** [0]: bytes of the edges array parsed so far. */
  progress: Float64Array;
}

export type EdgesReply =
  | { kind: 'range'; start: number }
  | { kind: 'skipped' }
  | { kind: 'done'; ord: number; field: number; maxName: number; end: number }
  | { kind: 'error'; reason: string };

export type EdgesOutcome = Exclude<EdgesReply, { kind: 'range' }>;

export interface EdgesJob {
  readonly columns: EdgeColumns;
  /** Offset of the '[' of the "edges" array the worker parses; -1 when "edges" does not follow "nodes". */
  readonly start: Promise<number>;
  readonly outcome: Promise<EdgesOutcome>;
  /** Bytes of the edges array parsed so far. */
  progress(): number;
  cancel(): Promise<void>;
}

const workerFile = new URL(import.meta.url.endsWith('.ts') ? './edges-worker.ts' : './edges-worker.js', import.meta.url);

export function startEdgesJob(path: string, size: number, nodesStart: number, layout: Layout, names: boolean, bufferBytes: number): EdgesJob {
  const columns = edgeColumns(layout.edgeCount, names, true);
  const progress = new Float64Array(new SharedArrayBuffer(8));
  const data: EdgesWorkerData = { path, size, nodesStart, bufferBytes, layout, columns, progress };
  const worker = new Worker(workerFile, { workerData: data, execArgv: [] });
  let resolveStart!: (n: number) => void;
  let resolveOutcome!: (o: EdgesOutcome) => void;
  let rejectAll!: (err: Error) => void;
  const start = new Promise<number>((res, rej) => {
    resolveStart = res;
    rejectAll = rej;
  });
  const outcome = new Promise<EdgesOutcome>((res, rej) => {
    resolveOutcome = res;
    const prev = rejectAll;
    rejectAll = (err) => {
      prev(err);
      rej(err);
    };
  });
  // Whoever awaits one of the two sees the failure; the other must not be an unhandled rejection.
  start.catch(() => {});
  outcome.catch(() => {});
  worker.on('message', (m: EdgesReply) => {
    if (m.kind === 'range') resolveStart(m.start);
    else {
      resolveStart(-1);
      resolveOutcome(m);
    }
  });
  worker.on('error', (err) => rejectAll(err));
  worker.on('exit', (code) => rejectAll(new Error(`the edges worker exited (code ${code}) before it answered`)));
  return {
    columns,
    start,
    outcome,
    progress: () => progress[0]!,
    cancel: async () => {
      await worker.terminate();
    },
  };
}
