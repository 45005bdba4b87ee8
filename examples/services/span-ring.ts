// A bounded in-memory copy of the spans a service finished, so the demo can show the spans of
// the slowest requests without any tracing backend. Fixed capacity: old spans are overwritten,
// memory never grows with traffic.
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';

export interface SpanView {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  service: string;
  startMs: number;
  durationMs: number;
  statusCode: number;
  attributes: Record<string, string | number | boolean>;
}

export class SpanRing implements SpanProcessor {
  readonly #spans: (ReadableSpan | undefined)[];
  #next = 0;
  readonly service: string;

  constructor(service: string, capacity = 50_000) {
    this.service = service;
    this.#spans = new Array<ReadableSpan | undefined>(capacity);
  }

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    this.#spans[this.#next] = span;
    this.#next = (this.#next + 1) % this.#spans.length;
  }

  async forceFlush(): Promise<void> {}

  async shutdown(): Promise<void> {}

  /** Spans whose trace ID is in `traceIds`, as plain objects (they cross an IPC channel). */
  find(traceIds: ReadonlySet<string>): SpanView[] {
    const out: SpanView[] = [];
    for (const span of this.#spans) {
      if (span === undefined) continue;
      const ctx = span.spanContext();
      if (!traceIds.has(ctx.traceId)) continue;
      const attributes: Record<string, string | number | boolean> = {};
      for (const [k, v] of Object.entries(span.attributes)) {
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') attributes[k] = v;
      }
      const view: SpanView = {
        traceId: ctx.traceId,
        spanId: ctx.spanId,
        name: span.name,
        kind: span.kind,
        service: this.service,
        startMs: span.startTime[0] * 1e3 + span.startTime[1] / 1e6,
        durationMs: span.duration[0] * 1e3 + span.duration[1] / 1e6,
        statusCode: span.status.code,
        attributes,
      };
      const parent = span.parentSpanContext?.spanId;
      if (parent) view.parentSpanId = parent;
      out.push(view);
    }
    return out;
  }
}
