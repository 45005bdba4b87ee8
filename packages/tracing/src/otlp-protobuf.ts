// OTLP/protobuf encoding of spans, straight from our RecordingSpan into bytes (no intermediate
// objects): opentelemetry-proto's trace.proto, fields written in the order and with the values
// OpenTelemetry JS's own ProtobufTraceSerializer writes them, so both give the same bytes for the
// same span (a test holds us to it).
//
//   ExportTraceServiceRequest { ResourceSpans resource_spans = 1 }
//   ResourceSpans { Resource resource = 1; ScopeSpans scope_spans = 2; string schema_url = 3 }
//   ScopeSpans { InstrumentationScope scope = 1; Span spans = 2; string schema_url = 3 }
//   Span { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4;
//          string name = 5; SpanKind kind = 6; fixed64 start_time_unix_nano = 7;
//          fixed64 end_time_unix_nano = 8; KeyValue attributes = 9; uint32 dropped_attributes_count = 10;
//          Event events = 11; uint32 dropped_events_count = 12; Link links = 13;
//          uint32 dropped_links_count = 14; Status status = 15; fixed32 flags = 16 }
//
// A batch keeps one growing buffer per instrumentation scope, reused from batch to batch: a span
// is appended to its scope's buffer when it ends, and sealing the batch copies the buffers once
// into a request body of exactly the right size (which the export worker then owns).
import type { Attributes, HrTime, Link, SpanContext } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { TimedEvent } from '@opentelemetry/sdk-trace';
import type { RecordingSpan, SpanScope } from './span.ts';

const LEN = 2;
const VARINT = 0;
const I64 = 1;
const I32 = 5;

const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;

export class ProtoWriter {
  buf: Buffer;
  pos = 0;

  /** `into`: write into this buffer (it grows into a new one if too small). */
  constructor(size = 4096, into?: Buffer) {
    this.buf = into ?? Buffer.allocUnsafe(size);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  tag(field: number, wire: number): void {
    const t = (field << 3) | wire;
    if (t > 127) return this.uint32(t);
    this.ensure(1);
    this.buf[this.pos++] = t;
  }

  uint32(v: number): void {
    this.ensure(5);
    let x = v >>> 0;
    while (x > 127) {
      this.buf[this.pos++] = (x & 127) | 128;
      x >>>= 7;
    }
    this.buf[this.pos++] = x;
  }

  /** int64 varint of a safe integer (negative ones in ten bytes, two's complement). */
  int64(v: number): void {
    if (v >= 0 && v <= 0xffffffff) return this.uint32(v);
    this.ensure(10);
    let lo: number;
    let hi: number;
    if (v >= 0) {
      lo = v >>> 0;
      hi = (v / 4294967296) >>> 0;
    } else {
      const abs = -v;
      lo = ~(abs >>> 0) >>> 0;
      hi = ~((abs / 4294967296) >>> 0) >>> 0;
      lo = (lo + 1) >>> 0;
      if (lo === 0) hi = (hi + 1) >>> 0;
    }
    while (hi > 0 || lo > 127) {
      this.buf[this.pos++] = (lo & 127) | 128;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    this.buf[this.pos++] = lo & 127;
  }

  fixed32(v: number): void {
    this.ensure(4);
    this.#le32(v);
  }

  fixed64(lo: number, hi: number): void {
    this.ensure(8);
    this.#le32(lo);
    this.#le32(hi);
  }

  /** Four bytes little-endian, unchecked (Buffer's writeUInt32LE validates on every call). */
  #le32(v: number): void {
    const b = this.buf;
    const p = this.pos;
    b[p] = v & 255;
    b[p + 1] = (v >>> 8) & 255;
    b[p + 2] = (v >>> 16) & 255;
    b[p + 3] = (v >>> 24) & 255;
    this.pos = p + 4;
  }

  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  /** Nanoseconds since the epoch of an HrTime, as fixed64. */
  hrTime(t: HrTime): void {
    this.nanos(t[0], t[1]);
  }

  /** Nanoseconds since the epoch of epoch milliseconds (converted as the SDK's millisToHrTime does). */
  epochMs(ms: number): void {
    this.nanos(Math.trunc(ms / 1e3), Math.round((ms % 1e3) * 1e6));
  }

  /** seconds * 1e9 + nanos as fixed64, in 32-bit halves (the SDK's arithmetic: no BigInt). */
  nanos(seconds: number, nanos: number): void {
    const fromLo = (seconds & 0xffff) * 1e9;
    const fromHi = ((seconds / 65536) >>> 0) * 1e9;
    const sum = (fromLo >>> 0) + (((fromHi & 0xffff) * 65536) >>> 0) + nanos;
    this.fixed64(sum >>> 0, Math.floor(fromLo / 4294967296) + ((fromHi / 65536) >>> 0) + Math.floor(sum / 4294967296));
  }

  /** Length-prefixed UTF-8. */
  string(s: string): void {
    const n = s.length;
    let ascii = true;
    for (let i = 0; i < n; i++) {
      if (s.charCodeAt(i) > 127) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      this.uint32(n);
      this.ensure(n);
      if (n > 64) this.buf.write(s, this.pos, n, 'latin1');
      else for (let i = 0; i < n; i++) this.buf[this.pos + i] = s.charCodeAt(i);
      this.pos += n;
      return;
    }
    const bytes = Buffer.byteLength(s, 'utf8');
    this.uint32(bytes);
    this.ensure(bytes);
    this.pos += this.buf.write(s, this.pos, bytes, 'utf8');
  }

  /** Length-prefixed bytes from lower-case (or upper-case) hex. */
  hex(h: string): void {
    const n = h.length >>> 1;
    this.uint32(n);
    this.ensure(n);
    for (let i = 0; i < n; i++) this.buf[this.pos++] = (nibble(h.charCodeAt(2 * i)) << 4) | nibble(h.charCodeAt(2 * i + 1));
  }

  bytes(b: Uint8Array): void {
    this.uint32(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Starts a length-delimited field's body; one byte is reserved for its length. */
  fork(): number {
    this.ensure(1);
    return this.pos++;
  }

  /** Ends what fork() started: writes the length, moving the body when it needs more than one byte. */
  ldelim(at: number): void {
    const len = this.pos - at - 1;
    if (len < 128) {
      this.buf[at] = len;
      return;
    }
    const size = len < 16384 ? 2 : len < 2097152 ? 3 : len < 268435456 ? 4 : 5;
    this.ensure(size - 1);
    this.buf.copyWithin(at + size, at + 1, this.pos);
    this.pos += size - 1;
    let x = len;
    let p = at;
    while (x > 127) {
      this.buf[p++] = (x & 127) | 128;
      x >>>= 7;
    }
    this.buf[p] = x;
  }

  reset(): void {
    this.pos = 0;
  }
}

function nibble(c: number): number {
  return c <= 57 ? c - 48 : c <= 70 ? c - 55 : c - 87;
}

function anyValue(w: ProtoWriter, v: unknown): void {
  switch (typeof v) {
    case 'string':
      w.tag(1, LEN);
      w.string(v);
      return;
    case 'boolean':
      w.tag(2, VARINT);
      w.uint32(v ? 1 : 0);
      return;
    case 'number':
      if (Number.isInteger(v) && v >= -(2 ** 63) && v < 2 ** 63) {
        w.tag(3, VARINT);
        w.int64(v);
      } else {
        w.tag(4, I64);
        w.double(v);
      }
      return;
    default:
  }
  if (v instanceof Uint8Array) {
    w.tag(7, LEN);
    w.bytes(v);
  } else if (Array.isArray(v)) {
    w.tag(5, LEN);
    const arr = w.fork();
    for (const item of v) {
      w.tag(1, LEN);
      const at = w.fork();
      anyValue(w, item);
      w.ldelim(at);
    }
    w.ldelim(arr);
  } else if (typeof v === 'object' && v !== null) {
    w.tag(6, LEN);
    const list = w.fork();
    const obj = v as Record<string, unknown>;
    for (const k in obj) {
      if (!Object.hasOwn(obj, k)) continue;
      w.tag(1, LEN);
      const kv = w.fork();
      w.tag(1, LEN);
      w.string(k);
      w.tag(2, LEN);
      const val = w.fork();
      anyValue(w, obj[k]);
      w.ldelim(val);
      w.ldelim(kv);
    }
    w.ldelim(list);
  }
}

function keyValue(w: ProtoWriter, field: number, key: string, value: unknown): void {
  w.tag(field, LEN);
  const kv = w.fork();
  w.tag(1, LEN);
  w.string(key);
  w.tag(2, LEN);
  const val = w.fork();
  anyValue(w, value);
  w.ldelim(val);
  w.ldelim(kv);
}

export function writeAttributes(w: ProtoWriter, attrs: Attributes | undefined, field: number): void {
  if (attrs === undefined) return;
  for (const key in attrs) if (Object.hasOwn(attrs, key)) keyValue(w, field, key, attrs[key]);
}

function spanFlags(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 0xff) | HAS_IS_REMOTE | (isRemote ? IS_REMOTE : 0);
}

function writeEvent(w: ProtoWriter, e: TimedEvent): void {
  w.tag(11, LEN);
  const at = w.fork();
  w.tag(1, I64);
  w.hrTime(e.time);
  w.tag(2, LEN);
  w.string(e.name);
  writeAttributes(w, e.attributes, 3);
  w.tag(4, VARINT);
  w.uint32(e.droppedAttributesCount ?? 0);
  w.ldelim(at);
}

function writeLink(w: ProtoWriter, link: Link): void {
  w.tag(13, LEN);
  const at = w.fork();
  const c = link.context;
  w.tag(1, LEN);
  w.hex(c.traceId);
  w.tag(2, LEN);
  w.hex(c.spanId);
  const state = c.traceState?.serialize();
  if (state) {
    w.tag(3, LEN);
    w.string(state);
  }
  writeAttributes(w, link.attributes, 4);
  w.tag(5, VARINT);
  w.uint32(link.droppedAttributesCount ?? 0);
  w.tag(6, I32);
  w.fixed32(spanFlags(c.traceFlags, c.isRemote));
  w.ldelim(at);
}

/** One ScopeSpans.spans entry (field 2, tag included). */
export function writeSpan(w: ProtoWriter, span: RecordingSpan): void {
  w.tag(2, LEN);
  const at = w.fork();
  const sc: SpanContext = span.spanContext();
  w.tag(1, LEN);
  w.hex(sc.traceId);
  w.tag(2, LEN);
  w.hex(sc.spanId);
  const state = sc.traceState?.serialize();
  if (state) {
    w.tag(3, LEN);
    w.string(state);
  }
  const parent = span.parentSpanContext;
  if (parent?.spanId) {
    w.tag(4, LEN);
    w.hex(parent.spanId);
  }
  w.tag(5, LEN);
  w.string(span.name);
  // OTLP's SpanKind counts from UNSPECIFIED = 0; the API's from INTERNAL = 0.
  w.tag(6, VARINT);
  w.uint32(span.kind + 1);
  w.tag(7, I64);
  w.epochMs(span.startMs);
  w.tag(8, I64);
  w.epochMs(span.endMs);
  const keys = span.attributeKeys;
  const values = span.attributeValues;
  for (let i = 0; i < keys.length; i++) keyValue(w, 9, keys[i]!, values[i]);
  w.tag(10, VARINT);
  w.uint32(span.droppedAttributesCount);
  for (const e of span.events) writeEvent(w, e);
  w.tag(12, VARINT);
  w.uint32(span.droppedEventsCount);
  for (const l of span.links) writeLink(w, l);
  w.tag(14, VARINT);
  w.uint32(span.droppedLinksCount);
  const status = span.status;
  w.tag(15, LEN);
  const st = w.fork();
  if (status.message) {
    w.tag(2, LEN);
    w.string(status.message);
  }
  w.tag(3, VARINT);
  w.uint32(status.code);
  w.ldelim(st);
  w.tag(16, I32);
  w.fixed32(spanFlags(sc.traceFlags, parent?.isRemote));
  w.ldelim(at);
}

/** Resource message body (attributes, dropped count), as the SDK writes it. */
export function resourceBytes(resource: Resource): Buffer {
  const w = new ProtoWriter(1024);
  writeAttributes(w, resource.attributes, 1);
  w.tag(2, VARINT);
  w.uint32(0);
  return Buffer.from(w.buf.subarray(0, w.pos));
}

/** InstrumentationScope message body. */
export function scopeBytes(scope: InstrumentationScope & { attributes?: Attributes; droppedAttributesCount?: number }): Buffer {
  const w = new ProtoWriter(256);
  w.tag(1, LEN);
  w.string(scope.name);
  if (scope.version) {
    w.tag(2, LEN);
    w.string(scope.version);
  }
  writeAttributes(w, scope.attributes, 3);
  if (scope.droppedAttributesCount) {
    w.tag(4, VARINT);
    w.uint32(scope.droppedAttributesCount);
  }
  return Buffer.from(w.buf.subarray(0, w.pos));
}

function varintSize(v: number): number {
  return v < 128 ? 1 : v < 16384 ? 2 : v < 2097152 ? 3 : v < 268435456 ? 4 : 5;
}

function stringFieldSize(s: string): number {
  const n = Buffer.byteLength(s, 'utf8');
  return 1 + varintSize(n) + n;
}

/** The spans of one scope in the open batch. */
interface Chunk {
  readonly scope: SpanScope;
  readonly header: Buffer;
  readonly schemaUrl: string;
  readonly w: ProtoWriter;
}

/** Request bodies of OTLP/protobuf, built span by span as they end. */
export class ProtobufBatch {
  readonly contentType = 'application/x-protobuf';
  readonly #resource: Buffer;
  readonly #resourceSchema: string;
  /** Scopes with spans in the open batch, in order of their first span (as the SDK groups them). */
  readonly #open: Chunk[] = [];
  /** Every scope's buffer, kept across batches. */
  readonly #chunks = new Map<SpanScope, Chunk>();
  count = 0;

  constructor(resource: Resource) {
    this.#resource = resourceBytes(resource);
    this.#resourceSchema = resource.schemaUrl ?? '';
  }

  add(span: RecordingSpan): void {
    const scope = span.scope;
    let chunk = this.#chunks.get(scope);
    if (chunk === undefined) {
      const s = scope.instrumentationScope;
      chunk = { scope, header: scopeBytes(s), schemaUrl: s.schemaUrl ?? '', w: new ProtoWriter(16 * 1024) };
      this.#chunks.set(scope, chunk);
    }
    const before = chunk.w.pos;
    if (before === 0) this.#open.push(chunk);
    try {
      writeSpan(chunk.w, span);
    } catch (err) {
      // Nothing half-written stays in the batch.
      chunk.w.pos = before;
      if (before === 0) this.#open.pop();
      throw err;
    }
    this.count++;
  }

  /** The ExportTraceServiceRequest for every span added since the last seal; starts a new batch. */
  seal(): Uint8Array {
    // ResourceSpans body: resource, one ScopeSpans per scope, schema URL. Sizes first, so the
    // body is written once into a buffer of exactly its size (owned, hence transferable).
    let rsLen = 1 + varintSize(this.#resource.length) + this.#resource.length;
    const scopeLens: number[] = [];
    for (const c of this.#open) {
      let len = 1 + varintSize(c.header.length) + c.header.length + c.w.pos;
      if (c.schemaUrl !== '') len += stringFieldSize(c.schemaUrl);
      scopeLens.push(len);
      rsLen += 1 + varintSize(len) + len;
    }
    if (this.#resourceSchema !== '') rsLen += stringFieldSize(this.#resourceSchema);
    const body = new Uint8Array(1 + varintSize(rsLen) + rsLen);
    const out = new ProtoWriter(0, Buffer.from(body.buffer, 0, body.length));
    out.tag(1, LEN);
    out.uint32(rsLen);
    out.tag(1, LEN);
    out.bytes(this.#resource);
    for (let i = 0; i < this.#open.length; i++) {
      const c = this.#open[i]!;
      out.tag(2, LEN);
      out.uint32(scopeLens[i]!);
      out.tag(1, LEN);
      out.bytes(c.header);
      c.w.buf.copy(out.buf, out.pos, 0, c.w.pos);
      out.pos += c.w.pos;
      if (c.schemaUrl !== '') {
        out.tag(3, LEN);
        out.string(c.schemaUrl);
      }
      c.w.reset();
    }
    if (this.#resourceSchema !== '') {
      out.tag(3, LEN);
      out.string(this.#resourceSchema);
    }
    this.#open.length = 0;
    this.count = 0;
    return body;
  }
}
