// Derives the route template ("/api/users/:id") of an express request without patching express.
//
// At response end `req.route` is the Route object that handled the request and `req.app` the
// (sub-)app. `req.baseUrl` is the *concrete* mount prefix ("/tenants/42"), unusable as a metric
// label, so instead we walk the app's router stack once per Route object to find the chain of
// mount layers that leads to it and read each mount's pattern:
//  - Express 5 (router >= 2.3): `layer.rawPath` is the pattern as given (string, RegExp, array);
//  - Express 4: the layer only keeps its compiled `regexp` and `keys`, from which the simple
//    path-to-regexp 0.1 forms (static segments and :params) are rebuilt; anything else falls back
//    to the RegExp's string form, which is still bounded.
// Results are cached per Route object (WeakMap) so the walk happens once per route, not per request.
// This is the same information OTel's express instrumentation collects by patching Layer.handle.

export const UNMATCHED = '(unmatched)';

interface LayerLike {
  route?: unknown;
  handle?: unknown;
  rawPath?: unknown;
  regexp?: RegExp & { fast_slash?: boolean };
  keys?: Array<{ name: string | number; optional?: boolean }>;
}
interface RouterLike {
  stack?: unknown;
}
interface AppLike {
  _router?: RouterLike;
  router?: RouterLike;
  mountpath?: unknown;
  parent?: unknown;
}
export interface RoutedRequest {
  route?: unknown;
  app?: unknown;
  baseUrl?: string;
}

const templates = new WeakMap<object, string>();
const layerPatterns = new WeakMap<object, string>();
const MAX_DEPTH = 16;

export function routeTemplate(req: RoutedRequest): string {
  const route = req.route;
  if (route === null || typeof route !== 'object') return UNMATCHED;
  const cached = templates.get(route);
  if (cached !== undefined) return cached;
  const { template, cacheable } = computeTemplate(route as { path?: unknown }, req.app as AppLike | undefined, req.baseUrl ?? '');
  if (cacheable) templates.set(route, template);
  return template;
}

function computeTemplate(route: { path?: unknown }, app: AppLike | undefined, baseUrl: string): { template: string; cacheable: boolean } {
  const routePath = patternString(route.path);
  const prefix = app ? appPrefix(app, 0) : '';
  const stack = app ? rootStack(app) : undefined;
  const chains: string[] = [];
  if (stack) findChains(stack, route, '', chains, 0);
  // No chain found (a router we cannot see into): the concrete baseUrl would leak IDs into the
  // label, so fall back to the route's own pattern, which is bounded.
  if (chains.length === 0) return { template: join(prefix, routePath), cacheable: false };
  const unique = [...new Set(chains)];
  if (unique.length === 1) return { template: join(prefix + unique[0], routePath), cacheable: true };
  // The same Route is reachable through several mounts: pick the one whose static part matches
  // this request's concrete baseUrl; not cached because it depends on the request.
  const pick = unique.find((c) => baseUrl.startsWith(staticPart(prefix + c))) ?? unique[0] ?? '';
  return { template: join(prefix + pick, routePath), cacheable: false };
}

function staticPart(t: string): string {
  let i = 0;
  while (i < t.length) {
    const c = t.charCodeAt(i);
    if (c === 0x3a /* : */ || c === 0x2a /* * */ || c === 0x28 /* ( */ || c === 0x7b /* { */ || c === 0x2c /* , */) break;
    i++;
  }
  return t.slice(0, i);
}

function join(prefix: string, routePath: string): string {
  if (prefix === '') return routePath === '' ? '/' : routePath;
  if (routePath === '/' || routePath === '') return prefix;
  return prefix + routePath;
}

function rootStack(app: AppLike): unknown[] | undefined {
  // Express 4 keeps the router in `_router` (its `router` getter throws); Express 5 in `router`.
  let router: RouterLike | undefined = app._router;
  if (router === undefined) {
    try {
      router = app.router;
    } catch {
      return undefined;
    }
  }
  return router && Array.isArray(router.stack) ? router.stack : undefined;
}

/** Mount prefix of a sub-app: its mountpath plus its parents' (app.use('/v1', subApp)). */
function appPrefix(app: AppLike, depth: number): string {
  const parent = app.parent as AppLike | undefined;
  if (parent === undefined || parent === null || depth > MAX_DEPTH) return '';
  return appPrefix(parent, depth + 1) + mountString(app.mountpath);
}

function findChains(stack: unknown[], route: object, prefix: string, out: string[], depth: number): void {
  for (const item of stack) {
    const layer = item as LayerLike;
    if (layer.route === route) out.push(prefix);
    else if (layer.route === undefined && depth < MAX_DEPTH) {
      const handle = layer.handle;
      const stack = typeof handle === 'function' ? (handle as RouterLike).stack : undefined;
      if (Array.isArray(stack)) {
        findChains(stack, route, prefix + layerPattern(layer), out, depth + 1);
      }
    }
  }
}

function layerPattern(layer: LayerLike): string {
  const cached = layerPatterns.get(layer);
  if (cached !== undefined) return cached;
  let p: string;
  if (layer.rawPath !== undefined) p = mountString(layer.rawPath);
  else if (layer.regexp instanceof RegExp) p = layer.regexp.fast_slash ? '' : express4Pattern(layer.regexp, layer.keys ?? []);
  else p = '';
  layerPatterns.set(layer, p);
  return p;
}

/** A mount path: '/' means no prefix and a trailing '/' is not part of the template. */
function mountString(p: unknown): string {
  const s = patternString(p);
  if (s === '/') return '';
  return s.length > 1 && s.endsWith('/') ? s.slice(0, -1) : s;
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
