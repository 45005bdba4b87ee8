// Turns V8 call frames (inspector Runtime.CallFrame: 0-based lines/columns, function start
// positions) into pprof functions and locations, shared by the heap and CPU converters.
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PprofFunction, PprofLocation } from '@tailtrace/formats';

/** Runtime.CallFrame as the inspector reports it (and `node --cpu-prof/--heap-prof` write it). */
export interface V8CallFrame {
  functionName: string;
  scriptId: string;
  url: string;
  /** 0-based; -1 when unknown. This is the function's start, not a call site. */
  lineNumber: number;
  /** 0-based; -1 when unknown. */
  columnNumber: number;
}

function filenameOf(url: string): string {
  if (!url.startsWith('file://')) return url;
  try {
    return fileURLToPath(url);
  } catch {
    return url;
  }
}

export class FrameTable {
  readonly functions: PprofFunction[] = [];
  readonly locations: PprofLocation[] = [];
  private readonly functionIds = new Map<string, number>();
  private readonly locationIds = new Map<string, number>();

  /**
   * Location id for a frame. `line` (1-based) is a line inside the function when known (CPU
   * positionTicks); otherwise the function's start line stands in, as V8 keeps no call sites.
   */
  location(cf: V8CallFrame, line?: number): number {
    const fn = this.functionId(cf);
    const startLine = cf.lineNumber >= 0 ? cf.lineNumber + 1 : 0;
    const at = line ?? startLine;
    const key = `${fn}:${at}`;
    let id = this.locationIds.get(key);
    if (id === undefined) {
      id = this.locations.length + 1;
      const column = line === undefined && cf.columnNumber >= 0 ? cf.columnNumber + 1 : undefined;
      this.locations.push({
        id, mappingId: 0, address: 0,
        lines: [column === undefined ? { functionId: fn, line: at } : { functionId: fn, line: at, column }],
      });
      this.locationIds.set(key, id);
    }
    return id;
  }

  private functionId(cf: V8CallFrame): number {
    const key = `${cf.functionName}\u0000${cf.url}\u0000${cf.scriptId}\u0000${cf.lineNumber}\u0000${cf.columnNumber}`;
    let id = this.functionIds.get(key);
    if (id === undefined) {
      id = this.functions.length + 1;
      const filename = filenameOf(cf.url);
      const startLine = cf.lineNumber >= 0 ? cf.lineNumber + 1 : 0;
      this.functions.push({ id, name: displayName(cf, filename, startLine), systemName: cf.functionName, filename, startLine });
      this.functionIds.set(key, id);
    }
    return id;
  }
}

// pprof tools key on names: an empty one would merge every anonymous function into one row.
function displayName(cf: V8CallFrame, filename: string, startLine: number): string {
  if (cf.functionName !== '') return cf.functionName;
  if (filename === '') return '(anonymous)';
  const col = cf.columnNumber >= 0 ? `:${cf.columnNumber + 1}` : '';
  return `(anonymous) ${basename(filename)}:${startLine}${col}`;
}
