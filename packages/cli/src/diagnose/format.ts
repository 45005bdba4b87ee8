// Number formatting shared by the verdict, the text and the HTML report.
import { formatBytes } from '@tailtrace/heap';

export { formatBytes };

export const num = (n: number): string => Math.round(n).toLocaleString('en-US');

/** 850 µs, 12.1 ms, 480 ms, 1.25 s. */
export function fmtMs(v: number): string {
  if (v === 0) return '0 ms';
  if (v >= 1000) return `${(v / 1000).toFixed(v >= 10_000 ? 1 : 2)} s`;
  if (v >= 100) return `${v.toFixed(0)} ms`;
  if (v >= 1) return `${v.toFixed(1)} ms`;
  return `${(v * 1000).toFixed(0)} µs`;
}

export const pLabel = (p: number): string => `P${p}`;

/** 4.0x, 1.23x. */
export const fmtRatio = (r: number): string => `${r >= 10 ? r.toFixed(0) : r >= 2 ? r.toFixed(1) : r.toFixed(2)}x`;

/** Relative change: +240%, -12%, +0%. */
export function fmtChange(base: number, cur: number): string {
  if (base === 0) return cur === 0 ? '+0%' : 'new';
  const pct = ((cur - base) / base) * 100;
  return `${pct >= 0 ? '+' : ''}${Math.abs(pct) >= 10 ? pct.toFixed(0) : pct.toFixed(1)}%`;
}

export const signedBytes = (n: number): string => (n > 0 ? `+${formatBytes(n)}` : formatBytes(n));
export const signedNum = (n: number): string => (n > 0 ? `+${num(n)}` : num(n));
