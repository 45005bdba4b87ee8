// The spans our tracer hands out. A recording span is a compact record: its context, names,
// times as epoch milliseconds, attributes as two lists, and events, links and status only when
// they are used. It follows the SDK's Span rules (attribute and count limits, the ends-once rule,
// status precedence, exception events) and reads as an SDK ReadableSpan, so user span processors
// and exporters take it as they take the SDK's; the object and HrTime views are computed when
// read. When it ends it goes to the pipeline, which encodes it for export at once: nothing keeps
// it after that.
//
// A span that is not recorded keeps only what propagation may need: its IDs (see UnsampledSpan).
import { diag, SpanStatusCode } from '@opentelemetry/api';
import type {
  Attributes, AttributeValue, Context, Exception, HrTime, Link, Span as ApiSpan, SpanAttributes, SpanContext, SpanKind, SpanStatus,
  TimeInput, TraceState,
} from '@opentelemetry/api';
import { cleanAttributes, cleanSimpleAttributes, isAnyValue } from '@opentelemetry/core';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';
import { epochOfInput, hrDuration, hrTimeOf, isPerfTime, isTimeInput, perfBase } from './clock.ts';
import { hex2, hex4 } from './ids.ts';

/** The SDK's SpanLimits with every field set (see span-limits.ts). */
export interface Limits {
  attributeValueLengthLimit: number;
  attributeCountLimit: number;
  eventCountLimit: number;
  linkCountLimit: number;
  attributePerEventCountLimit: number;
  attributePerLinkCountLimit: number;
}

/** Where a recording span reports its start and end (the tracer provider's processors and export). */
export interface SpanPipeline {
  /** False when nothing listens to onStart: the tracer then skips the call. */
  readonly wantsStart: boolean;
  onStart(span: RecordingSpan, parentContext: Context): void;
  onEnding(span: RecordingSpan): void;
  onEnd(span: RecordingSpan): void;
}

/** What every span of one tracer shares. */
export interface SpanScope {
  readonly resource: Resource;
  readonly instrumentationScope: InstrumentationScope;
  readonly limits: Limits;
  readonly pipeline: SpanPipeline;
}

const UNSET_STATUS: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });
const NO_EVENTS: TimedEvent[] = Object.freeze([]) as unknown as TimedEvent[];
const NO_LINKS: Link[] = Object.freeze([]) as unknown as Link[];

/** Span value-length limit, no count limit: what one attribute is copied and cut with. */
function oneAttributeLimits(limits: Limits): { attributeCountLimit: number; attributeValueLengthLimit: number } {
  return { attributeCountLimit: Infinity, attributeValueLengthLimit: valueLimit(limits) };
}

function valueLimit(limits: Limits): number {
  // The SDK ignores a non-positive length limit (with a warning); 0 means "no limit" here too.
  return limits.attributeValueLengthLimit > 0 ? limits.attributeValueLengthLimit : Infinity;
}

export class RecordingSpan implements ApiSpan, ReadableSpan {
  readonly #sc: SpanContext;
  readonly parentSpanContext: SpanContext | undefined;
  readonly kind: SpanKind;
  readonly scope: SpanScope;
  name: string;
  /**
   * Attributes as two parallel lists in the order first set (the order an object would keep):
   * a push per attribute instead of a keyed store into a growing object. The encoders read these;
   * `attributes` builds the object view for whoever asks (user processors and exporters).
   */
  readonly attributeKeys: string[] = [];
  readonly attributeValues: AttributeValue[] = [];
  /** Epoch milliseconds. */
  readonly startMs: number;
  endMs = 0;
  /** Epoch milliseconds at performance.now() === 0, fixed at start so the duration is the monotonic clock's. */
  readonly #base: number;
  #droppedAttributes = 0;
  #events: TimedEvent[] | undefined;
  #droppedEvents = 0;
  #links: Link[] | undefined;
  #droppedLinks = 0;
  #status: SpanStatus = UNSET_STATUS;
  #ended = false;
  #view: Attributes | undefined;

  constructor(
    scope: SpanScope, sc: SpanContext, parent: SpanContext | undefined, name: string, kind: SpanKind, startTime: TimeInput | undefined,
  ) {
    this.scope = scope;
    this.#sc = sc;
    this.parentSpanContext = parent;
    this.name = name;
    this.kind = kind;
    // A performance timestamp given as the start is also the clock reading the base needs.
    if (typeof startTime === 'number' && isPerfTime(startTime)) {
      this.#base = perfBase(startTime);
      this.startMs = this.#base + startTime;
    } else {
      const now = performance.now();
      this.#base = perfBase(now);
      this.startMs = (startTime === undefined ? undefined : epochOfInput(startTime, this.#base)) ?? this.#base + now;
    }
  }

  spanContext(): SpanContext {
    return this.#sc;
  }

  isRecording(): boolean {
    return !this.#ended;
  }

  setAttribute(key: string, value: SpanAttributes[string]): this {
    if (this.#ended) return this.#afterEnd();
    const t = typeof value;
    if (t !== 'string' && t !== 'number' && t !== 'boolean') return this.#setAnyValue(key, value);
    // The SDK's maybeAddAttribute for the common case, inline: no options object per call.
    if (key.length === 0) {
      diag.warn(`Invalid attribute key: ${key}`);
      return this;
    }
    const limit = this.scope.limits.attributeValueLengthLimit;
    const v = t === 'string' && limit > 0 && (value as string).length > limit ? (value as string).substring(0, limit) : (value as AttributeValue);
    const i = this.attributeKeys.indexOf(key);
    if (i !== -1) {
      this.attributeValues[i] = v;
      return this;
    }
    if (this.attributeKeys.length >= this.scope.limits.attributeCountLimit) return this.#dropAttribute();
    this.attributeKeys.push(key);
    this.attributeValues.push(v);
    return this;
  }

  /** Maps, byte arrays, arrays, null: the SDK's checks and copy (rare on the request path). */
  #setAnyValue(key: string, value: unknown): this {
    if (value === undefined) return this;
    if (key.length === 0) {
      diag.warn(`Invalid attribute key: ${key}`);
      return this;
    }
    const i = this.attributeKeys.indexOf(key);
    if (i === -1 && this.attributeKeys.length >= this.scope.limits.attributeCountLimit) return this.#dropAttribute();
    if (!isAnyValue(value)) {
      diag.warn(`Invalid attribute value set for key: ${key}`);
      return this;
    }
    const copy = cleanAttributes({ [key]: value }, oneAttributeLimits(this.scope.limits)).attributes?.[key] as AttributeValue;
    if (i !== -1) this.attributeValues[i] = copy;
    else {
      this.attributeKeys.push(key);
      this.attributeValues.push(copy);
    }
    return this;
  }

  #dropAttribute(): this {
    if (this.#droppedAttributes++ === 0) diag.warn('Dropping extra attributes.');
    return this;
  }

  setAttributes(attributes: SpanAttributes): this {
    for (const key in attributes) if (Object.hasOwn(attributes, key)) this.setAttribute(key, attributes[key]);
    return this;
  }

  /** Attributes given at start (the SDK's order: options, then the sampler's), cleaned with the limits here. */
  initAttributes(attributes: Attributes, dropped: number): void {
    const cleaned = cleanAttributes(attributes, { attributeCountLimit: this.scope.limits.attributeCountLimit, attributeValueLengthLimit: valueLimit(this.scope.limits) });
    const attrs = cleaned.attributes ?? {};
    for (const key of Object.keys(attrs)) {
      this.attributeKeys.push(key);
      this.attributeValues.push(attrs[key] as AttributeValue);
    }
    this.#droppedAttributes = dropped + (cleaned.droppedAttributesCount ?? 0);
  }

  /** Links given at start (attributes already cleaned); the last `linkCountLimit` are kept. */
  initLinks(links: Link[]): void {
    const max = this.scope.limits.linkCountLimit;
    if (links.length > max) {
      this.#links = links.slice(links.length - max);
      this.#droppedLinks = links.length - max;
    } else if (links.length > 0) {
      this.#links = links;
    }
  }

  addEvent(name: string, attributesOrStartTime?: Attributes | TimeInput, timeStamp?: TimeInput): this {
    if (this.#ended) return this.#afterEnd();
    const limits = this.scope.limits;
    if (limits.eventCountLimit === 0) {
      diag.warn('No events allowed.');
      this.#droppedEvents++;
      return this;
    }
    const events = (this.#events ??= []);
    if (events.length >= limits.eventCountLimit) {
      if (this.#droppedEvents === 0) diag.debug('Dropping extra events.');
      events.shift();
      this.#droppedEvents++;
    }
    let attributes = attributesOrStartTime;
    if (isTimeInput(attributes)) {
      if (!isTimeInput(timeStamp)) timeStamp = attributes;
      attributes = undefined;
    }
    const cleaned = cleanSimpleAttributes(attributes as Attributes | undefined, {
      attributeCountLimit: limits.attributePerEventCountLimit, attributeValueLengthLimit: valueLimit(limits),
    });
    events.push({ name, time: hrTimeOf(this.#timeOf(timeStamp)), ...cleaned });
    return this;
  }

  addLink(link: Link): this {
    if (this.#ended) return this.#afterEnd();
    const limits = this.scope.limits;
    if (limits.linkCountLimit === 0) {
      this.#droppedLinks++;
      return this;
    }
    const links = (this.#links ??= []);
    if (links.length >= limits.linkCountLimit) {
      if (this.#droppedLinks === 0) diag.debug('Dropping extra links.');
      links.shift();
      this.#droppedLinks++;
    }
    links.push({ context: link.context, ...cleanAttributes(link.attributes, linkLimits(limits)) });
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.#ended) return this.#afterEnd();
    // Unset changes nothing, and Ok is final (the specification's status precedence).
    if (status.code === SpanStatusCode.UNSET || this.#status.code === SpanStatusCode.OK) return this;
    const next: SpanStatus = { code: status.code };
    if (status.code === SpanStatusCode.ERROR) {
      if (typeof status.message === 'string') next.message = status.message;
      else if (status.message != null) diag.warn(`Dropping invalid status.message of type '${typeof status.message}', expected 'string'`);
    }
    this.#status = next;
    return this;
  }

  updateName(name: string): this {
    if (this.#ended) return this.#afterEnd();
    this.name = name;
    return this;
  }

  end(endTime?: TimeInput): void {
    if (this.#ended) {
      diag.error(`${this.name} ${this.#sc.traceId}-${this.#sc.spanId} - You can only call end() on a span once.`);
      return;
    }
    let end = this.#timeOf(endTime);
    if (end < this.startMs) {
      diag.warn('Inconsistent start and end time, startTime > endTime. Setting span duration to 0ms.');
      end = this.startMs;
    }
    this.endMs = end;
    if (this.#droppedEvents > 0) diag.warn(`Dropped ${this.#droppedEvents} events because eventCountLimit reached`);
    if (this.#droppedLinks > 0) diag.warn(`Dropped ${this.#droppedLinks} links because linkCountLimit reached`);
    const pipeline = this.scope.pipeline;
    pipeline.onEnding(this);
    this.#ended = true;
    pipeline.onEnd(this);
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === 'string') {
      attributes['exception.message'] = exception;
    } else if (exception) {
      if (exception.code) attributes['exception.type'] = exception.code.toString();
      else if (exception.name) attributes['exception.type'] = exception.name;
      if (exception.message) attributes['exception.message'] = exception.message;
      if (exception.stack) attributes['exception.stacktrace'] = exception.stack;
    }
    if (attributes['exception.type'] || attributes['exception.message']) this.addEvent('exception', attributes, time);
    else diag.warn(`Failed to record an exception ${String(exception)}`);
  }

  #timeOf(t: TimeInput | undefined): number {
    return (t === undefined ? undefined : epochOfInput(t, this.#base)) ?? this.#base + performance.now();
  }

  #afterEnd(): this {
    diag.warn(`Cannot execute the operation on ended Span {traceId: ${this.#sc.traceId}, spanId: ${this.#sc.spanId}}`);
    return this;
  }

  // ---- ReadableSpan (computed when read: only user processors and exporters read them) ----
  /** A fresh object while the span runs; the same one once it ended. */
  get attributes(): Attributes {
    if (this.#view !== undefined) return this.#view;
    const view: Attributes = {};
    for (let i = 0; i < this.attributeKeys.length; i++) view[this.attributeKeys[i]!] = this.attributeValues[i];
    if (this.#ended) this.#view = view;
    return view;
  }

  get startTime(): HrTime {
    return hrTimeOf(this.startMs);
  }

  get endTime(): HrTime {
    return this.#ended ? hrTimeOf(this.endMs) : [0, 0];
  }

  get duration(): HrTime {
    return this.#ended ? hrDuration(this.startMs, this.endMs) : [-1, -1];
  }

  get ended(): boolean {
    return this.#ended;
  }

  get status(): SpanStatus {
    return this.#status;
  }

  get events(): TimedEvent[] {
    return this.#events ?? NO_EVENTS;
  }

  get links(): Link[] {
    return this.#links ?? NO_LINKS;
  }

  get resource(): Resource {
    return this.scope.resource;
  }

  get instrumentationScope(): InstrumentationScope {
    return this.scope.instrumentationScope;
  }

  get droppedAttributesCount(): number {
    return this.#droppedAttributes;
  }

  get droppedEventsCount(): number {
    return this.#droppedEvents;
  }

  get droppedLinksCount(): number {
    return this.#droppedLinks;
  }
}

export function linkLimits(limits: Limits): { attributeCountLimit: number; attributeValueLengthLimit: number } {
  return { attributeCountLimit: limits.attributePerLinkCountLimit, attributeValueLengthLimit: valueLimit(limits) };
}

/**
 * A span that is not recorded. It keeps its IDs as the random words they were drawn as and spells
 * them in hex only when its context is read (an outgoing request injects it, a log line shows
 * it): an unsampled request that calls nobody costs one object and six words.
 */
export class UnsampledSpan implements ApiSpan {
  /** The parent's trace-id (a child), or undefined: then t0..t3 are this trace's words. */
  readonly #traceId: string | undefined;
  readonly #t0: number;
  readonly #t1: number;
  readonly #t2: number;
  readonly #t3: number;
  readonly #s0: number;
  readonly #s1: number;
  readonly #traceState: TraceState | undefined;
  #sc: SpanContext | undefined;

  constructor(traceId: string | undefined, t0: number, t1: number, t2: number, t3: number, s0: number, s1: number, traceState: TraceState | undefined) {
    this.#traceId = traceId;
    this.#t0 = t0;
    this.#t1 = t1;
    this.#t2 = t2;
    this.#t3 = t3;
    this.#s0 = s0;
    this.#s1 = s1;
    this.#traceState = traceState;
  }

  /** One with IDs already spelled (a test's ID source). */
  static withIds(traceId: string, spanId: string, traceState: TraceState | undefined): UnsampledSpan {
    const span = new UnsampledSpan(traceId, 0, 0, 0, 0, 0, 0, traceState);
    span.#sc = { traceId, spanId, traceFlags: 0, traceState };
    return span;
  }

  spanContext(): SpanContext {
    return (this.#sc ??= {
      traceId: this.#traceId ?? hex4(this.#t0, this.#t1, this.#t2, this.#t3),
      spanId: hex2(this.#s0, this.#s1),
      traceFlags: 0,
      traceState: this.#traceState,
    });
  }

  isRecording(): boolean {
    return false;
  }

  setAttribute(): this {
    return this;
  }

  setAttributes(): this {
    return this;
  }

  addEvent(): this {
    return this;
  }

  addLink(): this {
    return this;
  }

  addLinks(): this {
    return this;
  }

  setStatus(): this {
    return this;
  }

  updateName(): this {
    return this;
  }

  end(): void {}

  recordException(): void {}
}
