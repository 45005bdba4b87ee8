// gRPC unary methods traced by wrapping the handlers a service registers, instead of a server
// interceptor: `server.addService(def.service, tt.grpcService(def.service, impl))`. grpc-js builds
// an intercepting-call layer with a dozen closures per call for every interceptor, a cost no
// interceptor can avoid (measured in `npm run bench -- overhead`: the pass-through interceptor
// variant); a wrapped handler has none of it. The server interceptor, if also installed, hands
// the wrapped methods' calls on untouched and keeps tracing the streaming methods, whose message
// counts only it can see without patching grpc-js.
//
// What a wrapped unary call records: the span (parent from the request metadata) is active while
// the handler runs; the status is the one the handler answered (a thrown error: UNKNOWN, as
// grpc-js answers it), or CANCELLED / DEADLINE_EXCEEDED when grpc-js reports the call cancelled
// first, or DEADLINE_EXCEEDED when the answer came after the deadline; one message each way
// when it succeeded. Unlike the interceptor it does not see a response grpc-js fails to
// serialize (the client then gets INTERNAL).
import { context } from '@opentelemetry/api';
import type {
  handleUnaryCall, Metadata, sendUnaryData, ServerUnaryCall, ServiceDefinition, UntypedHandleCall, UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { deadlineMs, messageEvent, parseRpcPath, ServerCall } from './grpc.ts';
import type { Runtime } from './runtime.ts';

const OK = 0;
const UNKNOWN = 2;

const kCall = Symbol('tailtrace.grpcServerCall');
type TaggedCall = ServerUnaryCall<unknown, unknown> & { [kCall]?: ServerCall };

/** One listener for every call (no closure per call): grpc-js emits 'cancelled' on the call when it is over. */
function onCancelled(this: TaggedCall): void {
  this[kCall]?.cancelled();
}

/** The status grpc-js sends for an error a handler answers with (its serverErrorToStatus). */
function errorStatus(err: NonNullable<Parameters<sendUnaryData<unknown>>[0]>): { code: number; details: string } {
  const e = err as { code?: unknown; details?: unknown; message?: unknown };
  if (typeof e.code === 'number' && Number.isInteger(e.code)) {
    return { code: e.code, details: typeof e.details === 'string' ? e.details : typeof e.message === 'string' ? e.message : 'Unknown Error' };
  }
  return { code: UNKNOWN, details: typeof e.message === 'string' ? e.message : 'Unknown Error' };
}

function wrapUnary(rt: Runtime, path: string, fn: handleUnaryCall<unknown, unknown>, self: UntypedServiceImplementation): handleUnaryCall<unknown, unknown> {
  const rpc = parseRpcPath(path);
  return function tracedUnary(call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>): void {
    const st = new ServerCall(rt, rpc, deadlineMs(call.getDeadline()));
    st.begin(call.metadata as Metadata);
    st.received = 1;
    messageEvent(st.span, rt, 'RECEIVED', 1);
    (call as TaggedCall)[kCall] = st;
    call.on('cancelled', onCancelled);
    const answer: sendUnaryData<unknown> = (err, value, trailer, flags) => {
      callback(err, value, trailer, flags);
      if (err) {
        const s = errorStatus(err);
        st.status(s.code, s.details);
      } else {
        st.sent = 1;
        messageEvent(st.span, rt, 'SENT', 1);
        st.status(OK, 'OK');
      }
    };
    try {
      context.with(st.ctx, fn, self, call, answer);
    } catch (err) {
      // grpc-js answers a handler that throws with UNKNOWN; the error goes on to it unchanged.
      st.status(UNKNOWN, 'Unknown error');
      throw err;
    }
  };
}

/**
 * The service implementation with its unary handlers traced (see the file comment); the other
 * methods are left as they are, for the server interceptor. Keys follow grpc-js's lookup: the
 * method name, else its original (proto) name.
 */
export function wrapGrpcService<T extends UntypedServiceImplementation>(rt: Runtime, service: ServiceDefinition, impl: T): T {
  const out: UntypedServiceImplementation = { ...impl };
  for (const [name, def] of Object.entries(service)) {
    if (def.requestStream || def.responseStream) continue;
    const key = impl[name] !== undefined ? name : def.originalName !== undefined && impl[def.originalName] !== undefined ? def.originalName : undefined;
    if (key === undefined || typeof impl[key] !== 'function') continue;
    out[key] = wrapUnary(rt, def.path, impl[key] as handleUnaryCall<unknown, unknown>, impl) as UntypedHandleCall;
    rt.grpcWrapped?.add(def.path);
  }
  return out as T;
}
