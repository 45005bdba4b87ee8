// What every instrumentation needs from the SDK instance: a tracer and a safe way to emit
// OperationRecords. Passed explicitly (no module-level state) so tests can run fresh instances.
import type { Tracer } from '@opentelemetry/api';
import type { OperationRecord } from './types.ts';

export interface Runtime {
  readonly tracer: Tracer;
  /** false when OTEL_SDK_DISABLED: skip span work entirely, still emit records. */
  readonly enabled: boolean;
  /** TracingOptions.grpcMessageEvents: one rpc.message event per gRPC message. */
  readonly grpcMessageEvents?: boolean;
  /** Paths of the unary methods grpcService() traces itself (the server interceptor steps aside for them). */
  readonly grpcWrapped?: Set<string>;
  emit(rec: OperationRecord): void;
}

/**
 * Wraps the user's callback so a throwing consumer can never reach the request path. The first
 * failure is reported once on stderr; later ones are counted silently.
 */
export function safeEmitter(cb: ((rec: OperationRecord) => void) | undefined): (rec: OperationRecord) => void {
  if (cb === undefined) return noop;
  let reported = false;
  return (rec) => {
    try {
      cb(rec);
    } catch (err) {
      if (!reported) {
        reported = true;
        process.stderr.write(`[tailtrace] onOperation threw (further errors are ignored): ${String(err)}\n`);
      }
    }
  };
}

function noop(): void {}
