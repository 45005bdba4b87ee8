// OTLP trace requests in protobuf, the encoding the Collector's OTLP gRPC exporter sends: a
// decoder for the parts a test reads (resource service.name, trace/span/parent IDs, name, kind)
// and an encoder for synthetic traces shaped like the demo's (a load generator for the gateway
// throughput figure). Only the proto fields named below; everything else is skipped by wire type.
//
//   ExportTraceServiceRequest { ResourceSpans resource_spans = 1 }
//   ResourceSpans { Resource resource = 1; ScopeSpans scope_spans = 2 }
//   Resource { KeyValue attributes = 1 }           KeyValue { string key = 1; AnyValue value = 2 }
//   AnyValue { string string_value = 1; int64 int_value = 3 }
//   ScopeSpans { InstrumentationScope scope = 1; Span spans = 2 }   InstrumentationScope { string name = 1 }
//   Span { bytes trace_id = 1; bytes span_id = 2; bytes parent_span_id = 4; string name = 5;
//          SpanKind kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
//          KeyValue attributes = 9; Status status = 15 }          Status { StatusCode code = 3 }

export interface DecodedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
}

class Reader {
  readonly buf: Buffer;
  readonly end: number;
  pos: number;
  constructor(buf: Buffer, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }
  more(): boolean {
    return this.pos < this.end;
  }
  varint(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const b = this.buf[this.pos++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
    throw new Error('varint too long');
  }
  /** The sub-message/bytes field at the cursor as its own reader. */
  sub(): Reader {
    const len = this.varint();
    if (this.pos + len > this.end) throw new Error('truncated field');
    const r = new Reader(this.buf, this.pos, this.pos + len);
    this.pos += len;
    return r;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.sub();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
  /** Calls `on(field, wire)` for each field; `on` must consume the value or return false to skip it. */
  fields(on: (field: number, wire: number) => boolean): void {
    while (this.more()) {
      const tag = this.varint();
      if (!on(Math.floor(tag / 8), tag & 7)) this.skip(tag & 7);
    }
  }
  text(): string {
    return this.sub().slice().toString('utf8');
  }
  hex(): string {
    return this.sub().slice().toString('hex');
  }
  slice(): Buffer {
    return this.buf.subarray(this.pos, this.end);
  }
}

/** service.name of a Resource message. */
function resourceService(r: Reader): string {
  let service = '';
  r.fields((f, w) => {
    if (f !== 1 || w !== 2) return false;
    const kv = r.sub();
    let key = '';
    let value = '';
    kv.fields((kf, kw) => {
      if (kf === 1 && kw === 2) { key = kv.text(); return true; }
      if (kf === 2 && kw === 2) {
        const any = kv.sub();
        any.fields((af, aw) => {
          if (af === 1 && aw === 2) { value = any.text(); return true; }
          return false;
        });
        return true;
      }
      return false;
    });
    if (key === 'service.name') service = value;
    return true;
  });
  return service;
}

function decodeSpan(r: Reader, service: string): DecodedSpan {
  const s: DecodedSpan = { service, traceId: '', spanId: '', parentSpanId: '', name: '', kind: 0 };
  r.fields((f, w) => {
    if (f === 1 && w === 2) s.traceId = r.hex();
    else if (f === 2 && w === 2) s.spanId = r.hex();
    else if (f === 4 && w === 2) s.parentSpanId = r.hex();
    else if (f === 5 && w === 2) s.name = r.text();
    else if (f === 6 && w === 0) s.kind = r.varint();
    else return false;
    return true;
  });
  return s;
}

/** The spans of one ExportTraceServiceRequest (protobuf). Throws on a malformed message. */
export function decodeTraceRequest(buf: Buffer): DecodedSpan[] {
  const out: DecodedSpan[] = [];
  const req = new Reader(buf);
  req.fields((f, w) => {
    if (f !== 1 || w !== 2) return false;
    const rs = req.sub();
    let service = '';
    const scopes: Reader[] = [];
    rs.fields((rf, rw) => {
      if (rf === 1 && rw === 2) { service = resourceService(rs.sub()); return true; }
      if (rf === 2 && rw === 2) { scopes.push(rs.sub()); return true; }
      return false;
    });
    for (const ss of scopes) {
      ss.fields((sf, sw) => {
        if (sf !== 2 || sw !== 2) return false;
        out.push(decodeSpan(ss.sub(), service));
        return true;
      });
    }
    return true;
  });
  return out;
}

/** Spans in one request without decoding them (a cheap count for the throughput run). */
export function countSpans(buf: Buffer): number {
  let n = 0;
  const req = new Reader(buf);
  req.fields((f, w) => {
    if (f !== 1 || w !== 2) return false;
    const rs = req.sub();
    rs.fields((rf, rw) => {
      if (rf !== 2 || rw !== 2) return false;
      const ss = rs.sub();
      ss.fields((sf, sw) => {
        if (sf !== 2 || sw !== 2) return false;
        ss.sub();
        n++;
        return true;
      });
      return true;
    });
    return true;
  });
  return n;
}

// ---- encoding ----

class Writer {
  private chunks: Buffer[] = [];
  private len = 0;
  private push(b: Buffer): void {
    this.chunks.push(b);
    this.len += b.length;
  }
  varint(v: number): this {
    const bytes: number[] = [];
    while (v >= 0x80) {
      bytes.push((v % 128) | 0x80);
      v = Math.floor(v / 128);
    }
    bytes.push(v);
    this.push(Buffer.from(bytes));
    return this;
  }
  tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }
  bytes(field: number, b: Buffer): this {
    this.tag(field, 2).varint(b.length);
    this.push(b);
    return this;
  }
  string(field: number, s: string): this {
    return this.bytes(field, Buffer.from(s, 'utf8'));
  }
  message(field: number, w: Writer): this {
    return this.bytes(field, w.finish());
  }
  fixed64(field: number, v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(v);
    this.tag(field, 1);
    this.push(b);
    return this;
  }
  finish(): Buffer {
    return Buffer.concat(this.chunks, this.len);
  }
}

export type Attr = [string, string | number];

function keyValue([key, value]: Attr): Writer {
  const any = new Writer();
  if (typeof value === 'string') any.string(1, value);
  else any.tag(3, 0).varint(value);
  return new Writer().string(1, key).message(2, any);
}

export interface SpanSpec {
  traceId: Buffer;
  spanId: Buffer;
  parentSpanId?: Buffer;
  name: string;
  kind: number;
  startNs: bigint;
  endNs: bigint;
  attributes: Attr[];
  /** 2 = error */
  statusCode?: number;
}

function encodeSpan(s: SpanSpec): Writer {
  const w = new Writer().bytes(1, s.traceId).bytes(2, s.spanId);
  if (s.parentSpanId) w.bytes(4, s.parentSpanId);
  w.string(5, s.name).tag(6, 0).varint(s.kind).fixed64(7, s.startNs).fixed64(8, s.endNs);
  for (const a of s.attributes) w.message(9, keyValue(a));
  if (s.statusCode) w.message(15, new Writer().tag(3, 0).varint(s.statusCode));
  return w;
}

/** One ExportTraceServiceRequest: the spans of each service under its own resource. */
export function encodeTraceRequest(byService: Map<string, SpanSpec[]>): Buffer {
  const req = new Writer();
  for (const [service, spans] of byService) {
    const resource = new Writer().message(1, keyValue(['service.name', service]));
    const scope = new Writer().message(1, new Writer().string(1, 'tailtrace-loadgen'));
    for (const s of spans) scope.message(2, encodeSpan(s));
    req.message(1, new Writer().message(1, resource).message(2, scope));
  }
  return req.finish();
}
