// Streaming reader for V8's .heapsnapshot JSON. The file is read in chunks; numbers go byte by
// byte straight into typed arrays (column per field), strings are kept as raw bytes (see
// strings.ts). The whole file is never one JS string, so multi-GB snapshots load.
import { open } from 'node:fs/promises';
import { HeapSnapshotError } from './errors.ts';
import { StringTable } from './strings.ts';
import type { HeapSnapshot } from './types.ts';

export interface ReadOptions {
  /** Keep edge names (needed for retainer paths, leaks, redact). Default true. */
  edgeNames?: boolean;
  /** Called with (bytesRead, totalBytes) after every chunk. */
  onProgress?: (read: number, total: number) => void;
  /** Read size in bytes. Default 8 MiB. */
  chunkSize?: number;
}

const REQUIRED_NODE_FIELDS = ['type', 'name', 'id', 'self_size', 'edge_count'] as const;
const KNOWN_NODE_FIELDS = new Set<string>([...REQUIRED_NODE_FIELDS, 'trace_node_id', 'detachedness']);
const REQUIRED_EDGE_FIELDS = ['type', 'name_or_index', 'to_node'] as const;

// parser modes
const M_OPEN = 0;
const M_KEY_OR_END = 1;
const M_KEY = 2;
const M_COLON = 3;
const M_VALUE = 4;
const M_ARR_OPEN = 5;
const M_NUMS = 6;
const M_STRS = 7;
const M_STR = 8;
const M_SKIP = 9;
const M_DONE = 10;

const STAGE = 1 << 16;

interface Meta {
  nodeFields: string[];
  nodeTypes: string[];
  edgeFields: string[];
  edgeTypes: string[];
  locationFields: string[];
  nodeCount: number;
  edgeCount: number;
  rootIndex: number;
}

function describeByte(c: number): string {
  return c >= 0x20 && c < 0x7f ? `'${String.fromCharCode(c)}'` : `byte 0x${c.toString(16)}`;
}

function parseMeta(file: string, raw: Buffer): Meta {
  let snap: unknown;
  try {
    snap = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new HeapSnapshotError(file, 'not a V8 heap snapshot: "snapshot" header is not valid JSON');
  }
  const meta = (snap as { meta?: Record<string, unknown> } | null)?.meta;
  if (!meta || typeof meta !== 'object') throw new HeapSnapshotError(file, 'not a V8 heap snapshot: no "snapshot.meta"');
  const strs = (v: unknown): string[] | null => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : null);
  const nodeFields = strs(meta['node_fields']);
  const edgeFields = strs(meta['edge_fields']);
  const nodeTypesRaw = meta['node_types'];
  const edgeTypesRaw = meta['edge_types'];
  if (!nodeFields || !edgeFields) throw new HeapSnapshotError(file, 'not a V8 heap snapshot: meta lacks node_fields/edge_fields');
  const missingN = REQUIRED_NODE_FIELDS.filter((f) => !nodeFields.includes(f));
  if (missingN.length > 0) {
    const unknown = nodeFields.filter((f) => !KNOWN_NODE_FIELDS.has(f));
    throw new HeapSnapshotError(
      file,
      `unsupported node_fields [${nodeFields.join(', ')}]: missing ${missingN.join(', ')}${unknown.length ? `, unknown ${unknown.join(', ')}` : ''}`,
    );
  }
  const missingE = REQUIRED_EDGE_FIELDS.filter((f) => !edgeFields.includes(f));
  if (missingE.length > 0) {
    throw new HeapSnapshotError(file, `unsupported edge_fields [${edgeFields.join(', ')}]: missing ${missingE.join(', ')}`);
  }
  const nodeTypes = Array.isArray(nodeTypesRaw) ? strs(nodeTypesRaw[nodeFields.indexOf('type')]) : null;
  const edgeTypes = Array.isArray(edgeTypesRaw) ? strs(edgeTypesRaw[edgeFields.indexOf('type')]) : null;
  if (!nodeTypes || !edgeTypes) throw new HeapSnapshotError(file, 'not a V8 heap snapshot: meta lacks node_types/edge_types');
  const s = snap as Record<string, unknown>;
  const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : -1);
  return {
    nodeFields,
    nodeTypes,
    edgeFields,
    edgeTypes,
    locationFields: strs(meta['location_fields']) ?? ['object_index', 'script_id', 'line', 'column'],
    nodeCount: num(s['node_count']),
    edgeCount: num(s['edge_count']),
    rootIndex: Math.max(0, num(s['root_index'])),
  };
}

function growU32(a: Uint32Array, min: number): Uint32Array<ArrayBuffer> {
  const b = new Uint32Array(Math.max(min, Math.ceil(a.length * 1.5) + 1024));
  b.set(a);
  return b;
}
function growU8(a: Uint8Array, min: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(Math.max(min, Math.ceil(a.length * 1.5) + 1024));
  b.set(a);
  return b;
}

interface NumState {
  v: number;
  inN: boolean;
  neg: boolean;
  frac: number;
  staged: number;
  closed: boolean;
  bad: number;
}

/**
 * The hot loop: numbers separated by commas/whitespace, ended by ']'. Parses digits straight
 * into `stage`; calls onFull when it is full. Returns the index after what it consumed.
 */
function scanNumbers(buf: Buffer, i: number, end: number, st: NumState, stage: Float64Array, onFull: () => void): number {
  // State lives in locals for the loop (V8 keeps them in registers); heap snapshots are almost
  // all non-negative integers, so the digit path is one compare and one multiply-add.
  let v = st.v;
  let inN = st.inN;
  let staged = st.staged;
  let frac = st.frac;
  let neg = st.neg;
  for (; i < end; i++) {
    const c = buf[i]!;
    const d = c - 0x30;
    if (d >= 0 && d <= 9) {
      if (frac === 0) v = v * 10 + d;
      else {
        frac *= 10;
        v += d / frac;
      }
      inN = true;
      continue;
    }
    if (inN) {
      stage[staged++] = neg ? -v : v;
      if (staged === STAGE) {
        st.staged = staged;
        onFull();
        staged = 0;
      }
      v = 0;
      inN = false;
      neg = false;
      frac = 0;
    }
    if (c === 0x2c || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    if (c === 0x5d) {
      st.closed = true;
      i++;
      break;
    }
    if (c === 0x2d) {
      neg = true;
      continue;
    }
    if (c === 0x2e) {
      frac = 1;
      inN = true;
      continue;
    }
    st.bad = c;
    break;
  }
  st.v = v;
  st.inN = inN;
  st.staged = staged;
  st.frac = frac;
  st.neg = neg;
  return i;
}

/** Reads a .heapsnapshot file into columnar typed arrays. Throws HeapSnapshotError on bad input. */
export async function readHeapSnapshot(path: string, opts: ReadOptions = {}): Promise<HeapSnapshot> {
  const keepEdgeNames = opts.edgeNames !== false;
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new HeapSnapshotError(path, code === 'ENOENT' ? 'no such file' : `cannot open (${code ?? String(err)})`);
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw new HeapSnapshotError(path, 'is a directory, not a heap snapshot file');
    const total = st.size;
    if (total === 0) throw new HeapSnapshotError(path, 'empty file (0 bytes); the snapshot was never written (process killed while writing?)');
    const chunkSize = opts.chunkSize ?? 8 * 1024 * 1024;
    const buf = Buffer.allocUnsafe(chunkSize);

    // ---- state
    let mode = M_OPEN;
    let key = '';
    const keyBytes: number[] = [];
    let keyEscape = false;
    let meta: Meta | null = null;
    let seen = new Set<string>();

    // skip / capture of generic values
    let skipDepth = 0;
    let skipInStr = false;
    let skipEsc = false;
    let capture = null as Buffer[] | null;
    let captureLen = 0;

    // number array
    let arrKind = 0; // 1 nodes, 2 edges, 3 locations, 4 other numbers
    const ns: NumState = { v: 0, inN: false, neg: false, frac: 0, staged: 0, closed: false, bad: -1 };
    const stage = new Float64Array(STAGE);
    let staged = 0;
    let arrPos = 0; // numbers consumed so far in the current array

    // strings
    const strings = new StringTable();
    let strEsc = false;
    let stringsStart = -1;
    let stringsEnd = -1;

    // columns
    let nf = 0;
    let nType = 0, nName = 0, nId = 0, nSize = 0, nEdges = 0;
    let ef = 0;
    let eType = 0, eName = 0, eTo = 0;
    let lf = 4;
    let lObj = 0, lScript = 1, lLine = 2, lCol = 3;
    let nodeType = new Uint8Array(0);
    let nodeName = new Uint32Array(0);
    let nodeId = new Uint32Array(0);
    let selfSize: Uint32Array<ArrayBuffer> | Float64Array<ArrayBuffer> = new Uint32Array(0);
    let firstEdge = new Uint32Array(1);
    let edgeType = new Uint8Array(0);
    let edgeName = new Uint32Array(0);
    let edgeTo = new Uint32Array(0);
    let locations = new Uint32Array(0);
    let nodesDone = 0; // numbers written into node columns
    let edgesDone = 0;
    let locsDone = 0;
    let edgeSum = 0; // running sum of edge_count
    let maxStringRef = -1;
    let badToNode = -1;

    const fail = (why: string): never => {
      throw new HeapSnapshotError(path, why);
    };

    const flush = (): void => {
      const n = staged;
      staged = 0;
      if (arrKind === 1) {
        let ord = Math.floor(nodesDone / nf);
        let fld = nodesDone % nf;
        const need = Math.ceil((nodesDone + n) / nf) + 1;
        if (need > nodeType.length) {
          nodeType = growU8(nodeType, need);
          nodeName = growU32(nodeName, need);
          nodeId = growU32(nodeId, need);
          const s2 = selfSize instanceof Float64Array ? new Float64Array(nodeType.length) : new Uint32Array(nodeType.length);
          s2.set(selfSize);
          selfSize = s2;
          firstEdge = growU32(firstEdge, need + 1);
        }
        let j = 0;
        if (fld === 0 && !(selfSize instanceof Float64Array)) {
          // whole records
          const ss = selfSize;
          for (; j + nf <= n; j += nf, ord++) {
            nodeType[ord] = stage[j + nType]!;
            const nm = stage[j + nName]!;
            nodeName[ord] = nm;
            if (nm > maxStringRef) maxStringRef = nm;
            nodeId[ord] = stage[j + nId]!;
            const sz = stage[j + nSize]!;
            if (sz > 0xffffffff) break;
            ss[ord] = sz;
            firstEdge[ord] = edgeSum;
            edgeSum += stage[j + nEdges]!;
          }
        }
        for (; j < n; j++) {
          const v = stage[j]!;
          if (fld === nType) nodeType[ord] = v;
          else if (fld === nName) {
            nodeName[ord] = v;
            if (v > maxStringRef) maxStringRef = v;
          } else if (fld === nId) nodeId[ord] = v;
          else if (fld === nSize) {
            if (v > 0xffffffff && !(selfSize instanceof Float64Array)) {
              const s2 = new Float64Array(selfSize.length);
              s2.set(selfSize);
              selfSize = s2;
            }
            selfSize[ord] = v;
          } else if (fld === nEdges) {
            firstEdge[ord] = edgeSum;
            edgeSum += v;
          }
          if (++fld === nf) {
            fld = 0;
            ord++;
          }
        }
        nodesDone += n;
      } else if (arrKind === 2) {
        let ord = Math.floor(edgesDone / ef);
        let fld = edgesDone % ef;
        const need = Math.ceil((edgesDone + n) / ef) + 1;
        if (need > edgeType.length) {
          edgeType = growU8(edgeType, need);
          edgeTo = growU32(edgeTo, need);
          if (keepEdgeNames) edgeName = growU32(edgeName, need);
        }
        let j = 0;
        if (fld === 0) {
          for (; j + ef <= n; j += ef, ord++) {
            edgeType[ord] = stage[j + eType]!;
            const o = stage[j + eTo]! / nf;
            if (o !== Math.floor(o) && badToNode < 0) badToNode = o * nf;
            edgeTo[ord] = o;
            if (keepEdgeNames) edgeName[ord] = stage[j + eName]!;
          }
        }
        for (; j < n; j++) {
          const v = stage[j]!;
          if (fld === eType) edgeType[ord] = v;
          else if (fld === eTo) {
            const o = v / nf;
            if (o !== Math.floor(o) && badToNode < 0) badToNode = v;
            edgeTo[ord] = o;
          } else if (fld === eName && keepEdgeNames) edgeName[ord] = v;
          if (++fld === ef) {
            fld = 0;
            ord++;
          }
        }
        edgesDone += n;
      } else if (arrKind === 3) {
        if (locsDone + n > locations.length) locations = growU32(locations, locsDone + n);
        for (let j = 0; j < n; j++) {
          const fld = (locsDone + j) % lf;
          const v = stage[j]!;
          // stored as [ordinal, script, line, column]
          const base = Math.floor((locsDone + j) / lf) * 4;
          if (fld === lObj) locations[base] = v / nf;
          else if (fld === lScript) locations[base + 1] = v;
          else if (fld === lLine) locations[base + 2] = v;
          else if (fld === lCol) locations[base + 3] = v;
        }
        locsDone += n;
      }
    };

    const onFull = (): void => {
      staged = STAGE;
      flush();
      arrPos += STAGE;
    };

    const beginValue = (k: string): number => {
      if (k === 'nodes' || k === 'edges' || k === 'locations') {
        if (!meta) fail(`"${k}" appears before the "snapshot" header; not a V8 heap snapshot`);
        arrKind = k === 'nodes' ? 1 : k === 'edges' ? 2 : 3;
        if (arrKind === 2 && nodesDone === 0 && !seen.has('nodes')) fail('"edges" before "nodes"; not a V8 heap snapshot');
        return M_ARR_OPEN;
      }
      if (k === 'samples' || k === 'trace_function_infos') {
        arrKind = 4;
        return M_ARR_OPEN;
      }
      if (k === 'strings') {
        arrKind = 5;
        return M_ARR_OPEN;
      }
      skipDepth = 0;
      skipInStr = false;
      skipEsc = false;
      capture = k === 'snapshot' ? [] : null;
      captureLen = 0;
      return M_SKIP;
    };

    const endValue = (): void => {
      if (key === 'snapshot' && capture) {
        meta = parseMeta(path, Buffer.concat(capture));
        capture = null;
        nf = meta.nodeFields.length;
        nType = meta.nodeFields.indexOf('type');
        nName = meta.nodeFields.indexOf('name');
        nId = meta.nodeFields.indexOf('id');
        nSize = meta.nodeFields.indexOf('self_size');
        nEdges = meta.nodeFields.indexOf('edge_count');
        ef = meta.edgeFields.length;
        eType = meta.edgeFields.indexOf('type');
        eName = meta.edgeFields.indexOf('name_or_index');
        eTo = meta.edgeFields.indexOf('to_node');
        lf = meta.locationFields.length;
        lObj = meta.locationFields.indexOf('object_index');
        lScript = meta.locationFields.indexOf('script_id');
        lLine = meta.locationFields.indexOf('line');
        lCol = meta.locationFields.indexOf('column');
        if (meta.nodeCount >= 0) {
          const n = meta.nodeCount + 1;
          nodeType = new Uint8Array(n);
          nodeName = new Uint32Array(n);
          nodeId = new Uint32Array(n);
          selfSize = new Uint32Array(n);
          firstEdge = new Uint32Array(n + 1);
        }
        if (meta.edgeCount >= 0) {
          const n = meta.edgeCount + 1;
          edgeType = new Uint8Array(n);
          edgeTo = new Uint32Array(n);
          if (keepEdgeNames) edgeName = new Uint32Array(n);
        }
      }
      seen.add(key);
    };

    let offset = 0; // file offset of buf[0]
    let pos = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, chunkSize, offset);
      if (bytesRead === 0) break;
      const end = bytesRead;
      let i = 0;
      while (i < end) {
        switch (mode) {
          case M_NUMS: {
            ns.staged = staged;
            i = scanNumbers(buf, i, end, ns, stage, onFull);
            staged = ns.staged;
            if (ns.closed) {
              ns.closed = false;
              arrPos += staged;
              flush();
              mode = M_KEY_OR_END;
              endValue();
            } else if (ns.bad >= 0) {
              fail(`unexpected ${describeByte(ns.bad)} in "${key}" array at byte ${offset + i}`);
            }
            break;
          }
          case M_STR: {
            const start = i;
            let esc: boolean = strEsc;
            for (; i < end; i++) {
              const c = buf[i]!;
              if (esc) {
                esc = false;
                continue;
              }
              if (c === 0x5c) {
                esc = true;
                continue;
              }
              if (c === 0x22) break;
            }
            strEsc = esc;
            strings.append(buf, start, i);
            if (i < end) {
              strings.end();
              i++;
              mode = M_STRS;
            }
            break;
          }
          case M_STRS: {
            const c = buf[i]!;
            i++;
            if (c === 0x22) {
              strings.begin();
              strEsc = false;
              mode = M_STR;
            } else if (c === 0x5d) {
              stringsEnd = offset + i;
              mode = M_KEY_OR_END;
              endValue();
            } else if (!(c === 0x2c || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)) {
              fail(`unexpected ${describeByte(c)} in "strings" array at byte ${offset + i - 1}`);
            }
            break;
          }
          case M_SKIP: {
            const start = i;
            let done = false;
            for (; i < end; i++) {
              const c = buf[i]!;
              if (skipInStr) {
                if (skipEsc) skipEsc = false;
                else if (c === 0x5c) skipEsc = true;
                else if (c === 0x22) {
                  skipInStr = false;
                  if (skipDepth === 0) {
                    i++;
                    done = true;
                    break;
                  }
                }
                continue;
              }
              if (c === 0x22) skipInStr = true;
              else if (c === 0x7b || c === 0x5b) skipDepth++;
              else if (c === 0x7d || c === 0x5d) {
                if (skipDepth === 0) {
                  done = true; // end of the enclosing object; not ours
                  break;
                }
                if (--skipDepth === 0) {
                  i++;
                  done = true;
                  break;
                }
              } else if (c === 0x2c && skipDepth === 0) {
                done = true;
                break;
              }
            }
            if (capture) {
              captureLen += i - start;
              if (captureLen > 64 * 1024 * 1024) fail('not a V8 heap snapshot: "snapshot" header is larger than 64 MiB');
              capture.push(Buffer.from(buf.subarray(start, i)));
            }
            if (done) {
              mode = M_KEY_OR_END;
              endValue();
            }
            break;
          }
          case M_KEY: {
            const c = buf[i]!;
            i++;
            if (keyEscape) {
              keyEscape = false;
              keyBytes.push(c);
            } else if (c === 0x5c) keyEscape = true;
            else if (c === 0x22) {
              key = Buffer.from(keyBytes).toString('utf8');
              keyBytes.length = 0;
              mode = M_COLON;
            } else {
              if (keyBytes.length > 256) fail('not a V8 heap snapshot: overlong object key');
              keyBytes.push(c);
            }
            break;
          }
          default: {
            const c = buf[i]!;
            i++;
            if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) break;
            if (mode === M_OPEN) {
              if (c !== 0x7b) fail(`not a V8 heap snapshot: starts with ${describeByte(c)}, expected '{'`);
              mode = M_KEY_OR_END;
            } else if (mode === M_KEY_OR_END) {
              if (c === 0x2c) break;
              if (c === 0x22) mode = M_KEY;
              else if (c === 0x7d) mode = M_DONE;
              else fail(`not a V8 heap snapshot: unexpected ${describeByte(c)} at byte ${offset + i - 1}`);
            } else if (mode === M_COLON) {
              if (c !== 0x3a) fail(`not a V8 heap snapshot: expected ':' after "${key}" at byte ${offset + i - 1}`);
              mode = M_VALUE;
            } else if (mode === M_VALUE) {
              const next = beginValue(key);
              if (next === M_SKIP) {
                i--; // re-read this byte as part of the skipped value
                mode = M_SKIP;
              } else {
                if (c !== 0x5b) fail(`"${key}" is not an array (byte ${offset + i - 1}); not a V8 heap snapshot`);
                if (arrKind === 5) {
                  stringsStart = offset + i - 1;
                  mode = M_STRS;
                } else {
                  ns.v = 0;
                  ns.inN = false;
                  ns.neg = false;
                  ns.frac = 0;
                  ns.closed = false;
                  ns.bad = -1;
                  staged = 0;
                  arrPos = 0;
                  mode = M_NUMS;
                }
              }
            } else if (mode === M_ARR_OPEN) {
              fail('internal parser state');
            } else if (mode === M_DONE) {
              fail(`trailing data after the snapshot at byte ${offset + i - 1}`);
            }
          }
        }
      }
      offset += bytesRead;
      pos = offset;
      opts.onProgress?.(offset, total);
    }
    void pos;

    if (mode !== M_DONE) {
      const where =
        mode === M_NUMS ? `inside the "${key}" array` : mode === M_STR || mode === M_STRS ? 'inside the "strings" array' : mode === M_OPEN ? 'before any content' : `after "${key}"`;
      fail(`truncated: file ends ${where} at byte ${offset} (incomplete snapshot)`);
    }
    const m = meta as Meta | null;
    if (!m) fail('not a V8 heap snapshot: no "snapshot" header');
    const meta2 = m as Meta;
    for (const k of ['nodes', 'edges', 'strings']) if (!seen.has(k)) fail(`not a V8 heap snapshot: no "${k}" array`);
    if (nodesDone % nf !== 0) fail(`"nodes" has ${nodesDone} numbers, not a multiple of ${nf} node fields`);
    if (edgesDone % ef !== 0) fail(`"edges" has ${edgesDone} numbers, not a multiple of ${ef} edge fields`);
    const nodeCount = nodesDone / nf;
    const edgeCount = edgesDone / ef;
    if (nodeCount === 0) fail('snapshot has no nodes');
    if (meta2.nodeCount >= 0 && meta2.nodeCount !== nodeCount) fail(`snapshot.node_count says ${meta2.nodeCount} but "nodes" holds ${nodeCount}`);
    if (edgeSum !== edgeCount) fail(`node edge_count values add up to ${edgeSum} but "edges" holds ${edgeCount}`);
    if (badToNode >= 0) fail(`edge to_node ${badToNode} is not a multiple of ${nf} node fields`);
    for (let e = 0; e < edgeCount; e++) {
      if (edgeTo[e]! >= nodeCount) fail(`edge ${e} points to node index ${edgeTo[e]! * nf}, beyond the ${nodeCount} nodes`);
    }
    if (maxStringRef >= strings.length) fail(`node name refers to string ${maxStringRef} but "strings" holds ${strings.length}`);
    for (let o = 0; o < nodeCount; o++) {
      if (nodeType[o]! >= meta2.nodeTypes.length) fail(`node ${o} has type ${nodeType[o]}, unknown in meta.node_types`);
    }
    firstEdge[nodeCount] = edgeCount;
    strings.seal();
    const locCount = Math.floor(locsDone / lf);
    return {
      file: path,
      fileSize: total,
      nodeCount,
      edgeCount,
      nodeTypes: meta2.nodeTypes,
      edgeTypes: meta2.edgeTypes,
      rootOrdinal: Math.floor(meta2.rootIndex / nf),
      nodeType: nodeType.subarray(0, nodeCount),
      nodeName: nodeName.subarray(0, nodeCount),
      nodeId: nodeId.subarray(0, nodeCount),
      selfSize: selfSize.subarray(0, nodeCount),
      firstEdge: firstEdge.subarray(0, nodeCount + 1),
      edgeType: edgeType.subarray(0, edgeCount),
      edgeName: keepEdgeNames ? edgeName.subarray(0, edgeCount) : null,
      edgeTo: edgeTo.subarray(0, edgeCount),
      locations: locations.subarray(0, locCount * 4),
      strings,
      stringsRange: { start: stringsStart, end: stringsEnd },
    };
  } finally {
    await fh.close();
  }
}
