// The snapshot's `strings` array, kept as the raw (still JSON-escaped) bytes and decoded on
// demand: most strings are never looked at, so decoding all of them up front would cost time and
// a JS string object each.

const CHUNK = 16 * 1024 * 1024;
/**
 * V8's longest string is 2^29 - 24 characters; escaped as \uXXXX in the file that is at most 6
 * bytes each. Anything longer is not from V8 (and would not fit the table's 32-bit offsets).
 */
const MAX_STRING_BYTES = 6 * 2 ** 29;

/** Decodes JSON string content (the bytes between the quotes) into a JS string. */
export function decodeJsonString(buf: Uint8Array, start: number, end: number): string {
  let out = '';
  let run = start;
  let i = start;
  while (i < end) {
    if (buf[i] !== 0x5c) {
      i++;
      continue;
    }
    if (i > run) out += Buffer.from(buf.buffer, buf.byteOffset + run, i - run).toString('utf8');
    const c = buf[i + 1];
    i += 2;
    switch (c) {
      case 0x22: out += '"'; break;
      case 0x5c: out += '\\'; break;
      case 0x2f: out += '/'; break;
      case 0x62: out += '\b'; break;
      case 0x66: out += '\f'; break;
      case 0x6e: out += '\n'; break;
      case 0x72: out += '\r'; break;
      case 0x74: out += '\t'; break;
      case 0x75: {
        // \uXXXX: one UTF-16 code unit; a surrogate pair arrives as two escapes and
        // concatenating the two units makes the astral character (lone surrogates survive).
        let code = 0;
        for (let k = 0; k < 4; k++) {
          const h = buf[i + k] ?? 0;
          code = code * 16 + (h <= 0x39 ? h - 0x30 : (h | 0x20) - 0x57);
        }
        out += String.fromCharCode(code);
        i += 4;
        break;
      }
      default:
        out += String.fromCharCode(c ?? 0x3f);
    }
    run = i;
  }
  if (end > run) out += Buffer.from(buf.buffer, buf.byteOffset + run, end - run).toString('utf8');
  return out;
}

/** Growable store of raw string bytes with lazy, cached decoding. */
export class StringTable {
  #chunks: Buffer[] = [];
  #cur: Buffer = Buffer.allocUnsafe(0);
  #curUsed = 0;
  #chunkOf = new Uint32Array(1024);
  #start = new Uint32Array(1024);
  #end = new Uint32Array(1024);
  #length = 0;
  #cache = new Map<number, string>();
  // the string being appended
  #pendingStart = 0;

  get length(): number {
    return this.#length;
  }

  /** Starts a new string; bytes follow through append(), then end(). */
  begin(): void {
    if (this.#chunks.length === 0) this.#newChunk(0);
    this.#pendingStart = this.#curUsed;
  }

  /** Adds bytes to the string begun last; false (nothing added) when it would grow past MAX_STRING_BYTES. */
  append(src: Uint8Array, from: number, to: number): boolean {
    const n = to - from;
    if (n <= 0) return true;
    const pending = this.#curUsed - this.#pendingStart;
    if (pending + n > MAX_STRING_BYTES) return false;
    if (this.#curUsed + n > this.#cur.length) this.#newChunk(pending + n);
    this.#cur.set(src.subarray(from, to), this.#curUsed);
    this.#curUsed += n;
    return true;
  }

  end(): void {
    const i = this.#length;
    if (i === this.#start.length) {
      const grow = (a: Uint32Array): Uint32Array<ArrayBuffer> => {
        const b = new Uint32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.#chunkOf = grow(this.#chunkOf);
      this.#start = grow(this.#start);
      this.#end = grow(this.#end);
    }
    this.#chunkOf[i] = this.#chunks.length - 1;
    this.#start[i] = this.#pendingStart;
    this.#end[i] = this.#curUsed;
    this.#length = i + 1;
  }

  #newChunk(need: number): void {
    // Move the partial string into the new chunk so every string lives in one chunk.
    const partial = this.#cur.subarray(this.#pendingStart, this.#curUsed);
    const size = Math.max(CHUNK, Math.min(need * 2, MAX_STRING_BYTES));
    const next = Buffer.allocUnsafe(size);
    next.set(partial, 0);
    if (this.#chunks.length > 0) {
      const last = this.#chunks.length - 1;
      this.#chunks[last] = this.#cur.subarray(0, this.#pendingStart);
    }
    this.#chunks.push(next);
    this.#cur = next;
    this.#curUsed = partial.length;
    this.#pendingStart = 0;
  }

  /** The decoded string at index i ('' when out of range). */
  get(i: number): string {
    if (i < 0 || i >= this.#length) return '';
    const hit = this.#cache.get(i);
    if (hit !== undefined) return hit;
    const chunk = this.#chunks[this.#chunkOf[i]!]!;
    const s = decodeJsonString(chunk, this.#start[i]!, this.#end[i]!);
    if (this.#cache.size < 200_000) this.#cache.set(i, s);
    return s;
  }

  /** Length in bytes of the raw (escaped) form of string i. */
  rawLength(i: number): number {
    return i < 0 || i >= this.#length ? 0 : this.#end[i]! - this.#start[i]!;
  }

  /** The raw JSON-escaped bytes of string i (a view; copy before keeping). */
  raw(i: number): Uint8Array {
    const chunk = this.#chunks[this.#chunkOf[i]!]!;
    return chunk.subarray(this.#start[i]!, this.#end[i]!);
  }

  /** Index of the first string equal to `str` (plain ASCII needles compare raw bytes), or -1. */
  indexOf(str: string): number {
    const plain = /^[\x20-\x7e]*$/.test(str) && !/["\\]/.test(str);
    if (!plain) {
      for (let i = 0; i < this.#length; i++) if (this.get(i) === str) return i;
      return -1;
    }
    const needle = Buffer.from(str, 'latin1');
    const len = needle.length;
    for (let i = 0; i < this.#length; i++) {
      const s = this.#start[i]!;
      if (this.#end[i]! - s !== len) continue;
      const chunk = this.#chunks[this.#chunkOf[i]!]!;
      if (needle.equals(chunk.subarray(s, s + len))) return i;
    }
    return -1;
  }

  /** Drops unused capacity once parsing is finished. */
  seal(): void {
    if (this.#chunks.length > 0) {
      const last = this.#chunks.length - 1;
      this.#chunks[last] = Buffer.from(this.#cur.subarray(0, this.#curUsed));
      this.#cur = this.#chunks[last]!;
    }
  }
}
