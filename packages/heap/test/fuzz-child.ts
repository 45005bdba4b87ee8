// One fuzz worker: `node fuzz-child.ts SEED_FILE FIRST COUNT DEADLINE_MS DIR`. Reads mutations
// FIRST.. of SEED_FILE through the engine (parse on one thread and, for some, with the edges
// worker; analyze; retainer paths; redact and re-read) and prints one JSON line per case before
// and after it, so the parent knows which seed hung if one ever does.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HeapSnapshotError, analyze, readHeapSnapshot, redactSnapshot, retainerPaths, shortestPathTree } from '@tailtrace/heap';
import type { HeapSnapshot, HeapSummary } from '@tailtrace/heap';
import { mutate } from './mutate.ts';

const [seedFile, firstArg, countArg, deadlineArg, dir] = process.argv.slice(2) as [string, string, string, string, string];
const input = readFileSync(seedFile);
const deadline = Number(deadlineArg);

/** What every snapshot the reader accepts must satisfy; a reader that accepts less is wrong, not lenient. */
function invariants(s: HeapSnapshot, sum: HeapSummary): string | null {
  if (!(s.rootOrdinal < s.nodeCount)) return `root ${s.rootOrdinal} of ${s.nodeCount} nodes`;
  if (s.firstEdge[s.nodeCount] !== s.edgeCount) return 'firstEdge does not end at edgeCount';
  for (let o = 0; o < s.nodeCount; o++) {
    if (s.firstEdge[o]! > s.firstEdge[o + 1]!) return `firstEdge decreases at node ${o}`;
    if (s.nodeType[o]! >= s.nodeTypes.length) return `node ${o} type ${s.nodeType[o]}`;
  }
  for (let e = 0; e < s.edgeCount; e++) if (s.edgeTo[e]! >= s.nodeCount || s.edgeType[e]! >= s.edgeTypes.length) return `edge ${e}`;
  for (let k = 0; k < s.locations.length; k += 4) if (s.locations[k]! >= s.nodeCount) return `location ${k / 4}`;
  if (sum.totals.reachableSize !== sum.totals.selfSize) return `the root retains ${sum.totals.reachableSize} of ${sum.totals.selfSize} bytes`;
  return null;
}

async function engine(file: string, seed: number): Promise<string> {
  const s = await readHeapSnapshot(file, { parallel: seed % 16 === 0 });
  const sum = analyze(s, { topRetainers: 5 });
  const wrong = invariants(s, sum);
  if (wrong) throw new Error(`accepted a snapshot it should refuse: ${wrong}`);
  shortestPathTree(s);
  const named = sum.classes.find((c) => c.location) ?? sum.classes[0];
  if (named) retainerPaths(s, { className: named.key }, 2);
  if (seed % 8 === 0) {
    const out = join(dir, `redacted-${seed}.heapsnapshot`);
    await redactSnapshot(file, out);
    analyze(await readHeapSnapshot(out));
  }
  return `ok ${s.nodeCount} nodes`;
}

for (let seed = Number(firstArg), end = seed + Number(countArg); seed < end && Date.now() < deadline; seed++) {
  const file = join(dir, `case-${seed % 4}.heapsnapshot`);
  writeFileSync(file, mutate(input, seed));
  process.stdout.write(`${JSON.stringify({ seed, start: true })}\n`);
  const t0 = performance.now();
  let outcome: string;
  let message = '';
  try {
    outcome = await engine(file, seed);
  } catch (err) {
    const oneLine = err instanceof HeapSnapshotError && !/\n/.test(err.message);
    outcome = oneLine ? 'refused' : 'FAIL';
    message = oneLine ? err.message : String((err as Error)?.stack ?? err);
  }
  process.stdout.write(`${JSON.stringify({ seed, ms: Math.round(performance.now() - t0), outcome, message })}\n`);
}
