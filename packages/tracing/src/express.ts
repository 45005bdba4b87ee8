// express middleware (Express 4 and 5): one SERVER span per request, parent extracted from the
// headers, context bound for the rest of the request, route template computed at response end.
// Per-request cost is kept to: one state object, one 'close' listener (a shared function, no
// closure), one extract, one span. Attributes are only computed for recording spans.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Span } from '@opentelemetry/api';
import { CHAIN_ROOT } from './context-chain.ts';
import { normalizeMethod, pathOf, splitHostPort } from './http-common.ts';
import { MIDDLEWARE, routeTemplate, UNMATCHED } from './express-route.ts';
import type { RoutedRequest, RouteSighting } from './express-route.ts';
import { watchRouterDispatchFor } from './express-router-watch.ts';
import { endOperation } from './operation.ts';
import type { Runtime } from './runtime.ts';

export type NextFunction = (err?: unknown) => void;
export type ExpressMiddleware = (req: IncomingMessage, res: ServerResponse, next: NextFunction) => void;
export type ExpressErrorMiddleware = (err: unknown, req: IncomingMessage, res: ServerResponse, next: NextFunction) => void;

const kState = Symbol('tailtrace.httpServer');

interface ServerState extends RouteSighting {
  rt: Runtime;
  req: IncomingMessage & RoutedRequest;
  /** The app this middleware runs in (req.app now); route templates are resolved from it. */
  root: unknown;
  span: Span | undefined;
  start: number;
  method: string;
  error: unknown;
}

type TracedResponse = ServerResponse & { [kState]?: ServerState | undefined };

function stateOf(res: object): ServerState | undefined {
  return (res as TracedResponse)[kState];
}

export function createExpressMiddleware(rt: Runtime): ExpressMiddleware {
  return function tailtraceExpress(req, res, next) {
    const tres = res as TracedResponse;
    // Mounted twice (app and sub-app): the outer instance owns the request.
    if (tres[kState] !== undefined) return next();
    watchRouterDispatchFor((req as RoutedRequest).app, stateOf);
    const start = performance.now();
    const method = normalizeMethod(req.method);
    const state: ServerState = {
      rt, req, root: (req as RoutedRequest).app, span: undefined, start, method, error: undefined,
      seenRoute: undefined, seenApp: undefined, seenBaseUrl: '',
    };
    tres[kState] = state;
    // 'close' fires after 'finish' for completed responses and alone for aborted ones, so one
    // listener covers both.
    res.on('close', onClose);
    if (!rt.enabled) return next();
    const parent = propagation.extract(CHAIN_ROOT, req.headers);
    const span = rt.tracer.startSpan(method === '_OTHER' ? 'HTTP' : method, { kind: SpanKind.SERVER, startTime: start }, parent);
    state.span = span;
    if (span.isRecording()) setRequestAttributes(span, req, method);
    context.with(trace.setSpan(parent, span), next);
  };
}

/** Records the error passed to next(err) on the request's span, then passes it on. */
export function createExpressErrorHandler(): ExpressErrorMiddleware {
  return function tailtraceExpressError(err, _req, res, next) {
    const state = (res as TracedResponse)[kState];
    if (state !== undefined && state.error === undefined) state.error = err;
    next(err);
  };
}

function setRequestAttributes(span: Span, req: IncomingMessage & { originalUrl?: string }, method: string): void {
  span.setAttribute('http.request.method', method);
  if (method === '_OTHER' && req.method !== undefined) span.setAttribute('http.request.method_original', req.method);
  span.setAttribute('url.path', pathOf(req.originalUrl ?? req.url ?? '/'));
  span.setAttribute('url.scheme', (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http');
  const host = req.headers.host;
  if (host !== undefined) {
    const hp = splitHostPort(host);
    span.setAttribute('server.address', hp.host);
    if (hp.port !== undefined) span.setAttribute('server.port', hp.port);
  }
  const ua = req.headers['user-agent'];
  if (ua !== undefined) span.setAttribute('user_agent.original', ua);
}

function onClose(this: TracedResponse): void {
  const state = this[kState];
  if (state === undefined) return;
  this[kState] = undefined;
  const end = performance.now();
  const completed = this.writableFinished;
  // No response at all (client went away first): status 0, as for network errors.
  const statusCode = completed || this.headersSent ? this.statusCode : 0;
  const template = routeTemplate(state.req, state, state.root);
  const route = template ?? pseudoRoute(statusCode);
  const span = state.span;
  if (span !== undefined && span.isRecording()) finishSpan(span, state, route, template !== undefined, statusCode, completed);
  endOperation(state.rt, span, end, { kind: 'http_server', durationS: (end - state.start) / 1000, method: state.method, route, statusCode });
}

/**
 * Label of a request no route matched: a 404 (or no response at all) is '(unmatched)'; any
 * other response came from middleware (express.static, an auth check) and is '(middleware)', so
 * static files do not hide among the 404s of scanners.
 */
function pseudoRoute(statusCode: number): string {
  return statusCode === 404 || statusCode === 0 ? UNMATCHED : MIDDLEWARE;
}

function finishSpan(span: Span, state: ServerState, route: string, matched: boolean, statusCode: number, completed: boolean): void {
  // The span is named like the metric label, also for the pseudo-routes, so the exemplar of a
  // '(unmatched)' series opens a span of that name; http.route only ever holds a real template
  // (semconv: not set when there is no route).
  span.updateName(`${state.method === '_OTHER' ? 'HTTP' : state.method} ${route}`);
  if (matched) span.setAttribute('http.route', route);
  if (statusCode !== 0) span.setAttribute('http.response.status_code', statusCode);
  const err = state.error;
  if (err instanceof Error) span.recordException(err);
  // Semconv: on the server only 5xx is an error; 4xx is the client's problem.
  if (statusCode >= 500) {
    span.setAttribute('error.type', err !== undefined ? errorClass(err) : String(statusCode));
    span.setStatus({ code: SpanStatusCode.ERROR });
  } else if (!completed) {
    span.setAttribute('error.type', 'aborted');
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'client closed the connection before the response was complete' });
  }
}

function errorClass(err: unknown): string {
  if (err !== null && typeof err === 'object') {
    const name = (err as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof name === 'string' && name !== '' && name !== 'Object') return name;
  }
  return '_OTHER';
}
