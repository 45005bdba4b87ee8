// The snapshot header (`"snapshot": {"meta": ..., "node_count": ..., ...}`), checked before any
// loop trusts it: field lists, type names, and counts that are non-negative integers a file of
// this size can hold. Every problem is one line naming what is wrong.

const REQUIRED_NODE_FIELDS = ['type', 'name', 'id', 'self_size', 'edge_count'] as const;
const KNOWN_NODE_FIELDS = new Set<string>([...REQUIRED_NODE_FIELDS, 'trace_node_id', 'detachedness']);
const REQUIRED_EDGE_FIELDS = ['type', 'name_or_index', 'to_node'] as const;
const LOCATION_FIELDS = ['object_index', 'script_id', 'line', 'column'] as const;
/** Types are stored in a Uint8Array. */
const MAX_TYPES = 256;
/** More fields than V8 has ever written: the header is not what it claims to be. */
const MAX_FIELDS = 64;

/** Where each field sits in a record, the counts, and the type names: everything the scanners need. */
export interface Layout {
  readonly nodeFields: readonly string[];
  readonly edgeFields: readonly string[];
  readonly nodeTypes: readonly string[];
  readonly edgeTypes: readonly string[];
  readonly nf: number;
  readonly nType: number;
  readonly nName: number;
  readonly nId: number;
  readonly nSize: number;
  readonly nEdges: number;
  readonly ef: number;
  readonly eType: number;
  readonly eName: number;
  readonly eTo: number;
  /** Location record: length and where object_index, script_id, line, column sit. */
  readonly lf: number;
  readonly lObj: number;
  readonly lScript: number;
  readonly lLine: number;
  readonly lCol: number;
  readonly nodeCount: number;
  readonly edgeCount: number;
  readonly rootOrdinal: number;
  /** 1 for edge types whose name_or_index is a number (element, hidden), 0 for a string index. */
  readonly indexNamed: Uint8Array;
}

export class LayoutError extends Error {}

const fail = (why: string): never => {
  throw new LayoutError(why);
};

/** A value from the file in a message: JSON, at most 80 characters. */
const brief = (v: unknown): string => {
  const j = JSON.stringify(v) ?? String(v);
  return j.length > 80 ? `${j.slice(0, 77)}...` : j;
};

const strs = (v: unknown): string[] | null => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : null);

function count(v: unknown, name: string, perRecord: number, fileSize: number): number {
  if (v === undefined) return fail(`not a V8 heap snapshot this reader supports: snapshot.${name} is missing`);
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return fail(`snapshot.${name} must be a non-negative integer, got ${brief(v)}`);
  // every number of a record takes at least a digit and a separator
  if (v * perRecord * 2 > fileSize) return fail(`truncated (or corrupt): snapshot.${name} says ${v}, more than a ${fileSize}-byte file can hold`);
  return v;
}

function typeNames(raw: unknown, fields: readonly string[], what: 'node' | 'edge'): string[] {
  const types = Array.isArray(raw) ? strs(raw[fields.indexOf('type')]) : null;
  if (!types) return fail(`not a V8 heap snapshot: meta lacks ${what}_types`);
  if (types.length === 0 || types.length > MAX_TYPES) return fail(`meta.${what}_types lists ${types.length} types (1 to ${MAX_TYPES} supported)`);
  return types;
}

/** Parses and checks the header object (the value of "snapshot"). */
export function parseLayout(headerJson: string, fileSize: number): Layout {
  let snap: unknown;
  try {
    snap = JSON.parse(headerJson);
  } catch {
    return fail('not a V8 heap snapshot: "snapshot" header is not valid JSON');
  }
  const s = (snap !== null && typeof snap === 'object' ? snap : {}) as Record<string, unknown>;
  const meta = s['meta'] as Record<string, unknown> | undefined;
  if (!meta || typeof meta !== 'object') return fail('not a V8 heap snapshot: no "snapshot.meta"');
  const nodeFields = strs(meta['node_fields']);
  const edgeFields = strs(meta['edge_fields']);
  if (!nodeFields || !edgeFields) return fail('not a V8 heap snapshot: meta lacks node_fields/edge_fields');
  const missingN = REQUIRED_NODE_FIELDS.filter((f) => !nodeFields.includes(f));
  if (missingN.length > 0) {
    const unknown = nodeFields.filter((f) => !KNOWN_NODE_FIELDS.has(f));
    fail(`unsupported node_fields [${brief(nodeFields.join(', ')).slice(1, -1)}]: missing ${missingN.join(', ')}${unknown.length ? `, unknown ${unknown.join(', ')}` : ''}`);
  }
  const missingE = REQUIRED_EDGE_FIELDS.filter((f) => !edgeFields.includes(f));
  if (missingE.length > 0) fail(`unsupported edge_fields [${edgeFields.join(', ')}]: missing ${missingE.join(', ')}`);
  if (nodeFields.length > MAX_FIELDS || edgeFields.length > MAX_FIELDS) fail(`meta lists ${Math.max(nodeFields.length, edgeFields.length)} fields per record (at most ${MAX_FIELDS} supported)`);
  const nodeTypes = typeNames(meta['node_types'], nodeFields, 'node');
  const edgeTypes = typeNames(meta['edge_types'], edgeFields, 'edge');
  const locationFields = strs(meta['location_fields']) ?? [...LOCATION_FIELDS];
  const missingL = LOCATION_FIELDS.filter((f) => !locationFields.includes(f));
  if (missingL.length > 0 || locationFields.length > MAX_FIELDS) fail(`unsupported location_fields [${locationFields.join(', ')}]`);

  const nf = nodeFields.length;
  const ef = edgeFields.length;
  const nodeCount = count(s['node_count'], 'node_count', nf, fileSize);
  const edgeCount = count(s['edge_count'], 'edge_count', ef, fileSize);
  if (nodeCount === 0) fail('snapshot has no nodes (node_count 0)');
  const rootIndex = s['root_index'] ?? 0; // V8 does not write it: the root is the first node
  if (typeof rootIndex !== 'number' || !Number.isSafeInteger(rootIndex) || rootIndex < 0 || rootIndex % nf !== 0 || rootIndex / nf >= nodeCount) {
    fail(`snapshot.root_index ${brief(rootIndex)} is not the index of one of the ${nodeCount} nodes`);
  }
  const indexNamed = new Uint8Array(edgeTypes.length);
  edgeTypes.forEach((t, i) => (indexNamed[i] = t === 'element' || t === 'hidden' ? 1 : 0));
  return {
    nodeFields,
    edgeFields,
    nodeTypes,
    edgeTypes,
    nf,
    nType: nodeFields.indexOf('type'),
    nName: nodeFields.indexOf('name'),
    nId: nodeFields.indexOf('id'),
    nSize: nodeFields.indexOf('self_size'),
    nEdges: nodeFields.indexOf('edge_count'),
    ef,
    eType: edgeFields.indexOf('type'),
    eName: edgeFields.indexOf('name_or_index'),
    eTo: edgeFields.indexOf('to_node'),
    lf: locationFields.length,
    lObj: locationFields.indexOf('object_index'),
    lScript: locationFields.indexOf('script_id'),
    lLine: locationFields.indexOf('line'),
    lCol: locationFields.indexOf('column'),
    nodeCount,
    edgeCount,
    rootOrdinal: (rootIndex as number) / nf,
    indexNamed,
  };
}
