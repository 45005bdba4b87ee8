// Keeps the spans the demo will show for its slowest requests, without any tracing backend and
// in bounded memory. Finished spans go, as small plain views, into a short ring of recent spans.
// The load driver tells the services (through the demo) each time a trace enters its list of
// slowest requests; that trace is then pinned: its spans move out of the ring, and spans of it
// that end later go straight to the pins. Only the slowest `maxPins` traces stay pinned.
// A ReadableSpan retains ~7 KB (resource, scope, context); a view is a fraction of that, and
// the ring never grows with traffic.
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

interface Pin {
  latencyMs: number;
  spans: SpanView[];
}

function view(span: ReadableSpan, service: string): SpanView {
  const ctx = span.spanContext();
  const attributes: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(span.attributes)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') attributes[k] = v;
  }
  const out: SpanView = {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    name: span.name,
    kind: span.kind,
    service,
    startMs: span.startTime[0] * 1e3 + span.startTime[1] / 1e6,
    durationMs: span.duration[0] * 1e3 + span.duration[1] / 1e6,
    statusCode: span.status.code,
    attributes,
  };
  const parent = span.parentSpanContext?.spanId;
  if (parent) out.parentSpanId = parent;
  return out;
}

export class SpanRing implements SpanProcessor {
  readonly service: string;
  readonly #ring: (SpanView | undefined)[];
  readonly #pins = new Map<string, Pin>();
  readonly #maxPins: number;
  #next = 0;

  constructor(service: string, capacity = 4096, maxPins = 200) {
    this.service = service;
    this.#ring = new Array<SpanView | undefined>(capacity);
    this.#maxPins = maxPins;
  }

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    const v = view(span, this.service);
    const pin = this.#pins.get(v.traceId);
    if (pin) {
      pin.spans.push(v);
      return;
    }
    this.#ring[this.#next] = v;
    this.#next = (this.#next + 1) % this.#ring.length;
  }

  async forceFlush(): Promise<void> {}

  async shutdown(): Promise<void> {}

  /** Keep this trace's spans (it is one of the slowest the driver saw). */
  pin(traceId: string, latencyMs: number): void {
    let pin = this.#pins.get(traceId);
    if (!pin) {
      pin = { latencyMs, spans: [] };
      this.#pins.set(traceId, pin);
      for (let i = 0; i < this.#ring.length; i++) {
        const v = this.#ring[i];
        if (v?.traceId === traceId) {
          pin.spans.push(v);
          this.#ring[i] = undefined;
        }
      }
    }
    pin.latencyMs = Math.max(pin.latencyMs, latencyMs);
    if (this.#pins.size > this.#maxPins) {
      let fastest: string | undefined;
      let min = Infinity;
      for (const [id, p] of this.#pins) {
        if (p.latencyMs < min) {
          min = p.latencyMs;
          fastest = id;
        }
      }
      if (fastest !== undefined) this.#pins.delete(fastest);
    }
  }

  /** Spans of the given traces, pinned or still in the ring. */
  find(traceIds: ReadonlySet<string>): SpanView[] {
    const out: SpanView[] = [];
    for (const id of traceIds) out.push(...(this.#pins.get(id)?.spans ?? []));
    for (const v of this.#ring) if (v !== undefined && traceIds.has(v.traceId) && !this.#pins.has(v.traceId)) out.push(v);
    return out;
  }
}
