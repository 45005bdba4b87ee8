import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { rmSync } from 'node:fs';
import {
  HeapSnapshotError,
  analyze,
  computeDominators,
  decodeJsonString,
  diffSummaries,
  findLeaks,
  readHeapSnapshot,
  redactSnapshot,
  retainerPaths,
} from '@tailtrace/heap';
import type { HeapSummary } from '@tailtrace/heap';
import { PAYLOAD, closureLeakSnapshot, closureLeakSnapshots, leakSnapshots, sessionsSnapshot, tmp } from './fixtures.ts';

let small: string;
let big: string;
let smallSummary: HeapSummary;

before(() => {
  small = sessionsSnapshot('sessions-100', 100);
  big = sessionsSnapshot('sessions-300', 300);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const session = (s: HeapSummary) => {
  const c = s.classes.find((x) => x.name === 'Session');
  assert.ok(c, 'Session class present');
  return c;
};

describe('parser', () => {
  test('decodes JSON escapes including surrogate pairs and lone surrogates', () => {
    const raw = Buffer.from('a\\"b\\\\c\\n\\u00e9\\ud83d\\ude00\\ud800x\\/', 'latin1');
    assert.equal(decodeJsonString(raw, 0, raw.length), 'a"b\\c\né😀\ud800x/');
    const utf8 = Buffer.from('ключ', 'utf8');
    assert.equal(decodeJsonString(utf8, 0, utf8.length), 'ключ');
  });

  test('reads a snapshot into typed arrays; chunk size does not matter', async () => {
    const a = await readHeapSnapshot(small);
    const b = await readHeapSnapshot(small, { chunkSize: 4093 });
    assert.ok(a.nodeCount > 1000 && a.edgeCount > a.nodeCount);
    assert.deepEqual(b.nodeId, a.nodeId);
    assert.deepEqual(b.edgeTo, a.edgeTo);
    assert.deepEqual(b.selfSize, a.selfSize);
    assert.equal(b.strings.length, a.strings.length);
    // cross-check against JSON.parse on this small file
    const json = JSON.parse(readFileSync(small, 'utf8')) as { nodes: number[]; edges: number[]; strings: string[]; snapshot: { meta: { node_fields: string[] } } };
    const nf = json.snapshot.meta.node_fields.length;
    assert.equal(a.nodeCount * nf, json.nodes.length);
    // every string decodes exactly as JSON.parse decodes it (escapes, \uXXXX, raw UTF-8)
    for (let i = 0; i < json.strings.length; i++) if (a.strings.get(i) !== json.strings[i]) assert.equal(a.strings.get(i), json.strings[i], `string ${i}`);
    // V8 writes 'ключ' as UTF-8 (and mangles the astral emoji itself); we read what is there
    assert.ok(json.strings.some((x, i) => x.startsWith('ключ') && a.strings.get(i) === x));
  });

  test('bad input: empty, truncated, not a snapshot, unknown node_fields', async () => {
    const empty = join(tmp, 'empty.heapsnapshot');
    writeFileSync(empty, '');
    await assert.rejects(readHeapSnapshot(empty), (e: unknown) => e instanceof HeapSnapshotError && /empty file/.test(e.message));
    const trunc = join(tmp, 'trunc.heapsnapshot');
    writeFileSync(trunc, readFileSync(small).subarray(0, 300_000));
    await assert.rejects(readHeapSnapshot(trunc), /truncated/);
    const other = join(tmp, 'other.json');
    writeFileSync(other, JSON.stringify({ hello: [1, 2, 3] }));
    await assert.rejects(readHeapSnapshot(other), /not a V8 heap snapshot/);
    const weird = join(tmp, 'weird.heapsnapshot');
    writeFileSync(weird, JSON.stringify({ snapshot: { meta: { node_fields: ['kind', 'label'], node_types: [['a']], edge_fields: ['type', 'name_or_index', 'to_node'], edge_types: [['x']] } }, nodes: [], edges: [], strings: [] }));
    await assert.rejects(readHeapSnapshot(weird), /unsupported node_fields \[kind, label\]/);
  });
});

describe('analysis', () => {
  test('summary: counts, self and retained sizes of a known shape', async () => {
    const s = await readHeapSnapshot(small, { edgeNames: false });
    smallSummary = analyze(s);
    const c = session(smallSummary);
    assert.equal(c.count, 100);
    assert.match(c.key, /^Session @\d+:\d+$/, 'class key carries the constructor location');
    // every Session retains its own PAYLOAD-byte string
    assert.ok(c.retained >= 100 * (PAYLOAD + c.self / 100), `retained ${c.retained}`);
    assert.ok(c.retained <= 100 * (PAYLOAD + 64 + c.self / 100), `retained ${c.retained}`);
    const map = smallSummary.topRetainers.find((r) => r.name === 'Map');
    assert.ok(map && map.retained >= c.retained, 'the cache Map is among the largest retainers and retains the sessions');
    assert.equal(smallSummary.totals.nodes, s.nodeCount);
    const sum = smallSummary.classes.reduce((a, x) => a + x.self, 0);
    assert.equal(sum, smallSummary.totals.selfSize);
  });

  test('dominators: root retains everything; every node after its dominator in order', async () => {
    const s = await readHeapSnapshot(small, { edgeNames: false });
    const t = computeDominators(s);
    let total = 0;
    for (let o = 0; o < s.nodeCount; o++) total += s.selfSize[o]!;
    assert.equal(t.retained[s.rootOrdinal], total);
    const pos = new Uint32Array(s.nodeCount);
    t.order.forEach((o, i) => (pos[o] = i));
    for (let o = 0; o < s.nodeCount; o++) {
      if (o === s.rootOrdinal) continue;
      assert.ok(pos[t.dominator[o]!]! < pos[o]!);
      assert.ok(t.retained[t.dominator[o]!]! >= t.retained[o]!);
    }
  });

  test('diff across processes: Session grows by 200 instances', async () => {
    const b = analyze(await readHeapSnapshot(big, { edgeNames: false }));
    const d = diffSummaries(smallSummary, b);
    const row = d.classes.find((c) => c.name === 'Session');
    assert.ok(row);
    assert.equal(row.count.delta, 200);
    assert.ok(row.retained.delta >= 200 * PAYLOAD);
    const byCount = [...d.classes].sort((x, y) => y.count.delta - x.count.delta);
    assert.ok(byCount.slice(0, 3).includes(row), 'Session is among the top growers by count');
    assert.ok(d.classes.indexOf(row) < 10, 'and by retained size');
  });

  test('diff of a leak through a closure: what multiplied first, holders apart with what they hold', async () => {
    const summary = async (f: string) => analyze(await readHeapSnapshot(f, { edgeNames: false }), { topRetainers: 500 });
    const d = diffSummaries(await summary(closureLeakSnapshot('closure-a', 100)), await summary(closureLeakSnapshot('closure-b', 2000)));
    // by retained growth alone the first rows were global, the closure, Array, system / Context
    assert.deepEqual(d.classes.slice(0, 4).map((c) => c.name).sort(), ['(closure)', 'Array', 'global', 'system / Context'], 'the containers grew most');
    const first = d.multiplied[0]!;
    assert.equal(first.name, 'OrderSession');
    assert.equal(first.count.delta, 1900);
    assert.deepEqual(first.heldBy.map((h) => [h.key, h.count]), [['Array', 2000]]);
    const holds = new Map(d.holders.map((h) => [h.name, h.holds]));
    assert.ok(holds.get('Array')?.includes(first.key), 'the Array holds OrderSession');
    assert.deepEqual(holds.get('system / Context'), ['Array'], 'the closure context holds the Array');
    assert.ok(holds.get('(closure)')?.includes('system / Context'), 'the closure holds its context');
    assert.ok(!d.multiplied.some((c) => ['global', 'Array', 'system / Context', '(closure)'].includes(c.name)), 'no holder among what multiplied');
  });

  test('leaks through a closure: by class, then the holder and the path naming the closure variable', async () => {
    const r = await findLeaks(...closureLeakSnapshots());
    assert.equal(r.classes[0]!.key.startsWith('OrderSession'), true);
    assert.equal(r.classes[0]!.count, 500);
    const h = r.holders[0]!;
    assert.match(h.label, /^Array @\d+$/);
    assert.deepEqual(h.holds, [{ key: r.classes[0]!.key, count: 500 }]);
    assert.match(h.chain, /global \.track -> \(anonymous\)\(\) \{context\} -> system \/ Context ->sessions -> Array/);
    assert.deepEqual(r.classes[0]!.heldBy, [{ key: h.label, count: 500 }]);
  });

  test('retainer paths name the Map and the property', async () => {
    const s = await readHeapSnapshot(small);
    const paths = retainerPaths(s, { className: 'Session' }, 3);
    assert.ok(paths.length >= 1);
    assert.equal(paths[0]!.count, 100);
    assert.match(paths[0]!.chain, /^\(GC roots\) -> global \.cache -> Map \{table\} -> .* -> Session @\d+$/);
    const id = paths[0]!.hops.at(-1)!.id;
    const byId = retainerPaths(s, { id }, 2);
    assert.match(byId[0]!.chain, /\.cache -> Map/);
  });

  test('leaks: objects allocated between snapshots 1 and 2 still alive in 3', async () => {
    const [a, b, c] = leakSnapshots();
    const r = await findLeaks(a, b, c);
    const top = r.groups[0]!;
    assert.ok(top, 'a leak group');
    assert.match(top.chain, /global \.leakBox -> Array/);
    assert.equal(top.classes[0]!.key.startsWith('LeakyThing'), true);
    assert.equal(top.count, 40);
    assert.ok(top.retained >= 40 * 5000);
    assert.ok(!r.groups.some((g) => g.classes.some((x) => x.key.startsWith('Temporary'))), 'freed and later objects are not leaks');
  });

  test('redact keeps the class table (names hashed) and removes string values', async () => {
    const out = join(tmp, 'redacted.heapsnapshot');
    const r = await redactSnapshot(small, out);
    assert.ok(r.valuesReplaced > 100 && r.namesHashed > 10);
    assert.equal(r.salt, 'random');
    const red = analyze(await readHeapSnapshot(out, { edgeNames: false }));
    const numbers = (x: HeapSummary) => x.classes.map((c) => [c.count, c.self, c.retained]);
    assert.deepEqual(numbers(red), numbers(smallSummary));
    const text = readFileSync(out, 'latin1');
    assert.ok(!text.includes('a'.repeat(200)), 'payload strings are gone');
    assert.ok(!text.includes('"Session"') && !text.includes('"cache"'), 'user-chosen names are hashed');
    assert.ok(text.includes('"Map"') && text.includes('"system / Context"'), "V8's and builtin names stay");
    assert.match(text, /"h_[0-9a-f]{32}"/, '128-bit hashes');
    // valid JSON that a plain parser (and DevTools) loads
    const parsed = JSON.parse(text) as { strings: string[] };
    assert.ok(Array.isArray(parsed.strings));

    const kept = join(tmp, 'redacted-kept.heapsnapshot');
    await redactSnapshot(small, kept, { keepNames: true });
    const red2 = analyze(await readHeapSnapshot(kept, { edgeNames: false }));
    assert.deepEqual(
      red2.classes.map((c) => [c.key, c.count, c.self, c.retained]),
      smallSummary.classes.map((c) => [c.key, c.count, c.self, c.retained]),
    );
    assert.ok(readFileSync(kept, 'latin1').includes('"Session"'));

    // a given salt makes the same hashes in two runs; the default key is new every run
    const hashes = async (salt?: string) => {
      const f = join(tmp, `salted-${salt ?? 'random'}-${Math.random()}.heapsnapshot`);
      await redactSnapshot(small, f, salt === undefined ? {} : { salt });
      return analyze(await readHeapSnapshot(f, { edgeNames: false })).classes.find((c) => c.count === 100)!.name;
    };
    assert.equal(await hashes('x'), await hashes('x'));
    assert.notEqual(await hashes(), await hashes());
  });
});
