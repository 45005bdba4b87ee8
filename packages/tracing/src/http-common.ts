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
