// Cross-check of @tailtrace/heap against memlab on the same snapshot.
//  - With memlab's ownership rule (`ownership: 'memlab'`) every node's retained size and
//    immediate dominator must equal memlab's exactly, and so must the top classes.
//  - With the default DevTools rule, classes of application objects (Session here) agree within
//    1%; nodes on the path from the global object differ by design: DevTools (and we) ignore
//    edges from non-page-owned nodes (e.g. internal roots) into objects reachable from the global,
//    so `global` retains most of the heap, while memlab treats nearly everything as page-owned.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { rmSync } from 'node:fs';
import { after, test } from 'node:test';
import { analyze, classify, computeDominators, readHeapSnapshot } from '@tailtrace/heap';
import { sessionsSnapshot, tmp } from '../packages/heap/test/fixtures.ts';

interface MemlabNode {
  nodeIndex: number;
  retainedSize: number;
  dominatorNode: MemlabNode | null;
}
interface MemlabHeap {
  nodes: { forEach(cb: (n: MemlabNode) => void): void };
}

const require = createRequire(import.meta.url);
const fromMemlab = createRequire(require.resolve('memlab'));
const { getFullHeapFromFile } = fromMemlab('@memlab/heap-analysis') as { getFullHeapFromFile(f: string): Promise<MemlabHeap> };

after(() => rmSync(tmp, { recursive: true, force: true }));

test('retained sizes, dominators and top classes agree with memlab', { timeout: 300_000 }, async () => {
  const file = sessionsSnapshot('memlab-check', 150);
  const silence = process.stdout.write.bind(process.stdout);
  process.stdout.write = (() => true) as typeof process.stdout.write; // memlab's progress lines
  let heap: MemlabHeap;
  try {
    heap = await getFullHeapFromFile(file);
  } finally {
    process.stdout.write = silence;
  }
  const s = await readHeapSnapshot(file, { edgeNames: false });
  const tree = computeDominators(s, { ownership: 'memlab' });
  let retainedMismatch = 0;
  let domMismatch = 0;
  const memRetained = new Float64Array(s.nodeCount);
  const memDom = new Int32Array(s.nodeCount).fill(-1);
  heap.nodes.forEach((n) => {
    memRetained[n.nodeIndex] = n.retainedSize;
    if (n.dominatorNode) memDom[n.nodeIndex] = n.dominatorNode.nodeIndex;
    if (n.retainedSize !== tree.retained[n.nodeIndex]) retainedMismatch++;
    if (n.dominatorNode && n.dominatorNode.nodeIndex !== tree.dominator[n.nodeIndex]) domMismatch++;
  });
  assert.equal(retainedMismatch, 0, 'per-node retained sizes equal memlab');
  assert.equal(domMismatch, 0, 'immediate dominators equal memlab');

  // class table from memlab's numbers (instances not dominated by an instance of the same class)
  const cls = classify(s, 'key');
  const memClass = new Float64Array(cls.classes.length);
  const native = s.nodeTypes.indexOf('native');
  for (let o = 0; o < s.nodeCount; o++) {
    if (!(s.selfSize[o]! > 0 || s.nodeType[o] === native)) continue;
    const c = cls.classOf[o]!;
    let d = memDom[o]!;
    let nested = false;
    while (d >= 0 && d !== s.rootOrdinal && d !== o) {
      if (cls.classOf[d] === c && (s.selfSize[d]! > 0 || s.nodeType[d] === native)) { nested = true; break; }
      const next = memDom[d]!;
      if (next === d) break;
      d = next;
    }
    if (!nested) memClass[c] = memClass[c]! + memRetained[o]!;
  }
  const ours = analyze(s, { ownership: 'memlab', tree });
  const byKey = new Map(cls.classes.map((c, i) => [c.key, i]));
  for (const c of ours.classes.slice(0, 15)) {
    assert.equal(c.retained, memClass[byKey.get(c.key)!], `class ${c.key}`);
  }
  const session = ours.classes.find((c) => c.name === 'Session')!;
  assert.equal(session.count, 150);

  // default (DevTools) rules: application classes within 1%
  const dev = analyze(s);
  const devSession = dev.classes.find((c) => c.name === 'Session')!;
  assert.ok(Math.abs(devSession.retained - session.retained) <= 0.01 * session.retained, `Session ${devSession.retained} vs memlab ${session.retained}`);
  const devMap = dev.topRetainers.find((r) => r.name === 'Map')!;
  const memMap = ours.topRetainers.find((r) => r.name === 'Map')!;
  assert.ok(Math.abs(devMap.retained - memMap.retained) <= 0.01 * memMap.retained, 'the cache Map');
});
