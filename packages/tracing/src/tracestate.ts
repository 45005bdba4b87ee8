// W3C tracestate validation (https://www.w3.org/TR/trace-context/#tracestate-header).
// OpenTelemetry's TraceState keeps the valid members of a header and silently drops invalid or
// duplicate ones and everything past 32 members. The spec and its test suite treat such a header
// as invalid as a whole, so we validate first and hand OTel only a header that passed.

const MAX_MEMBERS = 32;
const MAX_LENGTH = 512;
const LARGE_MEMBER = 128;

/** key = simple-key / multi-tenant-key; lcalpha, digits, _ - * / and one '@' for tenants. */
export function isValidTraceStateKey(key: string): boolean {
  const at = key.indexOf('@');
  if (at === -1) return key.length >= 1 && key.length <= 256 && isLcAlpha(key.charCodeAt(0)) && keyChars(key, 1, key.length);
  const tenant = key.slice(0, at);
  const system = key.slice(at + 1);
  return (
    tenant.length >= 1 && tenant.length <= 241 && (isLcAlpha(tenant.charCodeAt(0)) || isDigit(tenant.charCodeAt(0))) &&
    keyChars(tenant, 1, tenant.length) &&
    system.length >= 1 && system.length <= 14 && isLcAlpha(system.charCodeAt(0)) && keyChars(system, 1, system.length)
  );
}

/** value = 0*255(chr) nblk-chr; chr is printable ASCII except ',' and '='; last char not space. */
export function isValidTraceStateValue(value: string): boolean {
  const n = value.length;
  if (n < 1 || n > 256) return false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x2c || c === 0x3d) return false;
  }
  return value.charCodeAt(n - 1) !== 0x20;
}

function isLcAlpha(c: number): boolean {
  return c >= 0x61 && c <= 0x7a;
}
function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
function keyChars(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!(isLcAlpha(c) || isDigit(c) || c === 0x5f || c === 0x2d || c === 0x2a || c === 0x2f)) return false;
  }
  return true;
}

/**
 * Returns the normalized header (members joined by ',', optional whitespace and empty members
 * removed) or undefined when the header must be discarded: a malformed member, a duplicate key
 * or more than 32 members. Headers longer than 512 characters are truncated the way the spec
 * suggests: members longer than 128 characters go first, then members from the end.
 */
export function sanitizeTraceState(raw: string | string[] | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const joined = Array.isArray(raw) ? raw.join(',') : raw;
  const members: string[] = [];
  const keys = new Set<string>();
  for (const part of joined.split(',')) {
    const m = part.trim(); // OWS around list members is allowed
    if (m === '') continue; // empty members are allowed (multiple headers join that way)
    const eq = m.indexOf('=');
    if (eq <= 0) return undefined;
    const key = m.slice(0, eq);
    const value = m.slice(eq + 1);
    if (!isValidTraceStateKey(key) || !isValidTraceStateValue(value) || keys.has(key)) return undefined;
    keys.add(key);
    members.push(m);
    if (members.length > MAX_MEMBERS) return undefined;
  }
  if (members.length === 0) return undefined;
  return truncate(members);
}

function truncate(members: string[]): string {
  let length = members.reduce((n, m) => n + m.length, 0) + members.length - 1;
  if (length <= MAX_LENGTH) return members.join(',');
  let kept = members.filter((m) => {
    if (length > MAX_LENGTH && m.length > LARGE_MEMBER) {
      length -= m.length + 1;
      return false;
    }
    return true;
  });
  while (kept.length > 0 && kept.join(',').length > MAX_LENGTH) kept = kept.slice(0, -1);
  return kept.join(',');
}
