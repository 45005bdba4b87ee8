// Small HTTP helpers shared by the server middleware and the client subscriber. All are char
// scans instead of regexes or `new URL()` because they run once per request.

/** Semconv: the nine standard methods (plus QUERY) keep their name, anything else is _OTHER. */
export function normalizeMethod(method: string | undefined): string {
  switch (method) {
    case 'GET': case 'POST': case 'PUT': case 'DELETE': case 'HEAD':
    case 'PATCH': case 'OPTIONS': case 'CONNECT': case 'TRACE': case 'QUERY':
      return method;
    default:
      // Method names are case-sensitive in semconv, so 'get' is not GET.
      return '_OTHER';
  }
}

/** Splits "host:port", "[v6]:port" or "host" into parts; port is undefined when absent. */
export function splitHostPort(hostHeader: string): { host: string; port: number | undefined } {
  if (hostHeader.charCodeAt(0) === 0x5b /* [ */) {
    const close = hostHeader.indexOf(']');
    if (close === -1) return { host: hostHeader, port: undefined };
    const host = hostHeader.slice(1, close);
    return { host, port: hostHeader.charCodeAt(close + 1) === 0x3a ? toPort(hostHeader.slice(close + 2)) : undefined };
  }
  const colon = hostHeader.lastIndexOf(':');
  // More than one ':' without brackets is a bare IPv6 address, not host:port.
  if (colon === -1 || hostHeader.indexOf(':') !== colon) return { host: hostHeader, port: undefined };
  return { host: hostHeader.slice(0, colon), port: toPort(hostHeader.slice(colon + 1)) };
}

function toPort(s: string): number | undefined {
  const n = Number(s);
  return s !== '' && Number.isInteger(n) && n >= 0 && n <= 65535 ? n : undefined;
}

/** The path part of a request target ("/a/b?x=1" -> "/a/b"). */
export function pathOf(target: string): string {
  const q = target.indexOf('?');
  return q === -1 ? target : target.slice(0, q);
}

// Query keys whose values are credentials (semconv url.full recommendation).
const SENSITIVE_QUERY_KEYS = ['AWSAccessKeyId', 'Signature', 'sig', 'X-Goog-Signature'];

/** Keeps the query but replaces known credential values with REDACTED. */
export function redactQuery(target: string): string {
  const q = target.indexOf('?');
  if (q === -1) return target;
  let hit = false;
  for (const k of SENSITIVE_QUERY_KEYS) if (target.includes(k + '=', q)) hit = true;
  if (!hit) return target;
  const parts = target.slice(q + 1).split('&').map((p) => {
    const eq = p.indexOf('=');
    return eq !== -1 && SENSITIVE_QUERY_KEYS.includes(p.slice(0, eq)) ? p.slice(0, eq + 1) + 'REDACTED' : p;
  });
  return target.slice(0, q + 1) + parts.join('&');
}

/** Removes "user:pass@" from an origin like "http://user:pass@host:1". */
export function stripCredentials(origin: string): string {
  const scheme = origin.indexOf('://');
  const at = origin.indexOf('@', scheme + 3);
  if (at === -1) return origin;
  const slash = origin.indexOf('/', scheme + 3);
  if (slash !== -1 && slash < at) return origin;
  return origin.slice(0, scheme + 3) + origin.slice(at + 1);
}
