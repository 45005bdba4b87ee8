// W3C tracestate (https://www.w3.org/TR/trace-context/#tracestate-header), member by member.
// The spec lets a vendor discard a whole header it cannot parse, or only the invalid entries
// ("Invalid tracestate entries MAY also be discarded"); we keep every member that follows the
// grammar, so one vendor's malformed entry does not erase the others' state. Rules applied:
//  - several headers are one list joined by ',' (RFC 7230), as node:http and gRPC metadata give;
//  - spaces and tabs around members are ignored, empty members are skipped and not counted;
//  - a member whose key or value breaks the grammar is dropped, alone;
//  - a repeated key keeps its first (left-most) entry: "Only one entry per key is allowed because
//    the entry represents the last position in the trace", and updated keys move to the left;
//  - at most 32 members: the ones past the 32nd are dropped (removal from the right);
//  - at most 512 characters propagated (our documented limit): members longer than 128
//    characters go first, then members from the right, as the spec's truncation rule says.
import { TraceState } from '@opentelemetry/core';
import type { TraceState as ApiTraceState } from '@opentelemetry/api';

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

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** The member without surrounding spaces and tabs (other whitespace stays and fails the grammar). */
function trimMember(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isOws(s.charCodeAt(a))) a++;
  while (b > a && isOws(s.charCodeAt(b - 1))) b--;
  return s.slice(a, b);
}

/**
 * The header as we propagate it: valid members in their order, joined by ','; undefined when
 * no valid member is left (an empty tracestate is not sent).
 */
export function sanitizeTraceState(raw: string | string[] | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const joined = Array.isArray(raw) ? raw.join(',') : raw;
  if (joined.length === 0) return undefined;
  const members: string[] = [];
  const keys = new Set<string>();
  for (const part of joined.split(',')) {
    const m = trimMember(part);
    if (m === '') continue;
    const eq = m.indexOf('=');
    if (eq <= 0) continue;
    const key = m.slice(0, eq);
    if (keys.has(key) || !isValidTraceStateKey(key) || !isValidTraceStateValue(m.slice(eq + 1))) continue;
    keys.add(key);
    members.push(m);
    if (members.length === MAX_MEMBERS) break;
  }
  return members.length === 0 ? undefined : truncate(members);
}

function truncate(members: string[]): string | undefined {
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
  return kept.length === 0 ? undefined : kept.join(',');
}

/**
 * Sets our own member the way the spec asks a participant to: the key moves to the front with
 * its new value, the other members keep their order, and when the list is full the right-most
 * members make room (OpenTelemetry's TraceState.set instead refuses a new key on a full list).
 * An invalid key or value leaves the state unchanged. For samplers that record state.
 */
export function setTraceStateMember(state: ApiTraceState | undefined, key: string, value: string): ApiTraceState | undefined {
  if (!isValidTraceStateKey(key) || !isValidTraceStateValue(value)) return state;
  const own = `${key}=${value}`;
  const rest = state === undefined ? [] : (sanitizeTraceState(state.serialize()) ?? '').split(',');
  const others = rest.filter((m) => m !== '' && m.slice(0, m.indexOf('=')) !== key).slice(0, MAX_MEMBERS - 1);
  let members = [own, ...others];
  while (members.length > 1 && members.join(',').length > MAX_LENGTH) members = members.slice(0, -1);
  return new TraceState(members.join(','));
}
