// What a request path is, decided once for every route tailtrace answers (/metrics, /debug/pprof/*,
// the evidence endpoint), on the app port and on the metrics server alike. The gate and the
// handlers both read the result, so no spelling can pass one and be served by the other.
//
// The decision is deliberately broader than any one parser: escapes are decoded once (so `%2e`,
// `%2f`, `%5c` and escaped letters count), backslashes are slashes, empty and `.` segments vanish,
// `..` climbs, tabs and newlines are dropped (as the WHATWG URL parser does), and names compare
// without case (express routes that way by default). Whatever any handler, express or a proxy
// might take for one of our paths, this takes for it too.

export interface RequestTarget {
  /** Canonical: starts with `/`, no empty, `.` or `..` segment, no trailing slash (except `/`). */
  readonly pathname: string;
  readonly searchParams: URLSearchParams;
}

const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;
const ESCAPE = /%([0-9a-f]{2})/gi;
const DROPPED = /[\t\n\r]/g;

/** Parses a raw `req.url` (origin-form or absolute-form; anything else is read as a path). */
export function requestTarget(rawUrl: string | undefined): RequestTarget {
  let raw = (rawUrl ?? '').replace(DROPPED, '');
  const authority = ABSOLUTE_FORM.exec(raw);
  if (authority) raw = raw.slice(authority[0].length);
  const hash = raw.indexOf('#');
  if (hash >= 0) raw = raw.slice(0, hash);
  const q = raw.indexOf('?');
  const path = q >= 0 ? raw.slice(0, q) : raw;
  return { pathname: canonicalPath(path), searchParams: new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '') };
}

function canonicalPath(path: string): string {
  // Once: a double-encoded dot (`%252e`) is a literal `%2e` to every handler too.
  const decoded = path.includes('%') ? path.replace(ESCAPE, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))) : path;
  const out: string[] = [];
  for (const seg of decoded.split(/[/\\]+/)) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return `/${out.join('/')}`;
}

/** `pathname` (canonical) is `path`, ignoring case. */
export function pathIs(pathname: string, path: string): boolean {
  return pathname.length === path.length && pathname.toLowerCase() === path.toLowerCase();
}

/** `pathname` (canonical) is `prefix` or below it, ignoring case. */
export function pathUnder(pathname: string, prefix: string): boolean {
  if (pathname.length === prefix.length) return pathIs(pathname, prefix);
  return pathname.length > prefix.length && pathname[prefix.length] === '/' && pathIs(pathname.slice(0, prefix.length), prefix);
}

/**
 * A cheap, allocation-free test of a raw `req.url` that is true for every spelling requestTarget
 * could map onto a path made of `names` (e.g. ['debug', 'metrics']). Canonicalisation only
 * removes characters or decodes escapes, so in the part before the query a reserved name
 * survives literally unless an escape or a dropped tab/newline is involved: requests without
 * either there skip the parse.
 */
export function reservedFilter(names: readonly string[]): (rawUrl: string | undefined) => boolean {
  if (names.length === 0) return () => false;
  // An empty name (a scrape at `/`) could be any request.
  if (names.includes('')) return (rawUrl) => rawUrl !== undefined;
  const words = names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const re = new RegExp(`^[^?#]*?(?:[%\\t\\n\\r]|${words.join('|')})`, 'i');
  return (rawUrl) => rawUrl !== undefined && re.test(rawUrl);
}
