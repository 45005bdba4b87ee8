// Reads V8's .heapsnapshot JSON in named steps, as Chrome DevTools' HeapSnapshotLoader does:
//  1. open: a regular, non-empty file;
//  2. header: the "snapshot" object, checked (layout.ts) before any array is read, so every count
//     that sizes a column is bounded by the file's size;
//  3. sections: "nodes", "edges" (on a worker thread when the file is large), "locations" and
//     "strings" go straight into columns, each value checked as it is stored (numbers.ts);
//     anything else is skipped;
//  4. assemble: what needs two sections (counts against the header, name references against the
//     strings) is checked, then the columns are returned.
// The file is never one JS string, so multi-GB snapshots load. Every problem is a
// HeapSnapshotError: one line, `FILE: what is wrong`.
import { closeSync, fstatSync, openSync } from 'node:fs';
import { startEdgesJob } from './edges-job.ts';
import type { EdgesJob } from './edges-job.ts';
import { HeapSnapshotError } from './errors.ts';
import { LayoutError, parseLayout } from './layout.ts';
import type { Layout } from './layout.ts';
import { edgeColumns, edgeScan, locationScan, nodeScan, readNumbers, scanEdges, scanLocations, scanNodes, widenSelfSize } from './numbers.ts';
import type { EdgeColumns, LocationScan, NodeScan } from './numbers.ts';
import { Source, describeByte, readKey } from './source.ts';
import { StringTable } from './strings.ts';
import type { HeapSnapshot } from './types.ts';

export interface ReadOptions {
  /** Keep edge names (needed for retainer paths, leaks, redact). Default true. */
  edgeNames?: boolean;
  /** Called with (bytesRead, totalBytes) as the file is read. */
  onProgress?: (read: number, total: number) => void;
  /** Read buffer size in bytes. Default 4 MiB. */
  chunkSize?: number;
  /** Parse the edges array on a second thread. Default: when the file is 32 MiB or more. */
  parallel?: boolean;
}

type Fail = (why: string) => never;

/** The "snapshot" header is small; a larger one is not a heap snapshot. */
const MAX_HEADER = 64 * 1024 * 1024;
const PARALLEL_FROM = 32 * 1024 * 1024;

interface EdgesPart {
  columns: EdgeColumns;
  ord: number;
  field: number;
  maxName: number;
}

interface Parts {
  layout: Layout | null;
  nodes: NodeScan | null;
  edges: EdgesPart | null;
  locations: LocationScan | null;
  strings: StringTable | null;
  stringsRange: { start: number; end: number };
}

/** Step 1: a regular, non-empty file. */
function openSnapshot(path: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new HeapSnapshotError(path, code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not a heap snapshot file' : `cannot open (${code ?? String(err)})`);
  }
  const st = fstatSync(fd);
  const why = st.isDirectory()
    ? 'is a directory, not a heap snapshot file'
    : !st.isFile()
      ? 'is not a regular file'
      : st.size === 0
        ? 'empty file (0 bytes); the snapshot was never written (process killed while writing?)'
        : null;
  if (why) {
    closeSync(fd);
    throw new HeapSnapshotError(path, why);
  }
  return { fd, size: st.size };
}

/**
 * Skips the value that starts with `first` (already consumed); with `into`, also copies its
 * bytes. A scalar ends before the ',', '}' or ']' that follows it, which is left unread.
 */
function skipValue(src: Source, first: number, fail: Fail, into?: Buffer[]): void {
  let depth = first === 0x7b || first === 0x5b ? 1 : 0;
  let inString = first === 0x22;
  let escaped = false;
  let copied = 0;
  if (into) into.push(Buffer.from([first]));
  if (depth === 0 && !inString && (first === 0x2c || first === 0x7d || first === 0x5d || first < 0)) fail('not a V8 heap snapshot: a key without a value');
  for (;;) {
    const { buf, end } = src;
    const from = src.pos;
    let i = from;
    let done = false;
    for (; i < end; i++) {
      const c = buf[i]!;
      if (inString) {
        if (escaped) escaped = false;
        else if (c === 0x5c) escaped = true;
        else if (c === 0x22) {
          inString = false;
          if (depth === 0) {
            i++;
            done = true;
            break;
          }
        }
      } else if (c === 0x22) inString = true;
      else if (c === 0x7b || c === 0x5b) depth++;
      else if (c === 0x7d || c === 0x5d || c === 0x2c) {
        if (depth === 0) {
          done = true; // the end of a scalar: the separator is the caller's
          break;
        }
        if (c !== 0x2c && --depth === 0) {
          i++;
          done = true;
          break;
        }
      }
    }
    if (into) {
      copied += i - from;
      if (copied > MAX_HEADER) fail(`not a V8 heap snapshot: "snapshot" header is larger than ${MAX_HEADER / 1024 / 1024} MiB`);
      into.push(Buffer.from(buf.subarray(from, i)));
    }
    src.pos = i;
    if (done) return;
    if (!src.more()) fail(`truncated: file ends inside a value at byte ${src.size} (incomplete snapshot)`);
  }
}

/** Step 2: the "snapshot" header. */
function readHeader(src: Source, first: number, fail: Fail): Layout {
  if (first !== 0x7b) fail('not a V8 heap snapshot: "snapshot" is not an object');
  const bytes: Buffer[] = [];
  skipValue(src, first, fail, bytes);
  try {
    return parseLayout(Buffer.concat(bytes).toString('utf8'), src.size);
  } catch (err) {
    if (err instanceof LayoutError) return fail(err.message);
    throw err;
  }
}

/** The "strings" array, after its '[': raw bytes into the table, decoded later on demand. */
function readStrings(src: Source, table: StringTable, fail: Fail, onChunk: () => void): void {
  for (;;) {
    const c = src.token();
    if (c === 0x5d) return;
    if (c === 0x2c) continue;
    if (c !== 0x22) fail(c < 0 ? `truncated: file ends inside the "strings" array at byte ${src.size} (incomplete snapshot)` : `unexpected ${describeByte(c)} in "strings" at byte ${src.offset - 1}`);
    table.begin();
    let escaped = false;
    for (;;) {
      const { buf, end } = src;
      const from = src.pos;
      let i = from;
      for (; i < end; i++) {
        const b = buf[i]!;
        if (escaped) escaped = false;
        else if (b === 0x5c) escaped = true;
        else if (b === 0x22) break;
      }
      if (!table.append(buf, from, i)) fail(`string ${table.length} in "strings" at byte ${src.base + from} is longer than V8 can make one`);
      if (i < end) {
        src.pos = i + 1;
        table.end();
        break;
      }
      src.pos = i;
      onChunk();
      if (!src.more()) fail(`truncated: file ends inside the "strings" array at byte ${src.size} (incomplete snapshot)`);
    }
  }
}

/** Waits for the edges worker; its problems become this file's. */
async function finishEdges(job: EdgesJob, report: () => void, fail: Fail): Promise<EdgesPart> {
  const timer = setInterval(report, 200);
  try {
    const r = await job.outcome;
    if (r.kind === 'error') return fail(r.reason);
    if (r.kind !== 'done') return fail('the edges worker did not parse "edges" (a bug)');
    return { columns: job.columns, ord: r.ord, field: r.field, maxName: r.maxName };
  } finally {
    clearInterval(timer);
  }
}

/** Step 3: every section, in file order. */
async function readSections(path: string, fd: number, size: number, opts: ReadOptions, fail: Fail): Promise<Parts> {
  const names = opts.edgeNames !== false;
  const bufferBytes = opts.chunkSize ?? 4 * 1024 * 1024;
  const src = new Source(fd, size, bufferBytes);
  const p: Parts = { layout: null, nodes: null, edges: null, locations: null, strings: null, stringsRange: { start: -1, end: -1 } };
  let job: EdgesJob | null = null;
  let jobDone = false;
  let handedOff = 0; // bytes of "edges" left to the worker
  const report = (): void => opts.onProgress?.(Math.min(size, src.offset - handedOff + (job?.progress() ?? 0)), size);
  const seen = new Set<string>();
  const need = (key: string): Layout => p.layout ?? fail(`"${key}" appears before the "snapshot" header; not a V8 heap snapshot`);
  try {
    const open = src.token();
    if (open !== 0x7b) fail(`not a V8 heap snapshot: ${open < 0 ? 'only whitespace' : `starts with ${describeByte(open)}, expected '{'`}`);
    for (;;) {
      const c = src.token();
      if (c === 0x7d) break;
      if (c === 0x2c && seen.size > 0) continue;
      if (c !== 0x22) fail(c < 0 ? `truncated: file ends at byte ${size} before the snapshot's closing '}' (incomplete snapshot)` : `not a V8 heap snapshot: unexpected ${describeByte(c)} at byte ${src.offset - 1}`);
      const key = readKey(src) ?? fail(`not a V8 heap snapshot: overlong or unterminated key at byte ${src.offset}`);
      if (src.token() !== 0x3a) fail(`not a V8 heap snapshot: expected ':' after "${key}" at byte ${src.offset - 1}`);
      if (seen.has(key)) fail(`not a V8 heap snapshot: "${key}" appears twice`);
      seen.add(key);
      const first = src.token();
      const arrays = key === 'nodes' || key === 'edges' || key === 'locations' || key === 'strings';
      if (arrays && first !== 0x5b) fail(`"${key}" is not an array (byte ${src.offset - 1}); not a V8 heap snapshot`);
      if (key === 'snapshot') p.layout = readHeader(src, first, fail);
      else if (key === 'nodes') {
        const layout = need(key);
        if (opts.parallel ?? size >= PARALLEL_FROM) job = startEdgesJob(path, size, src.offset - 1, layout, names, bufferBytes);
        const st = nodeScan(layout);
        const widen = (s: NodeScan): boolean => (s.widen ? (widenSelfSize(s), true) : false);
        readNumbers(src, key, scanNodes, st, fail, report, widen);
        p.nodes = st;
      } else if (key === 'edges') {
        const layout = need(key);
        const at = src.offset - 1;
        if (job !== null && (await job.start) === at) {
          // the worker parses it: skip to its ']' (edges hold no other)
          if (src.find(0x5d) < 0) fail(`truncated: file ends inside the "edges" array at byte ${size} (incomplete snapshot)`);
          src.pos++;
          handedOff = src.offset - at;
        } else {
          if (job !== null) {
            await job.cancel();
            job = null;
          }
          const st = edgeScan(layout, edgeColumns(layout.edgeCount, names, false));
          readNumbers(src, key, scanEdges, st, fail, report);
          p.edges = { columns: st, ord: st.ord, field: st.field, maxName: st.maxName };
        }
      } else if (key === 'locations') {
        const st = locationScan(need(key));
        readNumbers(src, key, scanLocations, st, fail, report);
        p.locations = st;
      } else if (key === 'strings') {
        p.stringsRange.start = src.offset - 1;
        p.strings = new StringTable();
        readStrings(src, p.strings, fail, report);
        p.stringsRange.end = src.offset;
      } else skipValue(src, first, fail);
      report();
    }
    const trailing = src.token();
    if (trailing >= 0) fail(`trailing data after the snapshot at byte ${src.offset - 1}`);
    // (a worker that found no "edges" after "nodes" has nothing to give: assemble says what is missing)
    if (job !== null && (await job.start) >= 0) p.edges = await finishEdges(job, report, fail);
    jobDone = true;
    return p;
  } finally {
    if (job !== null && !jobDone) await job.cancel();
  }
}

/** Step 4: what needs more than one section, then the snapshot. */
function assemble(path: string, size: number, p: Parts, fail: Fail): HeapSnapshot {
  const L = p.layout ?? fail('not a V8 heap snapshot: no "snapshot" header');
  const nodes = p.nodes ?? fail('not a V8 heap snapshot: no "nodes" array');
  const edges = p.edges ?? fail('not a V8 heap snapshot: no "edges" array');
  const strings = p.strings ?? fail('not a V8 heap snapshot: no "strings" array');
  if (nodes.field !== 0) fail(`"nodes" holds ${nodes.ord * L.nf + nodes.field} numbers, not a multiple of ${L.nf} node fields`);
  if (edges.field !== 0) fail(`"edges" holds ${edges.ord * L.ef + edges.field} numbers, not a multiple of ${L.ef} edge fields`);
  if (nodes.ord !== L.nodeCount) fail(`snapshot.node_count says ${L.nodeCount} but "nodes" holds ${nodes.ord}`);
  if (edges.ord !== L.edgeCount) fail(`snapshot.edge_count says ${L.edgeCount} but "edges" holds ${edges.ord}`);
  if (nodes.edgeSum !== L.edgeCount) fail(`node edge_count values add up to ${nodes.edgeSum} but "edges" holds ${L.edgeCount}`);
  if (nodes.maxName >= strings.length) fail(`a node name refers to string ${nodes.maxName} but "strings" holds ${strings.length}`);
  if (L.edgeCount > 0 && edges.maxName >= strings.length) fail(`an edge name refers to string ${edges.maxName} but "strings" holds ${strings.length}`);
  const loc = p.locations;
  if (loc && loc.field !== 0) fail(`"locations" holds ${loc.ord * L.lf + loc.field} numbers, not a multiple of ${L.lf} location fields`);
  nodes.firstEdge[L.nodeCount] = L.edgeCount;
  strings.seal();
  return {
    file: path,
    fileSize: size,
    nodeCount: L.nodeCount,
    edgeCount: L.edgeCount,
    nodeTypes: L.nodeTypes,
    edgeTypes: L.edgeTypes,
    rootOrdinal: L.rootOrdinal,
    nodeType: nodes.nodeType,
    nodeName: nodes.nodeName,
    nodeId: nodes.nodeId,
    selfSize: nodes.selfSize,
    totalSelfSize: nodes.selfTotal,
    firstEdge: nodes.firstEdge,
    edgeType: edges.columns.edgeType,
    edgeName: edges.columns.edgeName,
    edgeTo: edges.columns.edgeTo,
    locations: loc ? loc.locations.subarray(0, loc.ord * 4) : new Uint32Array(0),
    strings,
    stringsRange: p.stringsRange,
  };
}

/** Reads a .heapsnapshot file into columnar typed arrays. Throws HeapSnapshotError on bad input. */
export async function readHeapSnapshot(path: string, opts: ReadOptions = {}): Promise<HeapSnapshot> {
  const fail: Fail = (why) => {
    throw new HeapSnapshotError(path, why);
  };
  const { fd, size } = openSnapshot(path);
  try {
    const parts = await readSections(path, fd, size, opts, fail);
    return assemble(path, size, parts, fail);
  } finally {
    closeSync(fd);
  }
}
