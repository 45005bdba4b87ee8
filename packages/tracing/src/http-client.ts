// Outgoing HTTP spans from diagnostics_channel only (no patching): undici/fetch and node:http(s).
// Headers are injected before the request is sent: undici's `request:create` and node's
// `http.client.request.created` (Node >= 22.12/23.2) both fire before headers are flushed;
// on older Nodes `http.client.request.start` is used when headers are still unsent.
import dc from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Context, Span, TextMapSetter } from '@opentelemetry/api';
import { isTracingSuppressed } from '@opentelemetry/core';
import { normalizeMethod, splitHostPort } from './http-common.ts';
import { endOperation } from './operation.ts';
import { QueryRedactor, redactUserinfo } from './redact.ts';
import type { Runtime } from './runtime.ts';

const kState = Symbol('tailtrace.httpClient');

interface ClientState {
  span: Span | undefined;
  start: number;
  method: string;
  host: string;
  statusCode: number;
}

interface UndiciRequest {
  origin?: unknown;
  headers?: unknown;
  path?: unknown;
  method?: unknown;
  addHeader?: (name: string, value: string) => unknown;
  [kState]?: ClientState | undefined;
}
type NodeRequest = ClientRequest & { [kState]?: ClientState | undefined };

const undiciSetter: TextMapSetter<UndiciRequest> = {
  set(req, key, value) {
    req.addHeader?.(key, value);
  },
};
const nodeSetter: TextMapSetter<NodeRequest> = {
  set(req, key, value) {
    if (!req.headersSent) req.setHeader(key, value);
  },
};

/**
 * A caller that set `traceparent` by hand chose the trace: we must neither add a second header
 * (the server would see an invalid combined value) nor replace it. The client span joins that
 * trace instead, as a child of the given parent, and the headers are left as they are.
 */
function explicitParent(traceparent: string | undefined, tracestate: string | undefined): Context | undefined {
  if (traceparent === undefined) return undefined;
  const carrier: Record<string, string> = { traceparent };
  if (tracestate !== undefined) carrier.tracestate = tracestate;
  return propagation.extract(context.active(), carrier);
}

/** undici keeps request headers as a flat [name, value, ...] array (a string in old versions). */
function undiciHeader(headers: unknown, name: string): string | undefined {
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const k = headers[i];
      if (typeof k === 'string' && k.length === name.length && k.toLowerCase() === name) return String(headers[i + 1]);
    }
    return undefined;
  }
  if (typeof headers === 'string') {
    const at = headers.toLowerCase().indexOf(`${name}:`);
    if (at === -1) return undefined;
    const eol = headers.indexOf('\r\n', at);
    return headers.slice(at + name.length + 1, eol === -1 ? undefined : eol).trim();
  }
  return undefined;
}

function nodeHeader(req: NodeRequest, name: string): string | undefined {
  const v = req.getHeader(name);
  return v === undefined ? undefined : Array.isArray(v) ? v.join(',') : String(v);
}

function begin(
  rt: Runtime, redactor: QueryRedactor, method: string, origin: string, path: string, host: string, port: number | undefined, explicit?: Context,
): ClientState {
  const start = performance.now();
  const m = normalizeMethod(method);
  const state: ClientState = { span: undefined, start, method: m, host, statusCode: 0 };
  if (!rt.enabled) return state;
  const parent = explicit ?? context.active();
  const span = rt.tracer.startSpan(m === '_OTHER' ? 'HTTP' : m, { kind: SpanKind.CLIENT, startTime: start }, parent);
  state.span = span;
  if (span.isRecording()) {
    span.setAttribute('http.request.method', m);
    if (m === '_OTHER') span.setAttribute('http.request.method_original', method);
    span.setAttribute('server.address', host);
    if (port !== undefined) span.setAttribute('server.port', port);
    // Semconv: userinfo becomes REDACTED:REDACTED, secret query values REDACTED.
    span.setAttribute('url.full', redactUserinfo(origin) + redactor.redact(path));
  }
  return state;
}

function end(rt: Runtime, state: ClientState, err: unknown): void {
  const endTime = performance.now();
  const span = state.span;
  if (span !== undefined && span.isRecording()) {
    if (state.statusCode !== 0) span.setAttribute('http.response.status_code', state.statusCode);
    // Semconv: on the client 4xx and 5xx are errors, and so is getting no response at all.
    if (err !== undefined) {
      span.setAttribute('error.type', errorType(err));
      if (err instanceof Error) span.recordException(err);
      span.setStatus({ code: SpanStatusCode.ERROR });
    } else if (state.statusCode >= 400) {
      span.setAttribute('error.type', String(state.statusCode));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
  }
  endOperation(rt, span, endTime, {
    kind: 'http_client', durationS: (endTime - state.start) / 1000, method: state.method, serverAddress: state.host, statusCode: state.statusCode,
  });
}

function errorType(err: unknown): string {
  if (err !== null && typeof err === 'object') {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    const name = (err as { name?: unknown }).name;
    if (typeof name === 'string' && name !== '') return name;
  }
  return '_OTHER';
}

/** 'http://h:1' -> host/port without `new URL()`. */
function originHostPort(origin: string): { host: string; port: number | undefined } {
  const scheme = origin.indexOf('://');
  let rest = scheme === -1 ? origin : origin.slice(scheme + 3);
  const at = rest.indexOf('@');
  if (at !== -1) rest = rest.slice(at + 1);
  const slash = rest.indexOf('/');
  if (slash !== -1) rest = rest.slice(0, slash);
  const hp = splitHostPort(rest);
  if (hp.port === undefined) hp.port = origin.startsWith('https') ? 443 : 80;
  return hp;
}

export interface HttpClientOptions {
  /** Requests to this exact origin + path are never traced (our own OTLP export). */
  ignoreUrl?: string;
  /** Query keys redacted in url.full besides the default list (see redact.ts). */
  redactQueryKeys?: readonly string[];
}

/** Subscribes to the channels; returns the unsubscribe function. */
export function enableHttpClientTracing(rt: Runtime, opts: HttpClientOptions = {}): () => void {
  const ignore = opts.ignoreUrl;
  const redactor = new QueryRedactor(opts.redactQueryKeys);
  const skip = (url: string): boolean => isTracingSuppressed(context.active()) || (ignore !== undefined && url === ignore);

  const subs: Array<[string, (msg: unknown) => void]> = [];
  const on = (name: string, fn: (msg: unknown) => void): void => {
    dc.subscribe(name, fn);
    subs.push([name, fn]);
  };

  // --- undici (global fetch) ---
  on('undici:request:create', (msg) => {
    const req = (msg as { request: UndiciRequest }).request;
    const origin = typeof req.origin === 'string' ? req.origin : String(req.origin ?? '');
    const path = typeof req.path === 'string' ? req.path : '/';
    if (skip(origin + path)) return;
    const hp = originHostPort(origin);
    const explicit = explicitParent(undiciHeader(req.headers, 'traceparent'), undiciHeader(req.headers, 'tracestate'));
    const state = begin(rt, redactor, typeof req.method === 'string' ? req.method : 'GET', origin, path, hp.host, hp.port, explicit);
    req[kState] = state;
    if (state.span !== undefined && explicit === undefined) propagation.inject(trace.setSpan(context.active(), state.span), req, undiciSetter);
  });
  on('undici:request:headers', (msg) => {
    const m = msg as { request: UndiciRequest; response: { statusCode: number } };
    const state = m.request[kState];
    if (state !== undefined) state.statusCode = m.response.statusCode;
  });
  on('undici:request:trailers', (msg) => {
    const req = (msg as { request: UndiciRequest }).request;
    const state = req[kState];
    if (state === undefined) return;
    req[kState] = undefined;
    end(rt, state, undefined);
  });
  on('undici:request:error', (msg) => {
    const m = msg as { request: UndiciRequest; error: unknown };
    const state = m.request[kState];
    if (state === undefined) return;
    m.request[kState] = undefined;
    end(rt, state, m.error);
  });

  // --- node:http(s) ---
  const startNode = (req: NodeRequest): void => {
    if (req[kState] !== undefined) return;
    const hostHeader = req.getHeader('host');
    const host = typeof hostHeader === 'string' ? hostHeader : req.host;
    const origin = `${req.protocol}//${host}`;
    if (skip(origin + req.path)) return;
    const hp = splitHostPort(host);
    if (hp.port === undefined) hp.port = req.protocol === 'https:' ? 443 : 80;
    const explicit = explicitParent(nodeHeader(req, 'traceparent'), nodeHeader(req, 'tracestate'));
    const state = begin(rt, redactor, req.method, origin, req.path, hp.host, hp.port, explicit);
    req[kState] = state;
    if (state.span !== undefined && explicit === undefined && !req.headersSent) {
      propagation.inject(trace.setSpan(context.active(), state.span), req, nodeSetter);
    }
  };
  on('http.client.request.created', (msg) => startNode((msg as { request: NodeRequest }).request));
  on('http.client.request.start', (msg) => startNode((msg as { request: NodeRequest }).request));
  on('http.client.response.finish', (msg) => {
    const m = msg as { request: NodeRequest; response: IncomingMessage };
    const state = m.request[kState];
    if (state === undefined) return;
    m.request[kState] = undefined;
    state.statusCode = m.response.statusCode ?? 0;
    end(rt, state, undefined);
  });
  on('http.client.request.error', (msg) => {
    const m = msg as { request: NodeRequest; error: unknown };
    const state = m.request[kState];
    if (state === undefined) return;
    m.request[kState] = undefined;
    end(rt, state, m.error);
  });

  let active = true;
  return () => {
    if (!active) return;
    active = false;
    for (const [name, fn] of subs) dc.unsubscribe(name, fn);
  };
}
