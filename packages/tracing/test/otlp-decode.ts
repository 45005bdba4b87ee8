// Test-side OTLP trace decoding: a protobuf ExportTraceServiceRequest (every field of
// opentelemetry-proto's trace.proto and common.proto) into the shape of its OTLP/JSON mapping,
// so a test reads what was sent the same way whichever protocol carried it. Independent of the
// encoder under test: a plain wire-format reader, proto3 defaults filled in.

export interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
  arrayValue?: { values: OtlpAnyValue[] };
  kvlistValue?: { values: OtlpKeyValue[] };
  bytesValue?: string;
}
export interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue;
}
export interface OtlpEvent {
  timeUnixNano: string;
  name: string;
  attributes: OtlpKeyValue[];
  droppedAttributesCount: number;
}
export interface OtlpLink {
  traceId: string;
  spanId: string;
  traceState?: string;
  attributes: OtlpKeyValue[];
  droppedAttributesCount: number;
  flags: number;
}
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  traceState?: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: OtlpKeyValue[];
  droppedAttributesCount: number;
  events: OtlpEvent[];
  droppedEventsCount: number;
  links: OtlpLink[];
  droppedLinksCount: number;
  status: { code: number; message?: string };
  flags: number;
}
export interface OtlpScopeSpans {
  scope: { name: string; version?: string; attributes?: OtlpKeyValue[]; droppedAttributesCount?: number };
  spans: OtlpSpan[];
  schemaUrl?: string;
}
export interface OtlpResourceSpans {
  resource: { attributes: OtlpKeyValue[]; droppedAttributesCount: number };
  scopeSpans: OtlpScopeSpans[];
  schemaUrl?: string;
}
export interface OtlpRequest {
  resourceSpans: OtlpResourceSpans[];
}

class Reader {
  readonly buf: Uint8Array;
  pos: number;
  readonly end: number;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  varint(): bigint {
    let v = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const b = this.buf[this.pos++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return v;
      shift += 7n;
    }
    throw new Error('varint too long');
  }

  u32(): number {
    return Number(this.varint() & 0xffffffffn);
  }

  fixed32(): number {
    const b = this.buf;
    const v = (b[this.pos]! | (b[this.pos + 1]! << 8) | (b[this.pos + 2]! << 16) | (b[this.pos + 3]! << 24)) >>> 0;
    this.pos += 4;
    return v;
  }

  fixed64(): bigint {
    const lo = BigInt(this.fixed32());
    const hi = BigInt(this.fixed32());
    return (hi << 32n) | lo;
  }

  double(): number {
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0, true);
    this.pos += 8;
    return v;
  }

  sub(): Reader {
    const len = this.u32();
    if (this.pos + len > this.end) throw new Error('truncated field');
    const r = new Reader(this.buf, this.pos, this.pos + len);
    this.pos += len;
    return r;
  }

  bytes(): Uint8Array {
    const r = this.sub();
    return this.buf.subarray(r.pos, r.end);
  }

  string(): string {
    return Buffer.from(this.bytes()).toString('utf8');
  }

  hex(): string {
    return Buffer.from(this.bytes()).toString('hex');
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.sub();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }

  /** Calls `on(field, wire)` per field; `on` returns false to have the value skipped. */
  each(on: (field: number, wire: number) => boolean): void {
    while (this.pos < this.end) {
      const tag = this.u32();
      if (!on(tag >>> 3, tag & 7)) this.skip(tag & 7);
    }
  }
}

function int64(v: bigint): number | string {
  const signed = BigInt.asIntN(64, v);
  return signed >= BigInt(Number.MIN_SAFE_INTEGER) && signed <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(signed) : signed.toString();
}

function anyValue(r: Reader): OtlpAnyValue {
  let out: OtlpAnyValue = {};
  r.each((f, w) => {
    if (f === 1 && w === 2) out = { stringValue: r.string() };
    else if (f === 2 && w === 0) out = { boolValue: r.varint() !== 0n };
    else if (f === 3 && w === 0) out = { intValue: int64(r.varint()) };
    else if (f === 4 && w === 1) out = { doubleValue: r.double() };
    else if (f === 5 && w === 2) {
      const values: OtlpAnyValue[] = [];
      const arr = r.sub();
      arr.each((g, x) => (g === 1 && x === 2 ? (values.push(anyValue(arr.sub())), true) : false));
      out = { arrayValue: { values } };
    } else if (f === 6 && w === 2) {
      const values: OtlpKeyValue[] = [];
      const list = r.sub();
      list.each((g, x) => (g === 1 && x === 2 ? (values.push(keyValue(list.sub())), true) : false));
      out = { kvlistValue: { values } };
    } else if (f === 7 && w === 2) out = { bytesValue: Buffer.from(r.bytes()).toString('base64') };
    else return false;
    return true;
  });
  return out;
}

function keyValue(r: Reader): OtlpKeyValue {
  const kv: OtlpKeyValue = { key: '', value: {} };
  r.each((f, w) => {
    if (f === 1 && w === 2) kv.key = r.string();
    else if (f === 2 && w === 2) kv.value = anyValue(r.sub());
    else return false;
    return true;
  });
  return kv;
}

function keyValues(into: OtlpKeyValue[], r: Reader): true {
  into.push(keyValue(r.sub()));
  return true;
}

function event(r: Reader): OtlpEvent {
  const e: OtlpEvent = { timeUnixNano: '0', name: '', attributes: [], droppedAttributesCount: 0 };
  r.each((f, w) => {
    if (f === 1 && w === 1) e.timeUnixNano = r.fixed64().toString();
    else if (f === 2 && w === 2) e.name = r.string();
    else if (f === 3 && w === 2) return keyValues(e.attributes, r);
    else if (f === 4 && w === 0) e.droppedAttributesCount = r.u32();
    else return false;
    return true;
  });
  return e;
}

function link(r: Reader): OtlpLink {
  const l: OtlpLink = { traceId: '', spanId: '', attributes: [], droppedAttributesCount: 0, flags: 0 };
  r.each((f, w) => {
    if (f === 1 && w === 2) l.traceId = r.hex();
    else if (f === 2 && w === 2) l.spanId = r.hex();
    else if (f === 3 && w === 2) l.traceState = r.string();
    else if (f === 4 && w === 2) return keyValues(l.attributes, r);
    else if (f === 5 && w === 0) l.droppedAttributesCount = r.u32();
    else if (f === 6 && w === 5) l.flags = r.fixed32();
    else return false;
    return true;
  });
  return l;
}

function span(r: Reader): OtlpSpan {
  const s: OtlpSpan = {
    traceId: '', spanId: '', name: '', kind: 0, startTimeUnixNano: '0', endTimeUnixNano: '0', attributes: [], droppedAttributesCount: 0,
    events: [], droppedEventsCount: 0, links: [], droppedLinksCount: 0, status: { code: 0 }, flags: 0,
  };
  r.each((f, w) => {
    if (f === 1 && w === 2) s.traceId = r.hex();
    else if (f === 2 && w === 2) s.spanId = r.hex();
    else if (f === 3 && w === 2) s.traceState = r.string();
    else if (f === 4 && w === 2) s.parentSpanId = r.hex();
    else if (f === 5 && w === 2) s.name = r.string();
    else if (f === 6 && w === 0) s.kind = r.u32();
    else if (f === 7 && w === 1) s.startTimeUnixNano = r.fixed64().toString();
    else if (f === 8 && w === 1) s.endTimeUnixNano = r.fixed64().toString();
    else if (f === 9 && w === 2) return keyValues(s.attributes, r);
    else if (f === 10 && w === 0) s.droppedAttributesCount = r.u32();
    else if (f === 11 && w === 2) s.events.push(event(r.sub()));
    else if (f === 12 && w === 0) s.droppedEventsCount = r.u32();
    else if (f === 13 && w === 2) s.links.push(link(r.sub()));
    else if (f === 14 && w === 0) s.droppedLinksCount = r.u32();
    else if (f === 15 && w === 2) {
      const st = r.sub();
      st.each((g, x) => {
        if (g === 2 && x === 2) s.status.message = st.string();
        else if (g === 3 && x === 0) s.status.code = st.u32();
        else return false;
        return true;
      });
    } else if (f === 16 && w === 5) s.flags = r.fixed32();
    else return false;
    return true;
  });
  return s;
}

function scopeSpans(r: Reader): OtlpScopeSpans {
  const ss: OtlpScopeSpans = { scope: { name: '' }, spans: [] };
  r.each((f, w) => {
    if (f === 1 && w === 2) {
      const sc = r.sub();
      sc.each((g, x) => {
        if (g === 1 && x === 2) ss.scope.name = sc.string();
        else if (g === 2 && x === 2) ss.scope.version = sc.string();
        else if (g === 3 && x === 2) return keyValues((ss.scope.attributes ??= []), sc);
        else if (g === 4 && x === 0) ss.scope.droppedAttributesCount = sc.u32();
        else return false;
        return true;
      });
    } else if (f === 2 && w === 2) ss.spans.push(span(r.sub()));
    else if (f === 3 && w === 2) ss.schemaUrl = r.string();
    else return false;
    return true;
  });
  return ss;
}

function resourceSpans(r: Reader): OtlpResourceSpans {
  const rs: OtlpResourceSpans = { resource: { attributes: [], droppedAttributesCount: 0 }, scopeSpans: [] };
  r.each((f, w) => {
    if (f === 1 && w === 2) {
      const res = r.sub();
      res.each((g, x) => {
        if (g === 1 && x === 2) return keyValues(rs.resource.attributes, res);
        if (g === 2 && x === 0) rs.resource.droppedAttributesCount = res.u32();
        else return false;
        return true;
      });
    } else if (f === 2 && w === 2) rs.scopeSpans.push(scopeSpans(r.sub()));
    else if (f === 3 && w === 2) rs.schemaUrl = r.string();
    else return false;
    return true;
  });
  return rs;
}

/** Decodes an ExportTraceServiceRequest (throws on malformed input). */
export function decodeTraceRequest(body: Uint8Array): OtlpRequest {
  const req: OtlpRequest = { resourceSpans: [] };
  const r = new Reader(body);
  r.each((f, w) => (f === 1 && w === 2 ? (req.resourceSpans.push(resourceSpans(r.sub())), true) : false));
  return req;
}

/** A request body in either protocol, by its content type. */
export function decodeBody(contentType: string | undefined, body: Uint8Array): OtlpRequest {
  if ((contentType ?? '').includes('json')) return JSON.parse(Buffer.from(body).toString('utf8')) as OtlpRequest;
  return decodeTraceRequest(body);
}

/** The primitive value of an attribute, as tests compare them. */
export function valueOf(v: OtlpAnyValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue !== undefined) return v.arrayValue.values.map(valueOf);
  if (v.kvlistValue !== undefined) return attrsOf(v.kvlistValue.values);
  if (v.bytesValue !== undefined) return Buffer.from(v.bytesValue, 'base64');
  return undefined;
}

export function attrsOf(kvs: OtlpKeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((kvs ?? []).map((kv) => [kv.key, valueOf(kv.value)]));
}

/** Every span of a request with its scope name and resource attributes. */
export function spansOfRequest(req: OtlpRequest): Array<OtlpSpan & { scope: string; scopeVersion?: string; resource: Record<string, unknown> }> {
  return req.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => ({
    ...s, scope: ss.scope.name, scopeVersion: ss.scope.version, resource: attrsOf(rs.resource.attributes),
  }))));
}
