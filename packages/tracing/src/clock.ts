// Span times. A span keeps its times as epoch milliseconds (one double: ~0.25 µs resolution at
// today's epoch) and turns them into HrTime or nanoseconds only when something reads them.
//
// The monotonic clock (performance.now()) is mapped to wall time by a base that stays put while
// the two clocks agree: the OpenTelemetry SDK reads Date.now() for every span to get the same
// mapping, which costs a clock read per span and lets a child start before its parent when the
// millisecond rolls over between them. Here the base moves only when the clocks drifted apart by
// more than DRIFT_MS (NTP step, suspend), checked at most once per CHECK_MS.
import type { HrTime, TimeInput } from '@opentelemetry/api';

const CHECK_MS = 1000;
const DRIFT_MS = 5;

let base = performance.timeOrigin;
let checkedAt = -Infinity;

/**
 * What to add to a performance.now() reading `perf` for epoch milliseconds. A span keeps the base
 * it started with, so its duration is exactly the monotonic clock's even if the base moves.
 */
export function perfBase(perf: number): number {
  if (perf - checkedAt > CHECK_MS) {
    checkedAt = perf;
    const drift = Date.now() - (base + perf);
    if (drift > DRIFT_MS || drift < -DRIFT_MS) base += drift;
  }
  return base;
}

/** Epoch milliseconds of a performance.now() reading. */
export function epochOfPerf(perf: number): number {
  return perfBase(perf) + perf;
}

function isHrTime(v: unknown): v is HrTime {
  return Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'number';
}

/**
 * Whether a number is a performance timestamp rather than epoch milliseconds. The SDK asks
 * whether it is not after performance.now(), a clock read per span; below half the time origin
 * (which a process would need 27 years of uptime to reach) says the same for every time a span
 * can be given, except a performance timestamp in the future, which the SDK misreads as a date
 * in 1970 and this reads as meant.
 */
export function isPerfTime(t: number): boolean {
  return t < HALF_ORIGIN;
}
const HALF_ORIGIN = performance.timeOrigin / 2;

/** A TimeInput as epoch milliseconds (a performance timestamp mapped with `base`); undefined when it is not a time. */
export function epochOfInput(t: TimeInput | undefined, base: number): number | undefined {
  if (typeof t === 'number') return isPerfTime(t) ? base + t : t;
  if (t instanceof Date) return t.getTime();
  if (isHrTime(t)) return t[0] * 1e3 + t[1] / 1e6;
  return undefined;
}

/** True for what epochOfInput accepts (the SDK's isTimeInput). */
export function isTimeInput(v: unknown): v is TimeInput {
  return typeof v === 'number' || v instanceof Date || isHrTime(v);
}

/** The SDK's millisToHrTime: [seconds, nanoseconds]. */
export function hrTimeOf(epochMs: number): HrTime {
  return [Math.trunc(epochMs / 1e3), Math.round((epochMs % 1e3) * 1e6)];
}

/** Decimal nanoseconds since the epoch (OTLP/JSON writes 64-bit integers as strings). */
export function nanosDecimal(epochMs: number): string {
  return hrDecimal(hrTimeOf(epochMs));
}

/** Decimal nanoseconds of an HrTime, without BigInt. */
export function hrDecimal(t: readonly [number, number]): string {
  let s = t[0];
  let n = t[1];
  if (n >= 1e9) {
    s += Math.floor(n / 1e9);
    n %= 1e9;
  }
  if (s === 0) return String(n);
  const ns = String(n);
  return `${s}${'000000000'.slice(ns.length)}${ns}`;
}

/** Duration as HrTime, from the two HrTimes as the SDK computes it (never negative). */
export function hrDuration(startMs: number, endMs: number): HrTime {
  if (endMs <= startMs) return [0, 0];
  const [s0, n0] = hrTimeOf(startMs);
  const [s1, n1] = hrTimeOf(endMs);
  let s = s1 - s0;
  let n = n1 - n0;
  if (n < 0) {
    s -= 1;
    n += 1e9;
  }
  return [s, n];
}
