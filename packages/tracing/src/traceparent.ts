// The W3C traceparent header (https://www.w3.org/TR/trace-context/#traceparent-header) and the
// random trace-id flag of Level 2 (https://www.w3.org/TR/trace-context-2/#random-trace-id-flag).
// OpenTelemetry's parser tolerates one whitespace character around the value and keeps every
// flag bit; the spec ignores any amount of OWS and lets only the flags it defines propagate.

/** Bit 0: the caller may have recorded trace data. Sampling decisions read only this bit. */
export const SAMPLED = 0x01;
/** Bit 1 (Level 2): the right-most 7 bytes of the trace-id were generated at random. */
export const RANDOM_TRACE_ID = 0x02;
/** Flags this implementation knows; the others "MUST be set to zero" when propagating. */
const KNOWN_FLAGS = SAMPLED | RANDOM_TRACE_ID;

export interface TraceParent {
  traceId: string;
  spanId: string;
  /** Only the known flags (sampled, random); unknown bits are dropped here. */
  traceFlags: number;
}

const LENGTH_V00 = 55;

/**
 * Parses a traceparent value, or returns undefined when the trace must be restarted:
 * version ff, non-hex or upper-case hex, all-zero ids, wrong lengths or delimiters, and for
 * version 00 anything after the flags. A higher version is parsed as far as 00 defines it and
 * may carry more fields after a '-' (they are not interpreted).
 */
export function parseTraceParent(header: string): TraceParent | undefined {
  const v = trimOws(header);
  if (v.length < LENGTH_V00) return undefined;
  if (!isHex(v, 0, 2) || v.charCodeAt(2) !== 0x2d) return undefined;
  const version = v.slice(0, 2);
  if (version === 'ff') return undefined;
  if (version === '00' ? v.length !== LENGTH_V00 : v.length > LENGTH_V00 && v.charCodeAt(LENGTH_V00) !== 0x2d) return undefined;
  if (!isHex(v, 3, 35) || v.charCodeAt(35) !== 0x2d || !isHex(v, 36, 52) || v.charCodeAt(52) !== 0x2d || !isHex(v, 53, 55)) return undefined;
  const traceId = v.slice(3, 35);
  const spanId = v.slice(36, 52);
  if (isZero(traceId) || isZero(spanId)) return undefined;
  return { traceId, spanId, traceFlags: parseInt(v.slice(53, 55), 16) & KNOWN_FLAGS };
}

/** Version 00, lower-case hex, only the known flags. */
export function formatTraceParent(traceId: string, spanId: string, traceFlags: number): string {
  const flags = traceFlags & KNOWN_FLAGS;
  return `00-${traceId}-${spanId}-0${flags.toString(16)}`;
}

/** Removes OWS (spaces and horizontal tabs, RFC 7230) from both ends. */
export function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isOws(s.charCodeAt(a))) a++;
  while (b > a && isOws(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** Lower-case hex only (HEXDIGLC). */
function isHex(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

function isZero(id: string): boolean {
  for (let i = 0; i < id.length; i++) if (id.charCodeAt(i) !== 0x30) return false;
  return true;
}
