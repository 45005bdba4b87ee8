// gRPC server and client interceptors built on grpc-js's own interceptor APIs (no patching).
// grpc-js is an optional peer dependency, so it is loaded lazily on first use. Unary methods
// whose handlers grpcService() wrapped (grpc-service.ts) are traced there: the server
// interceptor hands their calls on untouched, so they skip grpc-js's interceptor layer.
import { createRequire } from 'node:module';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Context, Span, TextMapGetter, TextMapSetter } from '@opentelemetry/api';
import type * as GrpcModule from '@grpc/grpc-js';
import type { Interceptor, Metadata, ServerInterceptor, StatusObject } from '@grpc/grpc-js';
import { CHAIN_ROOT } from './context-chain.ts';
import { parseGrpcPeer, parseGrpcTarget } from './grpc-target.ts';
import { endOperation } from './operation.ts';
import type { Runtime } from './runtime.ts';

export type { Interceptor as GrpcClientInterceptor, ServerInterceptor as GrpcServerInterceptor } from '@grpc/grpc-js';

export const GRPC_STATUS_NAMES: readonly string[] = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS',
  'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE',
  'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
];
const CANCELLED = 1;
const DEADLINE_EXCEEDED = 4;
/**
 * The client's own deadline timer resets the stream when its deadline passes; the server's copy
 * of that deadline started when the headers arrived, so the reset reaches it a few ms before (or
 * after) its own deadline. A cancellation that close to the deadline is the deadline.
 */
const DEADLINE_SLACK_MS = 20;

let grpcModule: typeof GrpcModule | undefined;
/**
 * grpc-js itself, loaded the first time an interceptor runs: grpc-js is the caller then, so it is
 * installed. Building the interceptors (instrument() does) must not need it: an express-only
 * service has no grpc-js.
 */
function grpc(): typeof GrpcModule {
  if (grpcModule === undefined) {
    try {
      grpcModule = createRequire(import.meta.url)('@grpc/grpc-js') as typeof GrpcModule;
    } catch {
      throw new Error('tailtrace: the gRPC interceptors need @grpc/grpc-js: npm install @grpc/grpc-js');
    }
  }
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

export function deadlineMs(deadline: unknown): number | undefined {
  const at = deadline instanceof Date ? deadline.getTime() : typeof deadline === 'number' ? deadline : Infinity;
  return Number.isFinite(at) ? at : undefined;
}

/** The status description of an error: the peer's details, never "OK" or empty. */
function errorMessage(code: number, details: string | undefined): string {
  return details === undefined || details === '' || details === 'OK' ? statusName(code) : details;
}

function endRpcSpan(span: Span, code: number, details: string | undefined, counts: MessageCounts): void {
  span.setAttribute('rpc.grpc.status_code', code);
  // No stable semconv attribute counts messages; these two are ours (the per-message events are
  // semconv's rpc.message with rpc.message.type SENT/RECEIVED and rpc.message.id).
  span.setAttribute('rpc.grpc.messages_sent', counts.sent);
  span.setAttribute('rpc.grpc.messages_received', counts.received);
  if (code !== 0) {
    span.setAttribute('error.type', statusName(code));
    span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(code, details) });
  }
  if (code === CANCELLED) span.addEvent('cancelled');
  else if (code === DEADLINE_EXCEEDED) span.addEvent('deadline_exceeded');
}

interface MessageCounts {
  sent: number;
  received: number;
}

/** One semconv rpc.message event per message, when the option asks for them (ids count from 1). */
export function messageEvent(span: Span | undefined, rt: Runtime, type: 'SENT' | 'RECEIVED', id: number): void {
  if (rt.grpcMessageEvents === true && span !== undefined && span.isRecording()) {
    span.addEvent('rpc.message', { 'rpc.message.type': type, 'rpc.message.id': id });
  }
}

function setRpcAttributes(span: Span, rpc: RpcName, deadline: number | undefined, now: number): void {
  span.setAttribute('rpc.system', 'grpc');
  span.setAttribute('rpc.service', rpc.service);
  span.setAttribute('rpc.method', rpc.method);
  // Remaining budget at call start; together with DEADLINE_EXCEEDED it shows how tight it was.
  if (deadline !== undefined) span.setAttribute('rpc.grpc.deadline_remaining_ms', Math.max(0, Math.round(deadline - now)));
}

/** One traced server call, whichever way it is observed (interceptor or wrapped handler). */
export class ServerCall implements MessageCounts {
  readonly rt: Runtime;
  readonly rpc: RpcName;
  readonly start = performance.now();
  readonly deadline: number | undefined;
  span: Span | undefined;
  ctx: Context = ROOT_CONTEXT;
  done = false;
  sent = 0;
  received = 0;

  constructor(rt: Runtime, rpc: RpcName, deadline: number | undefined) {
    this.rt = rt;
    this.rpc = rpc;
    this.deadline = deadline;
  }

  begin(md: Metadata): void {
    if (!this.rt.enabled) return;
    const parent = propagation.extract(CHAIN_ROOT, md, metadataGetter);
    const span = this.rt.tracer.startSpan(this.rpc.name, { kind: SpanKind.SERVER, startTime: this.start }, parent);
    if (span.isRecording()) setRpcAttributes(span, this.rpc, this.deadline, Date.now());
    this.span = span;
    this.ctx = trace.setSpan(parent, span);
  }

  finish(code: number, details: string | undefined): void {
    if (this.done) return;
    this.done = true;
    const end = performance.now();
    const span = this.span;
    if (span !== undefined && span.isRecording()) endRpcSpan(span, code, details, this);
    endOperation(this.rt, span, end, {
      kind: 'rpc_server', durationS: (end - this.start) / 1000, rpcService: this.rpc.service, rpcMethod: this.rpc.method, grpcStatusCode: code,
    });
  }

  /**
   * grpc-js calls onCancel when the call is over: after the status went out (we finished then),
   * after its own deadline timer answered DEADLINE_EXCEEDED (which never passes the interceptors),
   * or when the client reset the stream.
   */
  cancelled(): void {
    const code = this.deadline !== undefined && Date.now() >= this.deadline - DEADLINE_SLACK_MS ? DEADLINE_EXCEEDED : CANCELLED;
    this.finish(code, code === CANCELLED ? 'Cancelled by the client' : 'Deadline exceeded');
  }

  /** A status sent by the handler, as the client saw it: past the deadline it saw DEADLINE_EXCEEDED. */
  status(code: number, details: string | undefined): void {
    if (this.expired()) this.finish(DEADLINE_EXCEEDED, 'Deadline exceeded');
    else this.finish(code, details);
  }

  expired(): boolean {
    return this.deadline !== undefined && Date.now() >= this.deadline;
  }
}

export function createServerInterceptor(rt: Runtime): ServerInterceptor {
  return function tailtraceServerInterceptor(methodDescriptor, call) {
    if (rt.grpcWrapped?.has(methodDescriptor.path) === true) return call as GrpcModule.ServerInterceptingCall;
    const st = new ServerCall(rt, parseRpcPath(methodDescriptor.path), deadlineMs(call.getDeadline()));
    // grpc-js runs the handler from these callbacks: unary and server-streaming handlers on
    // half-close, the client-streaming kinds on metadata (and their stream events on each
    // message). Those steps forward inside the span's context, so the handler and its stream
    // events run with the server span active; the others need no context switch.
    const streamIn = methodDescriptor.requestStream;
    return new (grpc().ServerInterceptingCall)(call, {
      start(next) {
        next({
          onReceiveMetadata(md, nextMd) {
            st.begin(md);
            if (streamIn) context.with(st.ctx, nextMd, undefined, md);
            else nextMd(md);
          },
          onReceiveMessage(msg: unknown, nextMsg) {
            messageEvent(st.span, rt, 'RECEIVED', ++st.received);
            if (streamIn) context.with(st.ctx, nextMsg, undefined, msg);
            else nextMsg(msg);
          },
          onReceiveHalfClose(nextHc) {
            context.with(st.ctx, nextHc);
          },
          onCancel() {
            st.cancelled();
          },
        });
      },
      sendMessage(message: unknown, next: (m: unknown) => void) {
        messageEvent(st.span, rt, 'SENT', ++st.sent);
        next(message);
      },
      sendStatus(status, next) {
        st.status(status.code, status.details);
        next(status);
      },
    });
  };
}

export function createClientInterceptor(rt: Runtime): Interceptor {
  return function tailtraceClientInterceptor(options, nextCall) {
    const rpc = parseRpcPath(options.method_definition.path);
    const parent = context.active();
    const start = performance.now();
    const inner = nextCall(options);
    // Before it starts, a call reports the channel target as its peer (grpc-js falls back to
    // channel.getTarget() until a connection is picked); the interceptor has no other public
    // way to the target.
    const target = inner.getPeer();
    const counts: MessageCounts = { sent: 0, received: 0 };
    let span: Span | undefined;
    let done = false;
    const finish = (status: StatusObject): void => {
      if (done) return;
      done = true;
      const end = performance.now();
      if (span !== undefined && span.isRecording()) {
        const peerName = inner.getPeer();
        const peer = peerName === target ? undefined : parseGrpcPeer(peerName);
        if (peer !== undefined) {
          span.setAttribute('network.peer.address', peer.address);
          if (peer.port !== undefined) span.setAttribute('network.peer.port', peer.port);
        }
        endRpcSpan(span, status.code, status.details, counts);
      }
      endOperation(rt, span, end, {
        kind: 'rpc_client', durationS: (end - start) / 1000, rpcService: rpc.service, rpcMethod: rpc.method, grpcStatusCode: status.code,
      });
    };
    return new (grpc().InterceptingCall)(inner, {
      start(metadata, listener, next) {
        if (rt.enabled) {
          span = rt.tracer.startSpan(rpc.name, { kind: SpanKind.CLIENT, startTime: start }, parent);
          if (span.isRecording()) {
            setRpcAttributes(span, rpc, deadlineMs(options.deadline), Date.now());
            const server = parseGrpcTarget(target);
            if (server !== undefined) {
              span.setAttribute('server.address', server.address);
              if (server.port !== undefined) span.setAttribute('server.port', server.port);
            }
          }
          propagation.inject(trace.setSpan(parent, span), metadata, metadataSetter);
        }
        next(metadata, {
          // Callbacks run in the caller's context, not whatever the socket event carried.
          onReceiveMessage(msg: unknown, nextMsg: (m: unknown) => void) {
            messageEvent(span, rt, 'RECEIVED', ++counts.received);
            context.with(parent, nextMsg, undefined, msg);
          },
          onReceiveStatus(status: StatusObject, nextStatus: (s: StatusObject) => void) {
            finish(status);
            context.with(parent, nextStatus, undefined, status);
          },
        });
      },
      sendMessage(message: unknown, next: (m: unknown) => void) {
        messageEvent(span, rt, 'SENT', ++counts.sent);
        next(message);
      },
    });
  };
}
