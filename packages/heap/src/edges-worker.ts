// The edges array on the second core: started when the main thread reaches "nodes", this worker
// finds the "edges" array after it (the nodes array holds no ']', so one memchr skips it) and
// parses it into the shared columns while the main thread parses nodes and strings.
import { closeSync, openSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { edgeScan, readNumbers, scanEdges } from './numbers.ts';
import { Source, readKey } from './source.ts';
import type { EdgesReply, EdgesWorkerData } from './edges-job.ts';

class Refusal extends Error {}

/** Offset of the '[' of an "edges" array right after the "nodes" array, or -1. */
function findEdges(src: Source): number {
  if (src.find(0x5d) < 0) return -1;
  src.pos++;
  if (src.token() !== 0x2c || src.token() !== 0x22 || readKey(src) !== 'edges' || src.token() !== 0x3a || src.token() !== 0x5b) return -1;
  return src.offset - 1;
}

function run(d: EdgesWorkerData): EdgesReply {
  const fd = openSync(d.path, 'r');
  try {
    const src = new Source(fd, d.size, d.bufferBytes, d.nodesStart + 1);
    const start = findEdges(src);
    parentPort!.postMessage({ kind: 'range', start } satisfies EdgesReply);
    if (start < 0) return { kind: 'skipped' };
    const st = edgeScan(d.layout, d.columns);
    const fail = (why: string): never => {
      throw new Refusal(why);
    };
    readNumbers(src, 'edges', scanEdges, st, fail, () => (d.progress[0] = src.offset - start));
    return { kind: 'done', ord: st.ord, field: st.field, maxName: st.maxName, end: src.offset };
  } catch (err) {
    if (err instanceof Refusal) return { kind: 'error', reason: err.message };
    throw err;
  } finally {
    closeSync(fd);
  }
}

parentPort!.postMessage(run(workerData as EdgesWorkerData));
