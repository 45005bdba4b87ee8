import type { StringTable } from './strings.ts';

/**
 * A parsed heap snapshot in columnar form: one typed array per node field and per edge field,
 * indexed by node ordinal (position in the `nodes` array / node_fields.length) and edge ordinal.
 * Edges of node o are firstEdge[o] .. firstEdge[o+1]-1; edgeTo holds node ordinals.
 */
export interface HeapSnapshot {
  readonly file: string;
  readonly fileSize: number;
  readonly nodeCount: number;
  readonly edgeCount: number;
  /** meta.node_types[0]: names of node type codes. */
  readonly nodeTypes: readonly string[];
  /** meta.edge_types[0]: names of edge type codes. */
  readonly edgeTypes: readonly string[];
  readonly rootOrdinal: number;
  readonly nodeType: Uint8Array;
  readonly nodeName: Uint32Array;
  readonly nodeId: Uint32Array;
  readonly selfSize: Uint32Array | Float64Array;
  /** Sum of all self sizes, bytes. */
  readonly totalSelfSize: number;
  readonly firstEdge: Uint32Array;
  readonly edgeType: Uint8Array;
  /** String index (property, internal, context, shortcut, weak) or number (element, hidden); null when not loaded. */
  readonly edgeName: Uint32Array | null;
  readonly edgeTo: Uint32Array;
  /** Flat [nodeOrdinal, scriptId, line, column] quadruples (0-based line/column). */
  readonly locations: Uint32Array;
  readonly strings: StringTable;
  /** Byte range of the `strings` array value in the file (for streaming rewrites). */
  readonly stringsRange: { readonly start: number; readonly end: number };
}

/** Result of the dominator computation, all indexed by node ordinal except `order`. */
export interface DominatorTree {
  /** Immediate dominator ordinal of every node (the root dominates itself). */
  readonly dominator: Uint32Array;
  /** Retained size of every node. */
  readonly retained: Float64Array;
  /** Node ordinals in DFS preorder: every node appears after its immediate dominator. */
  readonly order: Uint32Array;
}
