// The end of every traced operation (an express request, an outgoing HTTP request, a gRPC call
// on either side), written once: the span ends at `end`, and the operation's record goes to the
// metrics carrying the span's IDs when it was sampled (its exemplar and slow-trace entry).
import type { Span } from '@opentelemetry/api';
import type { Runtime } from './runtime.ts';
import { UnsampledSpan } from './span.ts';
import type { OperationRecord } from './types.ts';

/** `span` is undefined when tracing is disabled; its final attributes are set before this. */
export function endOperation(rt: Runtime, span: Span | undefined, end: number, rec: OperationRecord): void {
  if (span !== undefined) {
    span.end(end);
    // Not recorded means not sampled: its IDs need not be spelled out for the record.
    const sc = span instanceof UnsampledSpan ? undefined : span.spanContext();
    if (sc !== undefined && (sc.traceFlags & 1) === 1) {
      rec.traceId = sc.traceId;
      rec.spanId = sc.spanId;
    }
  }
  rt.emit(rec);
}
