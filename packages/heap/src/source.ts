// A snapshot file read forward through one buffer. The parser's loops work on `buf` directly
// between `pos` and `end`; `more()` keeps the unread tail and reads after it, so a token (a
// number, a key) is never cut in two for the code that scans it. Reads are positional and
// synchronous: the main thread and the edges worker each own one Source on their own descriptor.
// buf[end] is always a 0 byte: the scanners' inner digit loops stop at the first non-digit
// without an `i < end` test per byte, and at the end of the file the byte after the last one
// read must not be a digit left over from an earlier read (a cut "6" once read as "690").
import { readSync } from 'node:fs';

const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

export function describeByte(c: number): string {
  return c >= 0x20 && c < 0x7f ? `'${String.fromCharCode(c)}'` : `byte 0x${c.toString(16).padStart(2, '0')}`;
}

export class Source {
  readonly fd: number;
  readonly size: number;
  buf: Buffer;
  /** Bytes of file data buf can hold: one less than its length, for the sentinel. */
  readonly capacity: number;
  /** File offset of buf[0]. */
  base: number;
  /** Bytes of buf holding file data. */
  end = 0;
  /** Next unread byte in buf. */
  pos = 0;

  constructor(fd: number, size: number, bufferBytes: number, start = 0) {
    this.fd = fd;
    this.size = size;
    this.capacity = Math.max(64, bufferBytes);
    this.buf = Buffer.allocUnsafe(this.capacity + 1);
    this.buf[0] = 0;
    this.base = start;
  }

  /** File offset of the next unread byte. */
  get offset(): number {
    return this.base + this.pos;
  }

  get atEof(): boolean {
    return this.base + this.end >= this.size;
  }

  /** Keeps buf[pos..end), reads more after it. False when nothing more could be read (end of file, or the buffer is full of unread bytes). */
  more(): boolean {
    const keep = this.end - this.pos;
    if (keep >= this.capacity || this.atEof) return false;
    if (this.pos > 0) {
      this.buf.copyWithin(0, this.pos, this.end);
      this.base += this.pos;
      this.pos = 0;
      this.end = keep;
    }
    const want = Math.min(this.capacity - keep, this.size - (this.base + keep));
    let got = 0;
    while (got < want) {
      const n = readSync(this.fd, this.buf, keep + got, want - got, this.base + keep + got);
      if (n === 0) break; // the file shrank while we read it
      got += n;
    }
    this.end += got;
    this.buf[this.end] = 0;
    return got > 0;
  }

  /** Moves to a file offset (forward or back). */
  seek(offset: number): void {
    if (offset >= this.base && offset <= this.base + this.end) this.pos = offset - this.base;
    else {
      this.base = offset;
      this.pos = 0;
      this.end = 0;
      this.buf[0] = 0;
    }
  }

  /** Next byte that is not JSON whitespace, consumed; -1 at the end of the file. */
  token(): number {
    for (;;) {
      while (this.pos < this.end) {
        const c = this.buf[this.pos++]!;
        if (!isSpace(c)) return c;
      }
      if (!this.more()) return -1;
    }
  }

  /**
   * Offset of the next `byte` at or after the current position (not consumed), or -1 when the
   * file has none. Buffer.indexOf runs at memory speed: this is how a section is skipped whole.
   */
  find(byte: number): number {
    for (;;) {
      const at = this.buf.indexOf(byte, this.pos);
      if (at >= 0 && at < this.end) {
        this.pos = at;
        return this.base + at;
      }
      this.pos = this.end;
      if (!this.more()) return -1;
    }
  }

  /**
   * Where a scan of numbers may stop in the bytes read so far without cutting a number: after
   * the last byte that is not a digit (or `end` at the end of the file). -1 when every unread
   * byte is a digit and more must be read first.
   */
  numbersEnd(): number {
    if (this.atEof) return this.end;
    let i = this.end;
    while (i > this.pos) {
      const d = this.buf[i - 1]! - 0x30;
      if (d < 0 || d > 9) return i;
      i--;
    }
    return -1;
  }
}

/** Reads an object key after its opening '"' (at most 256 bytes, escapes kept as written); null when longer or cut off. */
export function readKey(src: Source): string | null {
  const bytes: number[] = [];
  let escaped = false;
  for (;;) {
    while (src.pos < src.end) {
      const c = src.buf[src.pos++]!;
      if (escaped) escaped = false;
      else if (c === 0x5c) escaped = true;
      else if (c === 0x22) return Buffer.from(bytes).toString('utf8');
      if (bytes.length === 256) return null;
      bytes.push(c);
    }
    if (!src.more()) return null;
  }
}
