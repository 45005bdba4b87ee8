// gRPC server and client interceptors built on grpc-js's own interceptor APIs (no patching).
// grpc-js is an optional peer dependency, so it is loaded lazily on first use.
import { createRequire } from 'node:module';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Context, Span, TextMapGetter, TextMapSetter } from '@opentelemetry/api';
import type * as GrpcModule from '@grpc/grpc-js';
import type { Interceptor, Metadata, ServerInterceptor, StatusObject } from '@grpc/grpc-js';
import { splitHostPort } from './http-common.ts';
import type { Runtime } from './runtime.ts';

export type { Interceptor as GrpcClientInterceptor, ServerInterceptor as GrpcServerInterceptor } from '@grpc/grpc-js';

export const GRPC_STATUS_NAMES: readonly string[] = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS',
  'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE',
  'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
];
const CANCELLED = 1;
const DEADLINE_EXCEEDED = 4;

let grpcModule: typeof GrpcModule | undefined;
function grpc(): typeof GrpcModule {
  grpcModule ??= createRequire(import.meta.url)('@grpc/grpc-js') as typeof GrpcModule;
  return grpcModule;
}

export interface RpcName {
  name: string;
  service: string;
  method: string;
}

// Paths come from method definitions, so the set is bounded by the services in the process.
const names = new Map<string, RpcName>();

/** '/orders.OrderService/Get' -> { name: 'orders.OrderService/Get', service, method }. */
export function parseRpcPath(path: string): RpcName {
  let n = names.get(path);
  if (n === undefined) {
    const trimmed = path.charCodeAt(0) === 0x2f ? path.slice(1) : path;
    const slash = trimmed.lastIndexOf('/');
    n = slash === -1
      ? { name: trimmed, service: '', method: trimmed }
      : { name: trimmed, service: trimmed.slice(0, slash), method: trimmed.slice(slash + 1) };
    if (names.size < 10_000) names.set(path, n);
  }
  return n;
}

export const metadataGetter: TextMapGetter<Metadata> = {
  keys(md) {
    return Object.keys(md.getMap());
  },
  get(md, key) {
    const values = md.get(key);
    if (values.length === 0) return undefined;
    if (values.length === 1) return typeof values[0] === 'string' ? values[0] : undefined;
    const strings: string[] = [];
    for (const v of values) if (typeof v === 'string') strings.push(v);
    return strings;
  },
};

export const metadataSetter: TextMapSetter<Metadata> = {
  set(md, key, value) {
    md.set(key, value);
  },
};

function statusName(code: number): string {
  return GRPC_STATUS_NAMES[code] ?? String(code);
}

function deadlineMs(deadline: unknown): number | undefined {
  const at = deadline instanceof Date ? deadline.getTime() : typeof deadline === 'number' ? deadline : Infinity;
  return Number.isFinite(at) ? at : undefined;
}

function endRpcSpan(span: Span, code: number, details: string | undefined): void {
  span.setAttribute('rpc.grpc.status_code', code);
  if (code !== 0) {
    span.setAttribute('error.type', statusName(code));
    span.setStatus({ code: SpanStatusCode.ERROR, message: details });
  }
}

function setRpcAttributes(span: Span, rpc: RpcName, deadline: number | undefined, now: number): void {
  span.setAttribute('rpc.system', 'grpc');
  span.setAttribute('rpc.service', rpc.service);
  span.setAttribute('rpc.method', rpc.method);
  // Remaining budget at call start; together with DEADLINE_EXCEEDED it shows how tight it was.
  if (deadline !== undefined) span.setAttribute('rpc.grpc.deadline_remaining_ms', Math.max(0, Math.round(deadline - now)));
}

class ServerCall {
  readonly rt: Runtime;
  readonly rpc: RpcName;
  readonly start = performance.now();
  readonly deadline: number | undefined;
  span: Span | undefined;
  ctx: Context = ROOT_CONTEXT;
  done = false;

  constructor(rt: Runtime, rpc: RpcName, deadline: number | undefined) {
    this.rt = rt;
    this.rpc = rpc;
    this.deadline = deadline;
  }

  begin(md: Metadata): void {
    if (!this.rt.enabled) return;
    const parent = propagation.extract(ROOT_CONTEXT, md, metadataGetter);
    const span = this.rt.tracer.startSpan(this.rpc.name, { kind: SpanKind.SERVER, startTime: this.start }, parent);
    if (span.isRecording()) setRpcAttributes(span, this.rpc, this.deadline, Date.now());
    this.span = span;
    this.ctx = trace.setSpan(parent, span);
  }

  finish(code: number, details: string | undefined): void {
    if (this.done) return;
    this.done = true;
    const end = performance.now();
    let traceId: string | undefined;
    let spanId: string | undefined;
    const span = this.span;
    if (span !== undefined) {
      if (span.isRecording()) {
        endRpcSpan(span, code, details);
        if (code === CANCELLED) span.addEvent('cancelled');
        else if (code === DEADLINE_EXCEEDED) span.addEvent('deadline_exceeded');
      }
      span.end(end);
      const sc = span.spanContext();
      if ((sc.traceFlags & 1) === 1) {
        traceId = sc.traceId;
        spanId = sc.spanId;
      }
    }
    this.rt.emit({
      kind: 'rpc_server', durationS: (end - this.start) / 1000,
      rpcService: this.rpc.service, rpcMethod: this.rpc.method, grpcStatusCode: code, traceId, spanId,
    });
  }

  /** grpc-js reports cancel both for client cancellation and for its own deadline timer. */
  cancelled(): void {
    const code = this.deadline !== undefined && Date.now() >= this.deadline ? DEADLINE_EXCEEDED : CANCELLED;
    this.finish(code, code === CANCELLED ? 'Cancelled' : 'Deadline exceeded');
  }
}

export function createServerInterceptor(rt: Runtime): ServerInterceptor {
  const g = grpc();
  return function tailtraceServerInterceptor(methodDescriptor, call) {
    const st = new ServerCall(rt, parseRpcPath(methodDescriptor.path), deadlineMs(call.getDeadline()));
    // Every listener step forwards inside the span's context: grpc-js invokes the handler from
    // these callbacks (unary/server-streaming on half-close, the streaming kinds on metadata),
    // so the handler and its stream events run with the server span active.
    return new g.ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(md, nextMd) {
            st.begin(md);
            context.with(st.ctx, nextMd, undefined, md);
          },
          onReceiveMessage(msg: unknown, nextMsg) {
            context.with(st.ctx, nextMsg, undefined, msg);
          },
          onReceiveHalfClose(nextHc) {
            context.with(st.ctx, nextHc);
          },
          onCancel() {
            st.cancelled();
          },
        });
      },
      sendStatus(status, next) {
        // A handler answering after grpc-js already sent DEADLINE_EXCEEDED: the client saw that.
        const late = status.code === 0 && st.deadline !== undefined && Date.now() >= st.deadline;
        st.finish(late ? DEADLINE_EXCEEDED : status.code, status.details);
        next(status);
      },
    });
  };
}

export function createClientInterceptor(rt: Runtime): Interceptor {
  const g = grpc();
  return function tailtraceClientInterceptor(options, nextCall) {
    const rpc = parseRpcPath(options.method_definition.path);
    const parent = context.active();
    const start = performance.now();
    const inner = nextCall(options);
    let span: Span | undefined;
    let done = false;
    const finish = (status: StatusObject): void => {
      if (done) return;
      done = true;
      const end = performance.now();
      let traceId: string | undefined;
      let spanId: string | undefined;
      if (span !== undefined) {
        if (span.isRecording()) {
          const peer = splitHostPort(inner.getPeer());
          if (peer.host !== 'unknown' && peer.host !== '') {
            span.setAttribute('server.address', peer.host);
            if (peer.port !== undefined) span.setAttribute('server.port', peer.port);
          }
          endRpcSpan(span, status.code, status.details);
          if (status.code === CANCELLED) span.addEvent('cancelled');
          else if (status.code === DEADLINE_EXCEEDED) span.addEvent('deadline_exceeded');
        }
        span.end(end);
        const sc = span.spanContext();
        if ((sc.traceFlags & 1) === 1) {
          traceId = sc.traceId;
          spanId = sc.spanId;
        }
      }
      rt.emit({
        kind: 'rpc_client', durationS: (end - start) / 1000,
        rpcService: rpc.service, rpcMethod: rpc.method, grpcStatusCode: status.code, traceId, spanId,
      });
    };
    return new g.InterceptingCall(inner, {
      start(metadata, listener, next) {
        if (rt.enabled) {
          span = rt.tracer.startSpan(rpc.name, { kind: SpanKind.CLIENT, startTime: start }, parent);
          if (span.isRecording()) setRpcAttributes(span, rpc, deadlineMs(options.deadline), Date.now());
          propagation.inject(trace.setSpan(parent, span), metadata, metadataSetter);
        }
        next(metadata, {
          // Callbacks run in the caller's context, not whatever the socket event carried.
          onReceiveMessage(msg: unknown, nextMsg: (m: unknown) => void) {
            context.with(parent, nextMsg, undefined, msg);
          },
          onReceiveStatus(status: StatusObject, nextStatus: (s: StatusObject) => void) {
            finish(status);
            context.with(parent, nextStatus, undefined, status);
          },
        });
      },
    });
  };
}
