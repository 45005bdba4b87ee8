// Derives the route template ("/api/users/:id") of an express request without patching express.
//
// The anchor is `req.route`, the Route object express dispatched (documented, and never reset
// when the request leaves a router or sub-app). What is missing is the chain of mounts above it:
// `req.baseUrl` is concrete ("/tenants/42") and is restored when the request leaves a router, so
// the chain is rebuilt from the structure of the app that owns the Route:
//  - the app the Route was dispatched in, as seen on router's `express.router.request`
//    diagnostics channel (router >= 2.3, Express 5) when express-router-watch.ts saw it;
//  - else the app the request is in at the end (a response sent inside a sub-app);
//  - else the app our middleware ran in;
//  - else (the Route lives in a sub-app the request already left, Express 4 or router < 2.3) the
//    sub-app mounts the path goes through are replayed from the app our middleware ran in.
// Within an app, routers are visible (`layer.handle.stack`); sub-apps are not (express mounts
// them behind a closure), which is why the app itself has to be known. Each app's own mount
// prefix comes from the documented `app.mountpath` and `app.parent`.
// Patterns: Express 5 layers keep the pattern as given (`layer.rawPath`); Express 4 layers only
// keep the compiled `regexp` and `keys`, from which simple forms are rebuilt (else the RegExp's
// string form, still a bounded label). Every result depends only on the app's structure and this
// request, never on which requests came before; caches hold results of that same computation.

export const UNMATCHED = '(unmatched)';
/** A response from middleware without a matched route (static files, auth rejections). */
export const MIDDLEWARE = '(middleware)';

interface LayerLike {
  route?: unknown;
  handle?: unknown;
  name?: unknown;
  rawPath?: unknown;
  regexp?: RegExp & { fast_slash?: boolean; fast_star?: boolean };
  keys?: Array<{ name: string | number; optional?: boolean }>;
}
interface RouterLike {
  stack?: unknown;
}
export interface AppLike {
  _router?: RouterLike;
  router?: RouterLike;
  mountpath?: unknown;
  parent?: unknown;
}
export interface RoutedRequest {
  route?: unknown;
  app?: unknown;
  baseUrl?: string;
  originalUrl?: string;
  url?: string;
}
/** Where a Route was dispatched: the app it ran in and the concrete baseUrl at that moment. */
export interface RouteSighting {
  seenRoute: object | undefined;
  seenApp: unknown;
  seenBaseUrl: string;
}

const MAX_DEPTH = 16;
const chainCache = new WeakMap<object, WeakMap<object, string[]>>();
const templateCache = new WeakMap<object, WeakMap<object, string>>();
const prefixCache = new WeakMap<object, string>();
const layerPatterns = new WeakMap<object, string>();

/**
 * The template of the Route that handled `req`, or undefined when no route matched.
 * `root` is the app our middleware ran in.
 */
export function routeTemplate(req: RoutedRequest, seen: RouteSighting | undefined, root: unknown): string | undefined {
  const route = req.route;
  if (route === null || typeof route !== 'object') return undefined;
  const baseUrl = req.baseUrl ?? '';
  if (seen !== undefined && seen.seenRoute === route) {
    const t = templateInApp(route, seen.seenApp, seen.seenBaseUrl);
    if (t !== undefined) return t;
  }
  const now = templateInApp(route, req.app, baseUrl);
  if (now !== undefined) return now;
  if (root !== req.app) {
    const t = templateInApp(route, root, baseUrl);
    if (t !== undefined) return t;
  }
  return replayedTemplate(route as { path?: unknown }, root ?? req.app, pathOnly(req.originalUrl ?? req.url ?? '/'));
}

function isObject(x: unknown): x is object {
  return (typeof x === 'object' || typeof x === 'function') && x !== null;
}

/** The template when `route` is reachable from `app` through visible routers, else undefined. */
function templateInApp(route: object, app: unknown, baseUrl: string): string | undefined {
  if (!isObject(app)) return undefined;
  let perApp = templateCache.get(app);
  const cached = perApp?.get(route);
  if (cached !== undefined) return cached;
  const chains = chainsOf(app as AppLike, route);
  if (chains.length === 0) return undefined;
  const prefix = appPrefix(app as AppLike);
  const routePath = patternString((route as { path?: unknown }).path);
  if (chains.length === 1) {
    const t = join(prefix + chains[0], routePath);
    if (perApp === undefined) templateCache.set(app, (perApp = new WeakMap()));
    perApp.set(route, t);
    return t;
  }
  // The same Route is reachable through several mounts (one router used twice): the one whose
  // pattern matches this request's concrete baseUrl, so this result depends on the request.
  const pick = chains.find((c) => matchPath(prefix + c, baseUrl, true) !== undefined) ?? chains[0] ?? '';
  return join(prefix + pick, routePath);
}

function chainsOf(app: AppLike, route: object): string[] {
  let perApp = chainCache.get(app);
  if (perApp === undefined) chainCache.set(app, (perApp = new WeakMap()));
  let chains = perApp.get(route);
  if (chains === undefined) {
    const found: string[] = [];
    const stack = rootStack(app);
    if (stack !== undefined) findChains(stack, route, '', found, 0);
    chains = [...new Set(found)];
    perApp.set(route, chains);
  }
  return chains;
}

function join(prefix: string, routePath: string): string {
  if (prefix === '') return routePath === '' ? '/' : routePath;
  if (routePath === '/' || routePath === '') return prefix;
  return prefix + routePath;
}

function rootStack(app: AppLike): unknown[] | undefined {
  // Express 4 keeps its router in `_router` (its `router` getter throws); Express 5 in `router`.
  let router: RouterLike | undefined = app._router;
  if (router === undefined) {
    try {
      router = app.router;
    } catch {
      return undefined;
    }
  }
  return router !== undefined && router !== null && Array.isArray(router.stack) ? router.stack : undefined;
}

/** Mount prefix of a (sub-)app: its mountpath after its parents' (app.use('/v1', subApp)). */
function appPrefix(app: AppLike): string {
  let p = prefixCache.get(app);
  if (p === undefined) {
    p = '';
    let a: AppLike | undefined = app;
    for (let depth = 0; depth < MAX_DEPTH && a !== undefined; depth++) {
      const parent = a.parent;
      if (!isObject(parent)) break;
      p = mountString(a.mountpath) + p;
      a = parent as AppLike;
    }
    prefixCache.set(app, p);
  }
  return p;
}

/**
 * Whether a sub-app is mounted anywhere in `app` (through its visible routers): only then can a
 * request leave the app its Route was dispatched in, which is what express-router-watch.ts is for.
 */
export function hasSubApp(app: unknown): boolean {
  if (!isObject(app)) return false;
  const stack = rootStack(app as AppLike);
  return stack !== undefined && stackHasSubApp(stack, 0);
}

function stackHasSubApp(stack: unknown[], depth: number): boolean {
  for (const item of stack) {
    const layer = item as LayerLike;
    if (layer.route !== undefined) continue;
    if (layer.name === 'mounted_app') return true;
    const inner = routerStackOf(layer);
    if (inner !== undefined && depth < MAX_DEPTH && stackHasSubApp(inner, depth + 1)) return true;
  }
  return false;
}

function routerStackOf(layer: LayerLike): unknown[] | undefined {
  const handle = layer.handle;
  const stack = typeof handle === 'function' ? (handle as RouterLike).stack : undefined;
  return Array.isArray(stack) ? stack : undefined;
}

function findChains(stack: unknown[], route: object, prefix: string, out: string[], depth: number): void {
  for (const item of stack) {
    const layer = item as LayerLike;
    if (layer.route === route) out.push(prefix);
    else if (layer.route === undefined && depth < MAX_DEPTH) {
      const inner = routerStackOf(layer);
      if (inner !== undefined) findChains(inner, route, prefix + layerPattern(layer), out, depth + 1);
    }
  }
}

/**
 * The Route lives in a sub-app the request left before the response (Express 4, or Express 5
 * without router's diagnostics channel): walk the path through the visible routers of `root`
 * and take the first mounted sub-app it enters whose remaining path can reach the route. What
 * lies inside that sub-app (its own routers) cannot be seen from here.
 */
function replayedTemplate(route: { path?: unknown }, root: unknown, path: string): string {
  const routePath = patternString(route.path);
  if (!isObject(root)) return join('', routePath);
  const stack = rootStack(root as AppLike);
  const prefix = appPrefix(root as AppLike);
  const mount = stack === undefined ? undefined : subAppMountOnPath(stack, path, '', routePath, 0);
  return join(prefix + (mount ?? ''), routePath);
}

function subAppMountOnPath(stack: unknown[], path: string, prefix: string, routePath: string, depth: number): string | undefined {
  let fallback: string | undefined;
  for (const item of stack) {
    const layer = item as LayerLike;
    if (layer.route !== undefined) continue;
    const rest = layerPrefixMatch(layer, path);
    if (rest === undefined) continue;
    const here = prefix + layerPattern(layer);
    const inner = routerStackOf(layer);
    if (inner !== undefined) {
      if (depth < MAX_DEPTH) {
        const found = subAppMountOnPath(inner, rest, here, routePath, depth + 1);
        if (found !== undefined) return found;
      }
    } else if (layer.name === 'mounted_app') {
      if (matchPath(routePath, rest, true) !== undefined) return here;
      fallback ??= here;
    }
  }
  return fallback;
}

/** The rest of `path` after the mount `layer` matched its start, else undefined. */
function layerPrefixMatch(layer: LayerLike, path: string): string | undefined {
  const re = layer.regexp;
  if (re instanceof RegExp) {
    // Express 4: the layer's own compiled matcher; it has no g/y flag, so exec keeps no state.
    if (re.fast_slash === true) return path;
    if (re.global || re.sticky) return undefined;
    const m = re.exec(path);
    return m === null ? undefined : restAfter(path, m[0].length);
  }
  const raw = layer.rawPath;
  if (raw === '/' || raw === undefined) return path;
  const alternatives = Array.isArray(raw) ? raw : [raw];
  for (const alt of alternatives) {
    const n = alt instanceof RegExp ? regexpPrefix(alt, path) : typeof alt === 'string' ? matchPath(alt, path, false) : undefined;
    if (n !== undefined) return restAfter(path, n);
  }
  return undefined;
}

function regexpPrefix(re: RegExp, path: string): number | undefined {
  if (re.global || re.sticky) return undefined;
  const m = re.exec(path);
  return m === null || m.index !== 0 ? undefined : m[0].length;
}

function restAfter(path: string, n: number): string {
  const rest = path.slice(n);
  return rest === '' ? '/' : rest.charCodeAt(0) === 0x2f ? rest : '/' + rest;
}

/**
 * Matches a path pattern's simple forms segment by segment (static segments case-insensitively,
 * ':name' any one segment) and returns how many characters of `path` it consumed; a segment it
 * cannot judge (wildcards, optional groups, regexps) counts as "may match" and ends the match
 * there. With `end`, the pattern must consume the whole path (a trailing '/' is allowed).
 */
export function matchPath(pattern: string, path: string, end: boolean): number | undefined {
  if (pattern === '' || pattern === '/') return end ? (path === '' || path === '/' ? path.length : undefined) : 0;
  if (pattern.charCodeAt(0) !== 0x2f) return path.length;
  const pats = pattern.split('/');
  let at = 0;
  for (let i = 1; i < pats.length; i++) {
    const seg = pats[i] ?? '';
    if (/[*{}()?+[\]|\\,]/.test(seg)) return path.length;
    if (path.charCodeAt(at) !== 0x2f) return undefined;
    let next = path.indexOf('/', at + 1);
    if (next === -1) next = path.length;
    const got = path.slice(at + 1, next);
    if (seg.charCodeAt(0) === 0x3a /* : */ ? got === '' : got.toLowerCase() !== seg.toLowerCase()) return undefined;
    at = next;
  }
  if (end && !(at === path.length || (at === path.length - 1 && path.charCodeAt(at) === 0x2f))) return undefined;
  return at;
}

function pathOnly(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function layerPattern(layer: LayerLike): string {
  const cached = layerPatterns.get(layer);
  if (cached !== undefined) return cached;
  let p: string;
  if (layer.rawPath !== undefined) p = mountString(layer.rawPath);
  else if (layer.regexp instanceof RegExp) p = layer.regexp.fast_slash === true ? '' : express4Pattern(layer.regexp, layer.keys ?? []);
  else p = '';
  layerPatterns.set(layer, p);
  return p;
}

/** A mount path: '/' means no prefix and a trailing '/' is not part of the template. */
function mountString(p: unknown): string {
  if (Array.isArray(p)) return p.map(mountString).join(',');
  // A RegExp's string form ends with '/' too, and that one belongs to it.
  if (typeof p !== 'string') return patternString(p);
  if (p === '/') return '';
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}

/** String form of a path pattern: strings as-is, RegExps as /source/flags, arrays joined by ','. */
export function patternString(p: unknown): string {
  if (typeof p === 'string') return p;
  if (p instanceof RegExp) return String(p);
  if (Array.isArray(p)) return p.map(patternString).join(',');
  return p === undefined || p === null ? '' : String(p);
}

/**
 * Rebuilds '/users/:id' from path-to-regexp 0.1's compiled form
 * (^\/users(?:\/([^/]+?))\/?(?=\/|$)); array mounts are compiled as alternatives joined by '|'.
 * Returns the RegExp's string form when the source is not one of these simple shapes (e.g. a
 * user-supplied RegExp or a '/:a-:b' pattern), which is still a bounded label.
 */
export function express4Pattern(re: RegExp, keys: Array<{ name: string | number; optional?: boolean }>): string {
  const alternatives = re.source.split('|^');
  const out: string[] = [];
  let k = 0;
  for (let i = 0; i < alternatives.length; i++) {
    let s = alternatives[i] ?? '';
    if (i === 0) {
      if (!s.startsWith('^')) return String(re);
      s = s.slice(1);
    }
    for (const tail of ['\\/?(?=\\/|$)', '\\/?$', '(?=\\/|$)', '$']) {
      if (s.endsWith(tail)) {
        s = s.slice(0, -tail.length);
        break;
      }
    }
    let rebuilt = '';
    let at = 0;
    for (;;) {
      const j = s.indexOf(PARAM, at);
      if (j === -1) break;
      const optional = s.charCodeAt(j + PARAM.length) === 0x3f; /* ? */
      const key = keys[k++];
      rebuilt += s.slice(at, j) + '/:' + (key === undefined ? String(k - 1) : String(key.name)) + (optional ? '?' : '');
      at = j + PARAM.length + (optional ? 1 : 0);
    }
    rebuilt = (rebuilt + s.slice(at)).replace(/\\([/.\-])/g, '$1');
    if (/[\\()[\]*+?^$|{}]/.test(rebuilt.replace(/:[\w$]+\??/g, ''))) return String(re);
    out.push(rebuilt);
  }
  return out.join(',');
}

const PARAM = '(?:\\/([^/]+?))';
