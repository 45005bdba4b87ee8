// OTLP/JSON encoding (OTEL_EXPORTER_OTLP_PROTOCOL=http/json): the same request OpenTelemetry JS's
// JsonTraceSerializer sends (hex IDs, enums as numbers, 64-bit times as decimal strings), written
// as text span by span when each ends, so no object tree is built for JSON.stringify.
import type { Attributes, Link } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { TimedEvent } from '@opentelemetry/sdk-trace';
import { hrDecimal, nanosDecimal } from './clock.ts';
import type { RecordingSpan, SpanScope } from './span.ts';

const q = JSON.stringify;

function number(v: number): string {
  // proto3's JSON mapping spells the non-finite doubles as strings.
  if (Number.isFinite(v)) return String(v);
  return Number.isNaN(v) ? '"NaN"' : v > 0 ? '"Infinity"' : '"-Infinity"';
}

function anyValue(v: unknown): string {
  switch (typeof v) {
    case 'string': return `{"stringValue":${q(v)}}`;
    case 'boolean': return `{"boolValue":${v}}`;
    case 'number': return Number.isInteger(v) ? `{"intValue":${v}}` : `{"doubleValue":${number(v)}}`;
    default:
  }
  if (v instanceof Uint8Array) return `{"bytesValue":"${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')}"}`;
  if (Array.isArray(v)) return `{"arrayValue":{"values":[${v.map(anyValue).join(',')}]}}`;
  if (typeof v === 'object' && v !== null) return `{"kvlistValue":{"values":${attributes(v as Attributes)}}}`;
  return '{}';
}

function keyValues(keys: readonly string[], values: readonly unknown[]): string {
  let out = '';
  for (let i = 0; i < keys.length; i++) out += `${i === 0 ? '' : ','}{"key":${q(keys[i])},"value":${anyValue(values[i])}}`;
  return `[${out}]`;
}

export function attributes(attrs: Attributes | undefined): string {
  if (attrs === undefined) return '[]';
  let out = '';
  for (const key in attrs) {
    if (!Object.hasOwn(attrs, key)) continue;
    out += `${out === '' ? '' : ','}{"key":${q(key)},"value":${anyValue(attrs[key])}}`;
  }
  return `[${out}]`;
}

function flags(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 0xff) | 0x100 | (isRemote ? 0x200 : 0);
}

function event(e: TimedEvent): string {
  return `{"attributes":${attributes(e.attributes)},"name":${q(e.name)},"timeUnixNano":"${hrDecimal(e.time)}","droppedAttributesCount":${e.droppedAttributesCount ?? 0}}`;
}

function link(l: Link): string {
  const c = l.context;
  const state = c.traceState?.serialize();
  return `{"attributes":${attributes(l.attributes)},"spanId":${q(c.spanId)},"traceId":${q(c.traceId)}${state ? `,"traceState":${q(state)}` : ''}`
    + `,"droppedAttributesCount":${l.droppedAttributesCount ?? 0},"flags":${flags(c.traceFlags, c.isRemote)}}`;
}

/** One span as an OTLP/JSON object. */
export function spanJson(span: RecordingSpan): string {
  const sc = span.spanContext();
  const parent = span.parentSpanContext;
  const state = sc.traceState?.serialize();
  const status = span.status;
  return `{"traceId":${q(sc.traceId)},"spanId":${q(sc.spanId)}${parent?.spanId ? `,"parentSpanId":${q(parent.spanId)}` : ''}`
    + `${state ? `,"traceState":${q(state)}` : ''},"name":${q(span.name)},"kind":${span.kind + 1}`
    + `,"startTimeUnixNano":"${nanosDecimal(span.startMs)}","endTimeUnixNano":"${nanosDecimal(span.endMs)}"`
    + `,"attributes":${keyValues(span.attributeKeys, span.attributeValues)},"droppedAttributesCount":${span.droppedAttributesCount}`
    + `,"events":[${span.events.map(event).join(',')}],"droppedEventsCount":${span.droppedEventsCount}`
    + `,"status":{"code":${status.code}${status.message !== undefined ? `,"message":${q(status.message)}` : ''}}`
    + `,"links":[${span.links.map(link).join(',')}],"droppedLinksCount":${span.droppedLinksCount}`
    + `,"flags":${flags(sc.traceFlags, parent?.isRemote)}}`;
}

function scopeJson(s: InstrumentationScope & { attributes?: Attributes; droppedAttributesCount?: number }): string {
  const extra = s.attributes !== undefined && Object.keys(s.attributes).length > 0
    ? `,"attributes":${attributes(s.attributes)},"droppedAttributesCount":${s.droppedAttributesCount ?? 0}` : '';
  return `{"name":${q(s.name)}${s.version !== undefined ? `,"version":${q(s.version)}` : ''}${extra}}`;
}

interface Chunk {
  readonly header: string;
  readonly schemaUrl: string | undefined;
  spans: string[];
}

/** Request bodies of OTLP/JSON, a span's text written when it ends. */
export class JsonBatch {
  readonly contentType = 'application/json';
  readonly #resource: string;
  readonly #open: Chunk[] = [];
  readonly #chunks = new Map<SpanScope, Chunk>();
  count = 0;

  constructor(resource: Resource) {
    const schema = resource.schemaUrl ? `,"schemaUrl":${q(resource.schemaUrl)}` : '';
    this.#resource = `{"attributes":${attributes(resource.attributes)},"droppedAttributesCount":0${schema}}`;
  }

  add(span: RecordingSpan): void {
    const scope = span.scope;
    let chunk = this.#chunks.get(scope);
    if (chunk === undefined) {
      const s = scope.instrumentationScope;
      chunk = { header: scopeJson(s), schemaUrl: s.schemaUrl, spans: [] };
      this.#chunks.set(scope, chunk);
    }
    const text = spanJson(span);
    if (chunk.spans.length === 0) this.#open.push(chunk);
    chunk.spans.push(text);
    this.count++;
  }

  seal(): Uint8Array {
    const scopes = this.#open.map((c) => {
      const text = `{"scope":${c.header},"spans":[${c.spans.join(',')}]${c.schemaUrl ? `,"schemaUrl":${q(c.schemaUrl)}` : ''}}`;
      c.spans = [];
      return text;
    });
    this.#open.length = 0;
    this.count = 0;
    // TextEncoder's output owns its buffer: the export worker can take it without a copy.
    return new TextEncoder().encode(`{"resourceSpans":[{"resource":${this.#resource},"scopeSpans":[${scopes.join(',')}]}]}`);
  }
}
