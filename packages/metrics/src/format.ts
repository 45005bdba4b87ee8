// Text-exposition primitives shared by the classic (0.0.4) and OpenMetrics (1.0.0) writers.

export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Sample value. Both formats spell the specials NaN/+Inf/-Inf (prom-client writes "Nan"). */
export function formatValue(v: number): string {
  if (Number.isFinite(v)) return `${v}`;
  if (Number.isNaN(v)) return 'NaN';
  return v > 0 ? '+Inf' : '-Inf';
}

/**
 * le/quantile label values in canonical float form ("1.0", not "1"): OpenMetrics asks for it
 * and Prometheus 3 normalizes classic text to it, so both formats produce the same series.
 */
export function formatBound(v: number): string {
  if (v === Infinity) return '+Inf';
  return Number.isInteger(v) ? `${v}.0` : `${v}`;
}

export function escapeLabelValue(v: string): string {
  // Fast path: almost every value (routes, methods, hosts) needs no escaping.
  if (!/[\\"\n]/.test(v)) return v;
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

export function escapeHelp(v: string, openMetrics: boolean): string {
  const s = v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  // OpenMetrics HELP is an escaped string where \" is defined; classic text would keep the backslash.
  return openMetrics ? s.replace(/"/g, '\\"') : s;
}

/** `a="x",b="y"` (no braces) from names and values; values escaped. */
export function labelPairs(names: readonly string[], values: readonly string[]): string {
  let out = '';
  for (let i = 0; i < names.length; i++) {
    if (i > 0) out += ',';
    out += `${names[i]}="${escapeLabelValue(values[i] ?? '')}"`;
  }
  return out;
}

/** Joins label-pair fragments, skipping empty ones, and wraps them in braces ('' when none). */
export function braces(...parts: string[]): string {
  let out = '';
  for (const p of parts) {
    if (p === '') continue;
    out += out === '' ? p : `,${p}`;
  }
  return out === '' ? '' : `{${out}}`;
}

/** Exemplar suffix ` # {trace_id="…",span_id="…"} value timestamp` (timestamp in seconds). */
export function formatExemplar(traceId: string, spanId: string, value: number, tsMs: number): string {
  const labels = spanId === ''
    ? `trace_id="${escapeLabelValue(traceId)}"`
    : `trace_id="${escapeLabelValue(traceId)}",span_id="${escapeLabelValue(spanId)}"`;
  return ` # {${labels}} ${formatValue(value)} ${(tsMs / 1000).toFixed(3)}`;
}

/** Unit for OpenMetrics `# UNIT`, only where the family name carries it as a suffix (spec rule). */
export function unitOf(family: string): string {
  if (family.endsWith('_seconds')) return 'seconds';
  if (family.endsWith('_bytes')) return 'bytes';
  return '';
}

/** HELP/TYPE(/UNIT) header of one metric family. */
export function familyHeader(family: string, type: string, help: string, openMetrics: boolean): string {
  let out = `# HELP ${family} ${escapeHelp(help, openMetrics)}\n# TYPE ${family} ${type}\n`;
  if (openMetrics) {
    const unit = unitOf(family);
    if (unit !== '') out += `# UNIT ${family} ${unit}\n`;
  }
  return out;
}
