// Sees, through router's `express.router.request` TracingChannel (router >= 2.3, which Express 5
// uses), which app a Route was dispatched in. That app is otherwise lost when the request leaves
// a sub-app before the response (an error or a 404 from a param callback inside it): express
// restores `req.app` and `req.baseUrl` on the way out but keeps `req.route`.
// The channel is router's public hook for tracers ("without monkey-patching", its README says).
// Subscribing makes router trace every layer invocation, so the handler stays small: no
// allocation, one property read for requests we do not own.
import dc from 'node:diagnostics_channel';
import { hasSubApp } from './express-route.ts';
import type { RouteSighting } from './express-route.ts';

const START = 'tracing:express.router.request:start';

interface LayerStart {
  req?: { route?: unknown; app?: unknown; baseUrl?: unknown };
  res?: object;
  layer?: unknown;
}
type StateLookup = (res: object) => RouteSighting | undefined;

let lookup: StateLookup | undefined;

function onLayerStart(message: unknown): void {
  const ctx = message as LayerStart;
  const res = ctx.res;
  if (lookup === undefined || res === undefined || res === null) return;
  const state = lookup(res);
  const req = ctx.req;
  if (state === undefined || req === undefined) return;
  const route = req.route;
  if (route === null || typeof route !== 'object') return;
  // Only an invocation that belongs to req.route counts: the Route's own layer (its param
  // callbacks run with it) or one of its handlers. Middleware after a route that called next()
  // must not re-home that route in the app the request moved on to.
  const layer = ctx.layer;
  const handlers = (route as { stack?: unknown }).stack;
  if ((layer as { route?: unknown } | undefined)?.route !== route && !(Array.isArray(handlers) && handlers.includes(layer))) return;
  state.seenRoute = route;
  state.seenApp = req.app;
  state.seenBaseUrl = typeof req.baseUrl === 'string' ? req.baseUrl : '';
}

/**
 * Router's channel costs every traced layer of every request a context object and a few
 * closures (about 1 µs a request, measured), and it is only needed to place a Route dispatched in
 * a sub-app. So the middleware calls this with the app of each request: it starts watching the
 * first time an app that has sub-apps mounted serves one. One subscription per process, kept for
 * its life (the middleware has no lifecycle of its own); each app is looked at once.
 */
export function watchRouterDispatchFor(app: unknown, find: StateLookup): void {
  if (lookup !== undefined || held || typeof app !== 'function' || checked.has(app)) return;
  checked.add(app);
  if (hasSubApp(app)) watchRouterDispatch(find);
}

let checked = new WeakSet<object>();
/** Set by unwatchRouterDispatch: tests exercise the path without the channel. */
let held = false;

/** Starts watching now (idempotent). */
export function watchRouterDispatch(find: StateLookup): void {
  if (lookup === undefined) dc.subscribe(START, onLayerStart);
  lookup = find;
  held = false;
}

/** Stops watching and keeps it off until allowRouterDispatchWatch() (tests use it to exercise the path without the channel). */
export function unwatchRouterDispatch(): void {
  held = true;
  if (lookup === undefined) return;
  dc.unsubscribe(START, onLayerStart);
  lookup = undefined;
}

/** Lets the middleware start watching again, looking at every app anew. */
export function allowRouterDispatchWatch(): void {
  held = false;
  checked = new WeakSet<object>();
}
