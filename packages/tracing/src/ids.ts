// Trace and span IDs as random 32-bit words. A span that is not recorded keeps its words and is
// spelled in hex only if something reads its context (propagation, a log line): a request that
// calls nobody never is. The words come from Math.random(), as the OpenTelemetry SDK's IDs do:
// V8's generator is xorshift128+ seeded from the OS's CSPRNG, which makes IDs unique and every
// bit random (W3C Level 2's random flag, which we set, asks for random or pseudo-random), if not
// unpredictable, which trace IDs need not be. Drawing them from crypto.randomFillSync instead
// cost ~180 ns a request (the refill of an 8 KiB pool, measured), Math.random() ~10 ns a word.

/** One random 32-bit word. */
export function word(): number {
  return (Math.random() * 4294967296) >>> 0;
}

/** A non-zero word: an ID whose words are all zero is invalid, so its last word never is. */
export function lastWord(): number {
  return word() || 1;
}

const SCRATCH = Buffer.allocUnsafe(16);

/** Lower-case hex of two words (a span ID). */
export function hex2(a: number, b: number): string {
  SCRATCH.writeUInt32BE(a, 0);
  SCRATCH.writeUInt32BE(b, 4);
  return SCRATCH.toString('hex', 0, 8);
}

/** Lower-case hex of four words (a trace ID). */
export function hex4(a: number, b: number, c: number, d: number): string {
  SCRATCH.writeUInt32BE(a, 0);
  SCRATCH.writeUInt32BE(b, 4);
  SCRATCH.writeUInt32BE(c, 8);
  SCRATCH.writeUInt32BE(d, 12);
  return SCRATCH.toString('hex', 0, 16);
}

/** The SDK's IdGenerator shape, for tests that need the SDK's ID sequence. */
export interface IdSource {
  traceId(): string;
  spanId(): string;
}
