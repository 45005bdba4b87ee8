// Aligned text tables, and the two growth tables every command that compares heaps prints the
// same way (`heap diff`, `heap leaks`, `diagnose`): what multiplied first, then the holders with
// what they hold.
import { formatBytes } from '@tailtrace/heap';

/** Aligned text table; columns after the first are right-aligned, a last 'Held by'/'Holds' column left. */
export function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const left = (i: number): boolean => i === 0 || head[i] === 'Held by' || head[i] === 'Holds' || head[i] === 'Path';
  const line = (r: string[]) =>
    r
      .map((c, i) => (left(i) ? c.padEnd(w[i]!) : c.padStart(w[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n') + '\n';
}

const num = (n: number): string => Math.round(n).toLocaleString('en-US');
const signedNum = (n: number): string => (n > 0 ? `+${num(n)}` : num(n));
const signedBytes = (n: number): string => (n > 0 ? `+${formatBytes(n)}` : formatBytes(n));

interface Delta {
  base: number;
  target: number;
  delta: number;
}

export interface GrowthRow {
  key: string;
  status?: 'new' | 'gone' | 'changed' | 'same';
  baseKey?: string;
  count: Delta;
  self?: Delta;
  retained: Delta;
  heldBy: ReadonlyArray<{ key: string; count: number }>;
}

export interface HolderRow extends GrowthRow {
  holds: readonly string[];
}

const label = (c: GrowthRow): string => c.key + (c.status === 'new' ? ' (new)' : c.status === 'gone' ? ' (gone)' : c.baseKey ? ` (was ${c.baseKey})` : '');
const heldBy = (c: GrowthRow): string => c.heldBy.map((h) => `${h.key} (${num(h.count)})`).join(', ');

/** Classes whose instances multiplied: count, self and retained growth, and what holds them now. */
export function multipliedTable(rows: readonly GrowthRow[]): string {
  return table(
    ['Class', 'ΔCount', 'ΔSelf', 'ΔRetained', 'Retained', 'Held by'],
    rows.map((c) => [label(c), signedNum(c.count.delta), c.self ? signedBytes(c.self.delta) : '', signedBytes(c.retained.delta), formatBytes(c.retained.target), heldBy(c)]),
  );
}

/** Classes that grew because they hold what multiplied, and what each holds. */
export function holdersTable(rows: readonly HolderRow[]): string {
  return table(
    ['Class', 'ΔCount', 'ΔRetained', 'Retained', 'Holds'],
    rows.map((c) => [label(c), signedNum(c.count.delta), signedBytes(c.retained.delta), formatBytes(c.retained.target), c.holds.join(', ')]),
  );
}
