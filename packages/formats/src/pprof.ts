// Encoder/decoder for pprof's profile.proto (github.com/google/pprof/proto/profile.proto), written
// by hand: the format needs only varints, length-delimited fields and packed repeated scalars, so a
// protobuf library would be a dependency for ~300 lines. Field numbers below are profile.proto's.
import { gunzipSync, gzip } from 'node:zlib';
import { promisify } from 'node:util';
import type {
  PprofFunction, PprofLabel, PprofLine, PprofLocation, PprofMapping, PprofProfile, PprofSample, PprofValueType,
} from './pprof-types.ts';

/** Corrupt, truncated or inconsistent pprof input. `message` is one line starting with `pprof: `. */
export class PprofError extends Error {
  constructor(reason: string) {
    super(`pprof: ${reason}`);
    this.name = 'PprofError';
  }
}

const gzipAsync = promisify(gzip);
// A decompression bomb must not take the process down; real profiles are far below this.
const MAX_DECOMPRESSED = 64 * 1024 * 1024;
const TWO_32 = 2 ** 32;

// ---------------------------------------------------------------------------------------------
// Encoding

class Writer {
  buf = new Uint8Array(4096);
  pos = 0;

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  varint(n: number): void {
    if (!Number.isFinite(n)) throw new PprofError(`cannot encode ${n} as an integer`);
    this.ensure(10);
    if (n >= 0 && n < TWO_32) {
      let v = n >>> 0;
      while (v > 0x7f) {
        this.buf[this.pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      this.buf[this.pos++] = v;
      return;
    }
    // Large or negative: int64 two's complement, as protobuf encodes int64 (10 bytes if negative).
    let v = BigInt.asUintN(64, BigInt(Math.trunc(n)));
    while (v > 0x7fn) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  /** Scalar field, omitted when zero (proto3 default). */
  int(field: number, n: number): void {
    if (n === 0) return;
    this.tag(field, 0);
    this.varint(n);
  }

  bytes(field: number, data: Uint8Array): void {
    this.tag(field, 2);
    this.varint(data.length);
    this.ensure(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }

  packed(field: number, values: readonly number[]): void {
    if (values.length === 0) return;
    this.message(field, () => {
      for (const v of values) this.varint(v);
    });
  }

  /** Writes a length-delimited sub-message: body first, then its length is spliced in front. */
  message(field: number, body: () => void): void {
    this.tag(field, 2);
    const start = this.pos;
    body();
    const len = this.pos - start;
    const lenSize = varintSize(len);
    this.ensure(lenSize);
    this.buf.copyWithin(start + lenSize, start, this.pos);
    const end = this.pos + lenSize;
    this.pos = start;
    this.varint(len);
    this.pos = end;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

function varintSize(n: number): number {
  let size = 1;
  while (n > 0x7f) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

class StringTableBuilder {
  readonly strings: string[] = [''];
  readonly index = new Map<string, number>([['', 0]]);

  id(s: string): number {
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.index.set(s, i);
    }
    return i;
  }
}

/** Encodes `p` as raw (not gzipped) profile.proto bytes; the string table is built here, "" at 0. */
export function encodePprof(p: PprofProfile): Uint8Array {
  const st = new StringTableBuilder();
  const w = new Writer();
  const valueType = (field: number, vt: PprofValueType): void => {
    w.message(field, () => {
      w.int(1, st.id(vt.type));
      w.int(2, st.id(vt.unit));
    });
  };
  for (const vt of p.sampleTypes) valueType(1, vt);
  for (const s of p.samples) {
    w.message(2, () => {
      w.packed(1, s.locationIds);
      w.packed(2, s.values);
      for (const l of s.labels ?? []) {
        w.message(3, () => {
          w.int(1, st.id(l.key));
          if (l.str !== undefined) w.int(2, st.id(l.str));
          if (l.num !== undefined) w.int(3, l.num);
          if (l.numUnit !== undefined) w.int(4, st.id(l.numUnit));
        });
      }
    });
  }
  for (const m of p.mappings) {
    w.message(3, () => {
      w.int(1, m.id);
      w.int(2, m.memoryStart);
      w.int(3, m.memoryLimit);
      w.int(4, m.fileOffset);
      w.int(5, st.id(m.filename));
      w.int(6, st.id(m.buildId));
      w.int(7, m.hasFunctions ? 1 : 0);
    });
  }
  for (const loc of p.locations) {
    w.message(4, () => {
      w.int(1, loc.id);
      w.int(2, loc.mappingId);
      w.int(3, loc.address);
      for (const line of loc.lines) {
        w.message(4, () => {
          w.int(1, line.functionId);
          w.int(2, line.line);
          w.int(3, line.column ?? 0);
        });
      }
    });
  }
  for (const f of p.functions) {
    w.message(5, () => {
      w.int(1, f.id);
      w.int(2, st.id(f.name));
      w.int(3, st.id(f.systemName));
      w.int(4, st.id(f.filename));
      w.int(5, f.startLine);
    });
  }
  // Interned before the table is written so field 6 carries every string used by 9..14 too.
  const periodType = p.periodType === null ? null : { type: st.id(p.periodType.type), unit: st.id(p.periodType.unit) };
  const comments = p.comments.map((c) => st.id(c));
  const defaultSampleType = p.defaultSampleType >= 0 && p.defaultSampleType < p.sampleTypes.length
    ? st.id(p.sampleTypes[p.defaultSampleType]!.type)
    : 0;
  const enc = new TextEncoder();
  for (const s of st.strings) w.bytes(6, enc.encode(s));
  w.int(9, p.timeNanos);
  w.int(10, p.durationNanos);
  if (periodType !== null) {
    w.message(11, () => {
      w.int(1, periodType.type);
      w.int(2, periodType.unit);
    });
  }
  w.int(12, p.period);
  w.packed(13, comments);
  w.int(14, defaultSampleType);
  return w.finish();
}

/** encodePprof + gzip: what `/debug/pprof/*` serves and `heap.pb.gz` holds. */
export async function gzipPprof(p: PprofProfile): Promise<Buffer> {
  return gzipAsync(encodePprof(p));
}

// ---------------------------------------------------------------------------------------------
// Decoding

class Reader {
  readonly buf: Uint8Array;
  pos: number;
  readonly end: number;

  constructor(buf: Uint8Array, pos: number, end: number) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  /** Unsigned varint; values >= 2^53 lose precision (pprof addresses may, counts never do). */
  uvarint(): number {
    const v = this.bigVarint();
    return typeof v === 'number' ? v : Number(v);
  }

  /** int64 varint (negative values are 10-byte two's complement). */
  ivarint(): number {
    const v = this.bigVarint();
    return typeof v === 'number' ? v : Number(BigInt.asIntN(64, v));
  }

  private bigVarint(): number | bigint {
    const start = this.pos;
    let result = 0;
    let mul = 1;
    // Fast path: up to 7 bytes (49 bits) stays exact in a double.
    for (let i = 0; i < 7; i++) {
      if (this.pos >= this.end) throw new PprofError(`truncated varint at byte ${start}`);
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    let big = BigInt(result);
    let shift = 49n;
    for (let i = 7; i < 10; i++) {
      if (this.pos >= this.end) throw new PprofError(`truncated varint at byte ${start}`);
      const b = this.buf[this.pos++]!;
      big |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asUintN(64, big);
      shift += 7n;
    }
    throw new PprofError(`varint longer than 10 bytes at byte ${start}`);
  }

  /** Length-delimited payload as a sub-reader over the same buffer. */
  sub(): Reader {
    const at = this.pos;
    const len = this.uvarint();
    if (len > this.end - this.pos) throw new PprofError(`length ${len} at byte ${at} runs past the end of its message`);
    const r = new Reader(this.buf, this.pos, this.pos + len);
    this.pos += len;
    return r;
  }

  skip(wire: number, field: number): void {
    const at = this.pos;
    switch (wire) {
      case 0: this.uvarint(); return;
      case 1: this.advance(8, at); return;
      case 2: this.sub(); return;
      case 5: this.advance(4, at); return;
      default: throw new PprofError(`unsupported wire type ${wire} for field ${field} at byte ${at}`);
    }
  }

  private advance(n: number, at: number): void {
    if (n > this.end - this.pos) throw new PprofError(`truncated fixed-width field at byte ${at}`);
    this.pos += n;
  }

  /** Calls `each` for every field; the callback returns false for fields it does not know. */
  fields(each: (field: number, wire: number) => boolean): void {
    while (!this.done()) {
      const at = this.pos;
      const key = this.uvarint();
      const field = Math.floor(key / 8);
      const wire = key % 8;
      if (field === 0) throw new PprofError(`field number 0 at byte ${at}`);
      if (!each(field, wire)) this.skip(wire, field);
    }
  }

  /** A repeated scalar field: packed (wire 2) or one value per tag (wire 0), both legal. */
  repeated(wire: number, out: number[], signed: boolean): void {
    if (wire === 0) {
      out.push(signed ? this.ivarint() : this.uvarint());
      return;
    }
    if (wire !== 2) throw new PprofError(`repeated scalar with wire type ${wire} at byte ${this.pos}`);
    const r = this.sub();
    while (!r.done()) out.push(signed ? r.ivarint() : r.uvarint());
  }

  scalar(wire: number, signed: boolean): number {
    if (wire !== 0) throw new PprofError(`expected a varint, got wire type ${wire} at byte ${this.pos}`);
    return signed ? this.ivarint() : this.uvarint();
  }

  message(wire: number): Reader {
    if (wire !== 2) throw new PprofError(`expected a message, got wire type ${wire} at byte ${this.pos}`);
    return this.sub();
  }
}

interface RawValueType { type: number; unit: number }
interface RawLabel { key: number; str: number; num: number; numUnit: number }
interface RawSample { locationIds: number[]; values: number[]; labels: RawLabel[] }
interface RawMapping { id: number; memoryStart: number; memoryLimit: number; fileOffset: number; filename: number; buildId: number; hasFunctions: boolean }
interface RawFunction { id: number; name: number; systemName: number; filename: number; startLine: number }

function readValueType(r: Reader): RawValueType {
  const vt = { type: 0, unit: 0 };
  r.fields((f, w) => {
    if (f === 1) vt.type = r.scalar(w, true);
    else if (f === 2) vt.unit = r.scalar(w, true);
    else return false;
    return true;
  });
  return vt;
}

function readLabel(r: Reader): RawLabel {
  const l = { key: 0, str: 0, num: 0, numUnit: 0 };
  r.fields((f, w) => {
    if (f === 1) l.key = r.scalar(w, true);
    else if (f === 2) l.str = r.scalar(w, true);
    else if (f === 3) l.num = r.scalar(w, true);
    else if (f === 4) l.numUnit = r.scalar(w, true);
    else return false;
    return true;
  });
  return l;
}

function readSample(r: Reader): RawSample {
  const s: RawSample = { locationIds: [], values: [], labels: [] };
  r.fields((f, w) => {
    if (f === 1) r.repeated(w, s.locationIds, false);
    else if (f === 2) r.repeated(w, s.values, true);
    else if (f === 3) s.labels.push(readLabel(r.message(w)));
    else return false;
    return true;
  });
  return s;
}

function readMapping(r: Reader): RawMapping {
  const m = { id: 0, memoryStart: 0, memoryLimit: 0, fileOffset: 0, filename: 0, buildId: 0, hasFunctions: false };
  r.fields((f, w) => {
    switch (f) {
      case 1: m.id = r.scalar(w, false); return true;
      case 2: m.memoryStart = r.scalar(w, false); return true;
      case 3: m.memoryLimit = r.scalar(w, false); return true;
      case 4: m.fileOffset = r.scalar(w, false); return true;
      case 5: m.filename = r.scalar(w, true); return true;
      case 6: m.buildId = r.scalar(w, true); return true;
      case 7: m.hasFunctions = r.scalar(w, false) !== 0; return true;
      default: return false;
    }
  });
  return m;
}

function readLine(r: Reader): PprofLine {
  const l: PprofLine = { functionId: 0, line: 0 };
  r.fields((f, w) => {
    if (f === 1) l.functionId = r.scalar(w, false);
    else if (f === 2) l.line = r.scalar(w, true);
    else if (f === 3) l.column = r.scalar(w, true);
    else return false;
    return true;
  });
  return l;
}

function readLocation(r: Reader): PprofLocation {
  const loc: PprofLocation = { id: 0, mappingId: 0, address: 0, lines: [] };
  r.fields((f, w) => {
    if (f === 1) loc.id = r.scalar(w, false);
    else if (f === 2) loc.mappingId = r.scalar(w, false);
    else if (f === 3) loc.address = r.scalar(w, false);
    else if (f === 4) loc.lines.push(readLine(r.message(w)));
    else return false;
    return true;
  });
  return loc;
}

function readFunction(r: Reader): RawFunction {
  const fn = { id: 0, name: 0, systemName: 0, filename: 0, startLine: 0 };
  r.fields((f, w) => {
    switch (f) {
      case 1: fn.id = r.scalar(w, false); return true;
      case 2: fn.name = r.scalar(w, true); return true;
      case 3: fn.systemName = r.scalar(w, true); return true;
      case 4: fn.filename = r.scalar(w, true); return true;
      case 5: fn.startLine = r.scalar(w, true); return true;
      default: return false;
    }
  });
  return fn;
}

function gunzip(bytes: Uint8Array): Uint8Array {
  try {
    return gunzipSync(bytes, { maxOutputLength: MAX_DECOMPRESSED });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
      throw new PprofError(`gzip payload decompresses to more than ${MAX_DECOMPRESSED} bytes`);
    }
    throw new PprofError(`bad gzip data (${(err as Error).message.split('\n')[0]})`);
  }
}

/**
 * Decodes a pprof profile, gzipped (as served and stored) or raw. Checks what `go tool pprof`
 * checks: string indices in range, table entry 0 empty, one value per sample type, ids > 0 and
 * unique, every referenced location/function/mapping present.
 */
export function decodePprof(bytes: Uint8Array): PprofProfile {
  if (bytes.length === 0) throw new PprofError('empty input');
  const data = bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzip(bytes) : bytes;
  if (data.length === 0) throw new PprofError('empty profile after gunzip');

  const sampleTypes: RawValueType[] = [];
  const samples: RawSample[] = [];
  const mappings: RawMapping[] = [];
  const locations: PprofLocation[] = [];
  const functions: RawFunction[] = [];
  const strings: string[] = [];
  const comments: number[] = [];
  let timeNanos = 0;
  let durationNanos = 0;
  let periodType = null as RawValueType | null;
  let period = 0;
  let defaultSampleType = 0;
  const dec = new TextDecoder('utf-8');

  const r = new Reader(data, 0, data.length);
  r.fields((f, w) => {
    switch (f) {
      case 1: sampleTypes.push(readValueType(r.message(w))); return true;
      case 2: samples.push(readSample(r.message(w))); return true;
      case 3: mappings.push(readMapping(r.message(w))); return true;
      case 4: locations.push(readLocation(r.message(w))); return true;
      case 5: functions.push(readFunction(r.message(w))); return true;
      case 6: {
        const s = r.message(w);
        strings.push(dec.decode(data.subarray(s.pos, s.end)));
        return true;
      }
      case 9: timeNanos = r.scalar(w, true); return true;
      case 10: durationNanos = r.scalar(w, true); return true;
      case 11: periodType = readValueType(r.message(w)); return true;
      case 12: period = r.scalar(w, true); return true;
      case 13: r.repeated(w, comments, true); return true;
      case 14: defaultSampleType = r.scalar(w, true); return true;
      default: return false; // 7/8 drop_frames/keep_frames and future fields are not kept
    }
  });

  if (strings.length === 0) throw new PprofError('no string table');
  if (strings[0] !== '') throw new PprofError('string_table[0] is not empty');
  const str = (i: number, what: string): string => {
    const s = strings[i];
    if (s === undefined || i < 0) throw new PprofError(`${what}: string index ${i} out of range (table has ${strings.length})`);
    return s;
  };
  const vt = (v: RawValueType, what: string): PprofValueType => ({ type: str(v.type, what), unit: str(v.unit, what) });

  const functionIds = uniqueIds(functions, 'function');
  const mappingIds = uniqueIds(mappings, 'mapping');
  const locationIds = uniqueIds(locations, 'location');
  for (const loc of locations) {
    if (loc.mappingId !== 0 && !mappingIds.has(loc.mappingId)) throw new PprofError(`location ${loc.id} refers to missing mapping ${loc.mappingId}`);
    for (const line of loc.lines) {
      if (!functionIds.has(line.functionId)) throw new PprofError(`location ${loc.id} refers to missing function ${line.functionId}`);
    }
  }

  const outSamples: PprofSample[] = samples.map((s, i) => {
    if (s.values.length !== sampleTypes.length) {
      throw new PprofError(`sample ${i} has ${s.values.length} values for ${sampleTypes.length} sample types`);
    }
    for (const id of s.locationIds) {
      if (!locationIds.has(id)) throw new PprofError(`sample ${i} refers to missing location ${id}`);
    }
    const out: PprofSample = { locationIds: s.locationIds, values: s.values };
    if (s.labels.length > 0) {
      out.labels = s.labels.map((l): PprofLabel => {
        const label: PprofLabel = { key: str(l.key, 'label key') };
        if (l.str !== 0) label.str = str(l.str, 'label value');
        else label.num = l.num;
        if (l.numUnit !== 0) label.numUnit = str(l.numUnit, 'label unit');
        return label;
      });
    }
    return out;
  });

  const outTypes = sampleTypes.map((t) => vt(t, 'sample type'));
  let defaultIndex = -1;
  if (defaultSampleType !== 0) {
    const name = str(defaultSampleType, 'default sample type');
    defaultIndex = outTypes.findIndex((t) => t.type === name);
  }

  return {
    sampleTypes: outTypes,
    samples: outSamples,
    mappings: mappings.map((m): PprofMapping => ({
      id: m.id, memoryStart: m.memoryStart, memoryLimit: m.memoryLimit, fileOffset: m.fileOffset,
      filename: str(m.filename, 'mapping filename'), buildId: str(m.buildId, 'mapping build id'), hasFunctions: m.hasFunctions,
    })),
    locations,
    functions: functions.map((f): PprofFunction => ({
      id: f.id, name: str(f.name, 'function name'), systemName: str(f.systemName, 'function system name'),
      filename: str(f.filename, 'function filename'), startLine: f.startLine,
    })),
    timeNanos,
    durationNanos,
    periodType: periodType === null ? null : vt(periodType, 'period type'),
    period,
    comments: comments.map((c) => str(c, 'comment')),
    defaultSampleType: defaultIndex,
  };
}

function uniqueIds(items: readonly { id: number }[], what: string): Set<number> {
  const ids = new Set<number>();
  for (const it of items) {
    if (it.id === 0) throw new PprofError(`${what} with id 0`);
    if (ids.has(it.id)) throw new PprofError(`duplicate ${what} id ${it.id}`);
    ids.add(it.id);
  }
  return ids;
}
