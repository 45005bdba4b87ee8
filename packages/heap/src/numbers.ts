// The hot loops: the "nodes", "edges" and "locations" arrays, parsed byte by byte straight into
// their columns, each value checked before it is stored. A scan works on buf[i..end) where `end`
// follows a byte that is not a digit (Source.numbersEnd), so no number is cut; its state lives in
// locals for the loop and goes back into the state object when the buffer runs out.
//
// Only what V8 writes is accepted: non-negative integers separated by commas and whitespace. A
// '-' (the negative edge_count that made the first-edge index wrap), a fraction or an exponent
// stops the scan with `bad` set; a value out of range stops it with `error` set.
import type { Layout } from './layout.ts';
import { describeByte } from './source.ts';
import type { Source } from './source.ts';

const U32 = 0xffffffff;

interface ScanState {
  /** Records completed. */
  ord: number;
  /** Field of the record being read. */
  field: number;
  /** Values of the record being read. */
  readonly rec: Float64Array;
  /** The closing ']' was consumed. */
  closed: boolean;
  /** Index in buf of a byte that cannot appear in the array, or -1. */
  bad: number;
  /** Why a value was refused, or ''. */
  error: string;
}

interface NodeColumns {
  readonly nodeType: Uint8Array;
  readonly nodeName: Uint32Array;
  readonly nodeId: Uint32Array;
  /** Uint32Array until a self size above 4 GiB turns it into a Float64Array. */
  selfSize: Uint32Array | Float64Array;
  /** firstEdge[o] .. firstEdge[o + 1] - 1 are the edges of node o (length nodeCount + 1). */
  readonly firstEdge: Uint32Array;
}

export interface NodeScan extends ScanState, NodeColumns {
  readonly layout: Layout;
  /** Running sum of edge_count: the first edge of the next node. */
  edgeSum: number;
  /** Largest string index used as a node name. */
  maxName: number;
  /** Sum of self sizes. */
  selfTotal: number;
  /** A self size did not fit the Uint32Array: widen selfSize, then commit `rec` and scan on. */
  widen: boolean;
}

export interface EdgeColumns {
  readonly edgeType: Uint8Array;
  /** null when the caller did not ask for edge names. */
  readonly edgeName: Uint32Array | null;
  /** Node ordinals (to_node / node field count). */
  readonly edgeTo: Uint32Array;
}

export interface EdgeScan extends ScanState, EdgeColumns {
  readonly layout: Layout;
  /** Largest string index used as the name of a property, context, internal, shortcut or weak edge. */
  maxName: number;
}

export interface LocationScan extends ScanState {
  readonly layout: Layout;
  /** [nodeOrdinal, scriptId, line, column] per location; grows. */
  locations: Uint32Array;
}

function state(fields: number): ScanState {
  return { ord: 0, field: 0, rec: new Float64Array(fields), closed: false, bad: -1, error: '' };
}

export function nodeScan(layout: Layout): NodeScan {
  const n = layout.nodeCount;
  return {
    ...state(layout.nf),
    layout,
    nodeType: new Uint8Array(n),
    nodeName: new Uint32Array(n),
    nodeId: new Uint32Array(n),
    selfSize: new Uint32Array(n),
    firstEdge: new Uint32Array(n + 1),
    edgeSum: 0,
    maxName: 0,
    selfTotal: 0,
    widen: false,
  };
}

export function edgeScan(layout: Layout, columns: EdgeColumns): EdgeScan {
  return { ...state(layout.ef), ...columns, layout, maxName: 0 };
}

export function edgeColumns(count: number, names: boolean, shared: boolean): EdgeColumns {
  const buffer = (bytes: number): ArrayBuffer | SharedArrayBuffer => (shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
  return {
    edgeType: new Uint8Array(buffer(count)),
    edgeName: names ? new Uint32Array(buffer(count * 4)) : null,
    edgeTo: new Uint32Array(buffer(count * 4)),
  };
}

export function locationScan(layout: Layout): LocationScan {
  return { ...state(layout.lf), layout, locations: new Uint32Array(4096) };
}

/** Commits the node record in st.rec; false with st.error (or st.widen) set when a value is refused. */
function commitNode(st: NodeScan, o: number): boolean {
  const L = st.layout;
  const r = st.rec;
  if (o >= L.nodeCount) {
    st.error = `"nodes" holds more than the ${L.nodeCount} nodes snapshot.node_count says`;
    return false;
  }
  const t = r[L.nType]!;
  if (t >= L.nodeTypes.length) {
    st.error = `node ${o} has type ${t}, but meta.node_types lists ${L.nodeTypes.length} types`;
    return false;
  }
  const name = r[L.nName]!;
  const id = r[L.nId]!;
  const size = r[L.nSize]!;
  if (name > U32 || id > U32) {
    st.error = `node ${o} has ${name > U32 ? `name ${name}` : `id ${id}`}, above 2^32`;
    return false;
  }
  if (size > Number.MAX_SAFE_INTEGER) {
    st.error = `node ${o} has self_size ${size}, above 2^53`;
    return false;
  }
  if (size > U32 && st.selfSize instanceof Uint32Array) {
    st.widen = true;
    return false;
  }
  const sum = st.edgeSum + r[L.nEdges]!;
  if (sum > L.edgeCount) {
    st.error = `the edge_count of nodes 0..${o} add up to ${sum}, more than the ${L.edgeCount} edges snapshot.edge_count says`;
    return false;
  }
  st.nodeType[o] = t;
  st.nodeName[o] = name;
  if (name > st.maxName) st.maxName = name;
  st.nodeId[o] = id;
  st.selfSize[o] = size;
  st.selfTotal += size;
  st.firstEdge[o] = st.edgeSum;
  st.edgeSum = sum;
  return true;
}

/** Any field order and separator: numbers in buf[i..end), until `stopAt` records are complete. */
function slowNodes(buf: Uint8Array, i: number, end: number, st: NodeScan, stopAt: number): number {
  const L = st.layout;
  const nf = L.nf;
  const rec = st.rec;
  let o = st.ord;
  let f = st.field;
  // The common case in the loop, the rest in commitNode: one record is 5-7 numbers.
  const { nType, nName, nId, nSize, nEdges, nodeCount, edgeCount } = L;
  const typeCount = L.nodeTypes.length;
  const { nodeType, nodeName, nodeId, firstEdge } = st;
  const selfSize = st.selfSize;
  const narrow = selfSize instanceof Uint32Array;
  let edgeSum = st.edgeSum;
  let maxName = st.maxName;
  let selfTotal = st.selfTotal;
  while (i < end && o < stopAt) {
    const c = buf[i]!;
    let d = c - 0x30;
    if (d >= 0 && d <= 9) {
      let v = d;
      for (i++; (d = buf[i]! - 0x30) >= 0 && d <= 9; i++) v = v * 10 + d;
      rec[f] = v;
      if (++f < nf) continue;
      f = 0;
      const t = rec[nType]!;
      const name = rec[nName]!;
      const id = rec[nId]!;
      const size = rec[nSize]!;
      const sum = edgeSum + rec[nEdges]!;
      if (o < nodeCount && t < typeCount && name <= U32 && id <= U32 && (narrow ? size <= U32 : size <= Number.MAX_SAFE_INTEGER) && sum <= edgeCount) {
        nodeType[o] = t;
        nodeName[o] = name;
        if (name > maxName) maxName = name;
        nodeId[o] = id;
        selfSize[o] = size;
        selfTotal += size;
        firstEdge[o] = edgeSum;
        edgeSum = sum;
        o++;
        continue;
      }
      // Refused by the fast path: commitNode says why (or widens selfSize first).
      st.edgeSum = edgeSum;
      st.maxName = maxName;
      st.selfTotal = selfTotal;
      if (!commitNode(st, o)) {
        st.ord = o;
        st.field = 0;
        return i;
      }
      o++;
      edgeSum = st.edgeSum;
      maxName = st.maxName;
      selfTotal = st.selfTotal;
      continue;
    }
    if (c === 0x2c || c === 0x0a || c === 0x20 || c === 0x0d || c === 0x09) {
      i++;
      continue;
    }
    if (c === 0x5d) {
      st.closed = true;
      i++;
    } else st.bad = i;
    break;
  }
  st.ord = o;
  st.field = f;
  st.edgeSum = edgeSum;
  st.maxName = maxName;
  st.selfTotal = selfTotal;
  return i;
}

/** After scanNodes stopped with `widen`: selfSize becomes a Float64Array and the pending record is committed. */
export function widenSelfSize(st: NodeScan): void {
  const wide = new Float64Array(st.selfSize.length);
  wide.set(st.selfSize);
  st.selfSize = wide;
  st.widen = false;
  if (!commitNode(st, st.ord)) return;
  st.ord++;
}

/** Any field order and separator: numbers in buf[i..end), until `stopAt` records are complete. */
function slowEdges(buf: Uint8Array, i: number, end: number, st: EdgeScan, stopAt: number): number {
  const L = st.layout;
  const { ef, eType, eName, eTo, nf, nodeCount, edgeCount, indexNamed } = L;
  const typeCount = L.edgeTypes.length;
  const { edgeType, edgeName, edgeTo, rec } = st;
  let o = st.ord;
  let f = st.field;
  let maxName = st.maxName;
  while (i < end && o < stopAt) {
    const c = buf[i]!;
    let d = c - 0x30;
    if (d >= 0 && d <= 9) {
      let v = d;
      for (i++; (d = buf[i]! - 0x30) >= 0 && d <= 9; i++) v = v * 10 + d;
      rec[f] = v;
      if (++f < ef) continue;
      f = 0;
      const t = rec[eType]!;
      const name = rec[eName]!;
      const to = rec[eTo]!;
      const q = to / nf;
      if (o < edgeCount && t < typeCount && name <= U32 && q < nodeCount && q === Math.floor(q)) {
        edgeType[o] = t;
        edgeTo[o] = q;
        if (edgeName !== null) edgeName[o] = name;
        if (indexNamed[t] === 0 && name > maxName) maxName = name;
        o++;
        continue;
      }
      st.error =
        o >= edgeCount
          ? `"edges" holds more than the ${edgeCount} edges snapshot.edge_count says`
          : t >= typeCount
            ? `edge ${o} has type ${t}, but meta.edge_types lists ${typeCount} types`
            : name > U32
              ? `edge ${o} has name_or_index ${name}, above 2^32`
              : `edge ${o} has to_node ${to}, which is not the index of one of the ${nodeCount} nodes (a multiple of ${nf} below ${nodeCount * nf})`;
      break;
    }
    if (c === 0x2c || c === 0x0a || c === 0x20 || c === 0x0d || c === 0x09) {
      i++;
      continue;
    }
    if (c === 0x5d) {
      st.closed = true;
      i++;
    } else st.bad = i;
    break;
  }
  st.ord = o;
  st.field = f;
  st.maxName = maxName;
  return i;
}

/** V8's order: type, name, id, self_size, edge_count, then fields the analysis does not use. */
const v8NodeOrder = (L: Layout): boolean => L.nType === 0 && L.nName === 1 && L.nId === 2 && L.nSize === 3 && L.nEdges === 4;
/** V8's order: type, name_or_index, to_node. */
const v8EdgeOrder = (L: Layout): boolean => L.ef === 3 && L.eType === 0 && L.eName === 1 && L.eTo === 2;

/**
 * Whole node records in V8's field order with ',' inside a record, the fields in locals (about
 * twice as fast as the generic loop). Stops before a record it does not take whole: one cut by
 * `end`, an odd separator, a value to refuse or widen, or the closing ']' (the slow loop then
 * does that one record and says what is wrong).
 */
function fastNodes(buf: Uint8Array, i: number, end: number, st: NodeScan): number {
  const L = st.layout;
  const extra = L.nf - 5;
  const { nodeCount, edgeCount } = L;
  const typeCount = L.nodeTypes.length;
  const { nodeType, nodeName, nodeId, firstEdge } = st;
  const selfSize = st.selfSize;
  const max = selfSize instanceof Uint32Array ? U32 : Number.MAX_SAFE_INTEGER;
  let o = st.ord;
  let edgeSum = st.edgeSum;
  let maxName = st.maxName;
  let selfTotal = st.selfTotal;
  let d = 0;
  while (i < end) {
    const c = buf[i]!;
    if (c === 0x2c || c === 0x0a || c === 0x20 || c === 0x0d || c === 0x09) {
      i++;
      continue;
    }
    const rec = i;
    let from = i;
    let t = 0;
    while ((d = buf[i]! - 0x30) >= 0 && d <= 9) {
      t = t * 10 + d;
      i++;
    }
    if (i === from || buf[i] !== 0x2c || ++i >= end) {
      i = rec;
      break;
    }
    from = i;
    let name = 0;
    while ((d = buf[i]! - 0x30) >= 0 && d <= 9) {
      name = name * 10 + d;
      i++;
    }
    if (i === from || buf[i] !== 0x2c || ++i >= end) {
      i = rec;
      break;
    }
    from = i;
    let id = 0;
    while ((d = buf[i]! - 0x30) >= 0 && d <= 9) {
      id = id * 10 + d;
      i++;
    }
    if (i === from || buf[i] !== 0x2c || ++i >= end) {
      i = rec;
      break;
    }
    from = i;
    let size = 0;
    while ((d = buf[i]! - 0x30) >= 0 && d <= 9) {
      size = size * 10 + d;
      i++;
    }
    if (i === from || buf[i] !== 0x2c || ++i >= end) {
      i = rec;
      break;
    }
    from = i;
    let edges = 0;
    while ((d = buf[i]! - 0x30) >= 0 && d <= 9) {
      edges = edges * 10 + d;
      i++;
    }
    let ok = i > from;
    for (let k = 0; ok && k < extra; k++) {
      if (buf[i] !== 0x2c || ++i >= end) ok = false;
      else {
        from = i;
        while ((d = buf[i]! - 0x30) >= 0 && d <= 9) i++;
        ok = i > from;
      }
    }
    const sum = edgeSum + edges;
    if (!ok || o >= nodeCount || t >= typeCount || name > U32 || id > U32 || size > max || sum > edgeCount) {
      i = rec;
      break;
    }
    nodeType[o] = t;
    nodeName[o] = name;
    if (name > maxName) maxName = name;
    nodeId[o] = id;
    selfSize[o] = size;
    selfTotal += size;
    firstEdge[o] = edgeSum;
    edgeSum = sum;
    o++;
  }
  st.ord = o;
  st.edgeSum = edgeSum;
  st.maxName = maxName;
  st.selfTotal = selfTotal;
  return i;
}

/** As fastNodes, for edge records. */
function fastEdges(buf: Uint8Array, i: number, end: number, st: EdgeScan): number {
  const L = st.layout;
  const { nf, nodeCount, edgeCount, indexNamed } = L;
  const typeCount = L.edgeTypes.length;
  const { edgeType, edgeName, edgeTo } = st;
  let o = st.ord;
  let maxName = st.maxName;
  let d = 0;
  while (i < end) {
    const c = buf[i]!;
    if (c === 0x2c || c === 0x0a || c === 0x20 || c === 0x0d || c === 0x09) {
      i++;
      continue;
    }
    const rec = i;
    let from = i;
    let t = 0;
    while ((d = buf[i]! - 0x30) >= 0 && d <= 9) {
      t = t * 10 + d;
      i++;
    }
    if (i === from || buf[i] !== 0x2c || ++i >= end) {
      i = rec;
      break;
    }
    from = i;
    let name = 0;
    while ((d = buf[i]! - 0x30) >= 0 && d <= 9) {
      name = name * 10 + d;
      i++;
    }
    if (i === from || buf[i] !== 0x2c || ++i >= end) {
      i = rec;
      break;
    }
    from = i;
    let to = 0;
    while ((d = buf[i]! - 0x30) >= 0 && d <= 9) {
      to = to * 10 + d;
      i++;
    }
    const q = to / nf;
    if (i === from || o >= edgeCount || t >= typeCount || name > U32 || !(q < nodeCount) || q !== Math.floor(q)) {
      i = rec;
      break;
    }
    edgeType[o] = t;
    edgeTo[o] = q;
    if (edgeName !== null) edgeName[o] = name;
    if (indexNamed[t] === 0 && name > maxName) maxName = name;
    o++;
  }
  st.ord = o;
  st.maxName = maxName;
  return i;
}

/** Scans "nodes" numbers in buf[i..end); returns where it stopped (end, after ']', or at a problem in st). */
export function scanNodes(buf: Uint8Array, i: number, end: number, st: NodeScan): number {
  const fast = v8NodeOrder(st.layout);
  for (;;) {
    if (fast && st.field === 0) i = fastNodes(buf, i, end, st);
    if (i >= end) return i;
    // one record the fast loop did not take (or all of them, in another field order)
    i = slowNodes(buf, i, end, st, fast ? st.ord + 1 : Infinity);
    if (st.closed || st.bad >= 0 || st.error !== '' || st.widen || i >= end) return i;
  }
}

/** Scans "edges" numbers in buf[i..end); returns where it stopped (end, after ']', or at a problem in st). */
export function scanEdges(buf: Uint8Array, i: number, end: number, st: EdgeScan): number {
  const fast = v8EdgeOrder(st.layout);
  for (;;) {
    if (fast && st.field === 0) i = fastEdges(buf, i, end, st);
    if (i >= end) return i;
    i = slowEdges(buf, i, end, st, fast ? st.ord + 1 : Infinity);
    if (st.closed || st.bad >= 0 || st.error !== '' || i >= end) return i;
  }
}

/** Scans "locations" numbers in buf[i..end); returns where it stopped. */
export function scanLocations(buf: Uint8Array, i: number, end: number, st: LocationScan): number {
  const L = st.layout;
  const { lf, lObj, lScript, lLine, lCol, nf, nodeCount } = L;
  const rec = st.rec;
  let o = st.ord;
  let f = st.field;
  while (i < end) {
    const c = buf[i]!;
    let d = c - 0x30;
    if (d >= 0 && d <= 9) {
      let v = d;
      for (i++; (d = buf[i]! - 0x30) >= 0 && d <= 9; i++) v = v * 10 + d;
      rec[f] = v;
      if (++f < lf) continue;
      f = 0;
      const q = rec[lObj]! / nf;
      const script = rec[lScript]!;
      const line = rec[lLine]!;
      const col = rec[lCol]!;
      if (!(q < nodeCount && q === Math.floor(q)) || script > U32 || line > U32 || col > U32) {
        st.error = `location ${o} is not [object_index, script_id, line, column] of one of the ${nodeCount} nodes: [${rec.join(', ')}]`;
        break;
      }
      if (o * 4 + 4 > st.locations.length) {
        const grown = new Uint32Array(Math.ceil(st.locations.length * 1.5 / 4) * 4);
        grown.set(st.locations);
        st.locations = grown;
      }
      const at = o * 4;
      const loc = st.locations;
      loc[at] = q;
      loc[at + 1] = script;
      loc[at + 2] = line;
      loc[at + 3] = col;
      o++;
      continue;
    }
    if (c === 0x2c || c === 0x0a || c === 0x20 || c === 0x0d || c === 0x09) {
      i++;
      continue;
    }
    if (c === 0x5d) {
      st.closed = true;
      i++;
    } else st.bad = i;
    break;
  }
  st.ord = o;
  st.field = f;
  return i;
}

/** Why a scan stopped early, as one line naming the array and the file offset. */
function scanProblem(what: string, st: ScanState, buf: Uint8Array, fileOffsetOfBuf: number): string | null {
  if (st.error) return st.error;
  if (st.bad < 0) return null;
  const c = buf[st.bad]!;
  const at = `in "${what}" at byte ${fileOffsetOfBuf + st.bad}`;
  if (c === 0x2d) return `negative number ${at}: counts and indexes in a heap snapshot are never negative`;
  if (c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b) return `non-integer number ${at}: counts and indexes in a heap snapshot are integers`;
  return `unexpected ${describeByte(c)} ${at}`;
}

type Scanner<S> = (buf: Uint8Array, i: number, end: number, st: S) => number;

/**
 * Runs `scan` over src from just after an array's '[' until its ']', reading as it goes.
 * `recover` may fix what stopped a scan (widening selfSize) and return true to go on.
 */
export function readNumbers<S extends ScanState>(
  src: Source,
  what: string,
  scan: Scanner<S>,
  st: S,
  fail: (why: string) => never,
  onChunk?: () => void,
  recover?: (st: S) => boolean,
): void {
  for (;;) {
    const end = src.numbersEnd();
    if (end >= 0) {
      src.pos = scan(src.buf, src.pos, end, st);
      if (st.closed) return;
      const recovered = recover?.(st) ?? false;
      const problem = scanProblem(what, st, src.buf, src.base);
      if (problem !== null) fail(problem);
      if (recovered) continue;
      if (src.pos < end) fail(`"${what}": scan stopped at byte ${src.offset} for no reason (a bug)`);
      onChunk?.();
    }
    if (!src.more()) {
      fail(src.atEof ? `truncated: file ends inside the "${what}" array at byte ${src.size} (incomplete snapshot)` : `a number in "${what}" at byte ${src.offset} is longer than ${src.capacity} digits`);
    }
  }
}
