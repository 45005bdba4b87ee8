// Structural checks for the JSON files of a bundle. They stop at the first problem and say where
// it is (`runtime.json: window.gc.totalPauseMs must be a number, got string`), so a bundle written
// by another version or truncated by a full disk gives one useful line rather than a NaN later.
import { EvidenceError } from './errors.ts';

export interface Checker {
  fail(at: string, problem: string): never;
  obj(v: unknown, at: string): Record<string, unknown>;
  arr(v: unknown, at: string): unknown[];
  str(v: unknown, at: string): string;
  /** A finite number >= 0. */
  num(v: unknown, at: string): number;
  oneOf<T extends string>(v: unknown, at: string, allowed: readonly T[]): T;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return typeof v === 'object' ? 'an object' : typeof v;
}

export function checker(file: string): Checker {
  const fail = (at: string, problem: string): never => {
    throw new EvidenceError(file, at ? `${at} ${problem}` : problem);
  };
  const want = (v: unknown, at: string, what: string): never =>
    v === undefined ? fail(at, 'is missing') : fail(at, `must be ${what}, got ${typeName(v)}`);
  return {
    fail,
    obj(v, at) {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return want(v, at, 'an object');
      return v as Record<string, unknown>;
    },
    arr(v, at) {
      if (!Array.isArray(v)) return want(v, at, 'an array');
      return v;
    },
    str(v, at) {
      if (typeof v !== 'string') return want(v, at, 'a string');
      return v;
    },
    num(v, at) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) return want(v, at, 'a non-negative number');
      return v;
    },
    oneOf(v, at, allowed) {
      if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
        return fail(at, `must be one of ${allowed.join(', ')}, got ${typeof v === 'string' ? `'${v.length > 80 ? `${v.slice(0, 77)}...` : v}'` : typeName(v)}`);
      }
      return v as (typeof allowed)[number];
    },
  };
}
