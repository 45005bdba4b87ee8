// Snapshot files are untrusted input: every count, index and type is checked before a loop
// trusts it, and a bad file is one HeapSnapshotError line, never a hang, a wrong answer or an
// out-of-memory crash. Each case is a valid five-node snapshot (V8's exact layout) with one
// thing broken; both the single-threaded parse and the one with the edges worker see each.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { HeapSnapshotError, analyze, readHeapSnapshot, retainerPaths } from '@tailtrace/heap';
import { sessionsSnapshot, tinySnapshot, tmp } from './fixtures.ts';
import type { TinyParts } from './fixtures.ts';

after(() => rmSync(tmp, { recursive: true, force: true }));

const NF = 6;
/** Field f of node o / edge e in the flat arrays. */
const node = (p: TinyParts, o: number, f: 'type' | 'name' | 'id' | 'self_size' | 'edge_count', v: number) => {
  p.nodes[o * NF + ['type', 'name', 'id', 'self_size', 'edge_count'].indexOf(f)] = v;
};
const edge = (p: TinyParts, e: number, f: 'type' | 'name_or_index' | 'to_node', v: number) => {
  p.edges[e * 3 + ['type', 'name_or_index', 'to_node'].indexOf(f)] = v;
};

interface Case {
  name: string;
  change?: (p: TinyParts) => void;
  edit?: (text: string) => string;
  error: RegExp;
}

const cases: Case[] = [
  // the four
  {
    name: 'negative edge_count (the first-edge index wrapped to 2^32-1: ~4.3 billion loop turns)',
    // the sum still matches edge_count, as in the 720-byte file of the issue
    change: (p) => {
      node(p, 0, 'edge_count', -1);
      node(p, 1, 'edge_count', 4);
    },
    error: /negative number in "nodes" at byte \d+/,
  },
  { name: 'node_count 1e12 (was "Array buffer allocation failed", exit 1)', change: (p) => (p.snapshot['node_count'] = 1e12), error: /snapshot\.node_count says 1000000000000, more than a \d+-byte file can hold/ },
  { name: 'root_index out of range (was exit 0, every retained size wrong)', change: (p) => (p.snapshot['root_index'] = 30), error: /snapshot\.root_index 30 is not the index of one of the 5 nodes/ },
  { name: 'node type 256 (was read as hidden)', change: (p) => node(p, 1, 'type', 256), error: /node 1 has type 256, but meta\.node_types lists 15 types/ },
  // counts
  { name: 'root_index not a multiple of the node fields', change: (p) => (p.snapshot['root_index'] = 7), error: /root_index 7 is not the index/ },
  { name: 'node_count negative', change: (p) => (p.snapshot['node_count'] = -5), error: /node_count must be a non-negative integer, got -5/ },
  { name: 'node_count a fraction', change: (p) => (p.snapshot['node_count'] = 2.5), error: /node_count must be a non-negative integer, got 2\.5/ },
  { name: 'node_count missing', change: (p) => delete p.snapshot['node_count'], error: /snapshot\.node_count is missing/ },
  { name: 'edge_count larger than the file', change: (p) => (p.snapshot['edge_count'] = 2 ** 40), error: /edge_count says 1099511627776, more than/ },
  { name: 'node_count 0', change: (p) => (p.snapshot['node_count'] = 0), error: /snapshot has no nodes/ },
  { name: 'fewer nodes than node_count', change: (p) => (p.snapshot['node_count'] = 6), error: /node_count says 6 but "nodes" holds 5/ },
  { name: 'more nodes than node_count', change: (p) => (p.snapshot['node_count'] = 4), error: /"nodes" holds more than the 4 nodes/ },
  { name: 'nodes not a multiple of the node fields', change: (p) => p.nodes.pop(), error: /"nodes" holds 29 numbers, not a multiple of 6 node fields/ },
  { name: 'edge_count values add up to more than edge_count', change: (p) => node(p, 0, 'edge_count', 3), error: /the edge_count of nodes 0\.\.3 add up to 5, more than the 4 edges/ },
  { name: 'edge_count values add up to less than edge_count', change: (p) => node(p, 0, 'edge_count', 1), error: /node edge_count values add up to 3 but "edges" holds 4/ },
  { name: 'fewer edges than edge_count', change: (p) => { p.snapshot['edge_count'] = 5; node(p, 4, 'edge_count', 1); }, error: /edge_count says 5 but "edges" holds 4/ },
  { name: 'more edges than edge_count', change: (p) => { p.snapshot['edge_count'] = 3; node(p, 3, 'edge_count', 0); }, error: /"edges" holds more than the 3 edges/ },
  // indexes and types
  { name: 'edge to_node beyond the nodes', change: (p) => edge(p, 2, 'to_node', 30), error: /edge 2 has to_node 30, which is not the index of one of the 5 nodes/ },
  { name: 'edge to_node between two nodes', change: (p) => edge(p, 2, 'to_node', 7), error: /edge 2 has to_node 7, which is not the index/ },
  { name: 'edge type unknown', change: (p) => edge(p, 0, 'type', 9), error: /edge 0 has type 9, but meta\.edge_types lists 7 types/ },
  { name: 'node name beyond the strings', change: (p) => node(p, 3, 'name', 99), error: /a node name refers to string 99 but "strings" holds 7/ },
  { name: 'property name beyond the strings', change: (p) => edge(p, 2, 'name_or_index', 99), error: /an edge name refers to string 99 but "strings" holds 7/ },
  { name: 'node id above 2^32', change: (p) => node(p, 2, 'id', 2 ** 32), error: /node 2 has id 4294967296, above 2\^32/ },
  { name: 'a 400-digit number', edit: (t) => t.replace('"nodes":[9,0,1,', `"nodes":[9,0,${'9'.repeat(400)},`), error: /node 0 has id Infinity, above 2\^32/ },
  { name: 'location of no node', change: (p) => (p.locations = [30, 1, 2, 3]), error: /location 0 is not \[object_index, script_id, line, column\] of one of the 5 nodes/ },
  { name: 'meta lists 300 node types', change: (p) => ((p.snapshot['meta'] as { node_types: unknown[] }).node_types[0] = Array.from({ length: 300 }, (_, i) => `t${i}`)), error: /meta\.node_types lists 300 types \(1 to 256 supported\)/ },
  // syntax
  { name: 'a fraction in "edges"', edit: (t) => t.replace('"edges":[5,1,6', '"edges":[5,1.5,6'), error: /non-integer number in "edges" at byte \d+/ },
  { name: 'an exponent in "nodes"', edit: (t) => t.replace('"nodes":[9,0,1,0', '"nodes":[9,0,1e3,0'), error: /non-integer number in "nodes"/ },
  { name: 'a letter in "edges"', edit: (t) => t.replace('"edges":[5,1,6', '"edges":[5,x,6'), error: /unexpected 'x' in "edges" at byte \d+/ },
  { name: '"nodes" twice', edit: (t) => t.replace('"trace_tree":[]', '"nodes":[],"trace_tree":[]'), error: /"nodes" appears twice/ },
  { name: '"nodes" before the header', edit: (t) => t.replace(/^\{"snapshot":(.*),\n"nodes":(\[[^\]]*\]),/, '{"nodes":$2,"snapshot":$1,'), error: /"nodes" appears before the "snapshot" header/ },
  { name: 'no "edges"', edit: (t) => t.replace(/"edges":\[[^\]]*\],/, ''), error: /no "edges" array/ },
  { name: 'trailing data', edit: (t) => `${t}garbage`, error: /trailing data after the snapshot at byte \d+/ },
  { name: 'cut inside "strings"', edit: (t) => t.slice(0, t.indexOf('"secret"') + 3), error: /truncated: file ends inside the "strings" array/ },
  { name: 'cut inside "edges"', edit: (t) => t.slice(0, t.indexOf('"edges":[') + 14), error: /truncated: file ends inside the "edges" array|truncated \(or corrupt\)/ },
  { name: 'header is not JSON', edit: (t) => t.replace('"node_count"', 'node_count'), error: /"snapshot" header is not valid JSON/ },
];

describe('hostile snapshot files: one HeapSnapshotError line each', () => {
  for (const c of cases) {
    for (const parallel of [false, true]) {
      test(`${c.name}${parallel ? ' (edges on the worker)' : ''}`, async () => {
        const file = tinySnapshot(`${c.name.replace(/\W+/g, '-').slice(0, 60)}-${parallel}`, c.change, c.edit);
        const err = await readHeapSnapshot(file, { parallel }).then(
          () => null,
          (e: unknown) => e,
        );
        assert.ok(err instanceof HeapSnapshotError, `rejected with a HeapSnapshotError, got ${String(err)}`);
        assert.match(err.message, c.error);
        assert.ok(err.message.startsWith(`${file}: `), 'names the file');
        assert.doesNotMatch(err.message, /\n/, 'one line');
      });
    }
  }
});

describe('a file cut inside a number', () => {
  // The last read leaves older bytes after the data in the reused buffer; a number cut at the end
  // of the file ran on into them when they were digits ("6" read as "690": a to_node error
  // instead of "truncated", and only at some buffer sizes, so only sometimes under load).
  test('is "truncated" at every buffer size, on either thread', async () => {
    const file = tinySnapshot('cut-in-a-number', undefined, (t) => t.slice(0, t.indexOf('"edges":[') + 14));
    const wrong: string[] = [];
    for (let chunkSize = 64; chunkSize <= 200; chunkSize++) {
      for (const parallel of chunkSize % 17 === 0 ? [false, true] : [false]) {
        const msg = await readHeapSnapshot(file, { parallel, chunkSize }).then(
          () => 'loaded',
          (e: unknown) => String(e),
        );
        if (!/truncated: file ends inside the "edges" array/.test(msg)) wrong.push(`chunkSize ${chunkSize}${parallel ? ' (worker)' : ''}: ${msg}`);
      }
    }
    assert.deepEqual(wrong, []);
  });
});

describe('valid but unusual snapshots still load', () => {
  test('the five-node snapshot itself: every size and the path', async () => {
    const s = await readHeapSnapshot(tinySnapshot('tiny'));
    const sum = analyze(s);
    assert.equal(sum.totals.nodes, 5);
    assert.equal(sum.totals.selfSize, 188);
    assert.equal(sum.classes.find((c) => c.name === 'Session')?.retained, 88);
    assert.match(retainerPaths(s, { className: 'Session' })[0]!.chain, /^\(GC roots\) -> global \.cache -> Session @7$/);
  });

  test('a self size above 4 GiB widens the column instead of wrapping', async () => {
    const s = await readHeapSnapshot(tinySnapshot('big-self', (p) => node(p, 4, 'self_size', 2 ** 33)));
    assert.ok(s.selfSize instanceof Float64Array);
    assert.equal(s.selfSize[4], 2 ** 33);
    assert.equal(analyze(s).classes.find((c) => c.name === 'Session')?.retained, 56 + 2 ** 33);
  });

  test('an element index beyond the strings is an index, not a string reference', async () => {
    const s = await readHeapSnapshot(tinySnapshot('element-index', (p) => edge(p, 1, 'name_or_index', 12345)));
    assert.equal(s.edgeName?.[1], 12345);
  });

  test('a root_index V8 never writes, when in range, is honoured', async () => {
    const s = await readHeapSnapshot(tinySnapshot('root-index', (p) => (p.snapshot['root_index'] = 0)));
    assert.equal(s.rootOrdinal, 0);
  });

  test('newlines between records and whitespace anywhere (older V8) parse the same', async () => {
    const plain = await readHeapSnapshot(tinySnapshot('plain'));
    const spaced = await readHeapSnapshot(
      tinySnapshot('spaced', undefined, (t) => t.replace(/("nodes":\[|"edges":\[)([^\]]*)\]/g, (_m, k: string, body: string) => `${k}\n ${body.replace(/,/g, ' ,\n\t')} \n]`)),
    );
    assert.deepEqual(spaced.edgeTo, plain.edgeTo);
    assert.deepEqual(spaced.nodeId, plain.nodeId);
  });

  test('the edges worker and the single thread read a real snapshot identically, at any buffer size', async () => {
    const file = sessionsSnapshot('parallel-check', 30);
    const one = await readHeapSnapshot(file, { parallel: false });
    for (const [parallel, chunkSize] of [[true, 8 * 1024 * 1024], [true, 4093], [false, 97]] as const) {
      const other = await readHeapSnapshot(file, { parallel, chunkSize });
      for (const k of ['nodeType', 'nodeName', 'nodeId', 'selfSize', 'firstEdge', 'edgeType', 'edgeName', 'edgeTo', 'locations'] as const) {
        assert.deepEqual(other[k], one[k], `${k} (parallel ${parallel}, buffer ${chunkSize})`);
      }
      assert.equal(other.totalSelfSize, one.totalSelfSize);
    }
    assert.equal(readFileSync(file).length, one.fileSize);
  });
});
