// Prometheus rule files as data, and their YAML. Written by hand (the structure is small and
// fixed) so the output is stable byte for byte: keys in a fixed order, PromQL as block scalars so
// it reads as written, every other string double-quoted (JSON escaping is valid YAML).

export interface RecordingRule {
  record: string;
  expr: string;
  labels?: Record<string, string>;
}

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface RuleGroup {
  name: string;
  /** Evaluation interval; absent = Prometheus' global evaluation_interval. */
  interval?: string;
  rules: (RecordingRule | AlertRule)[];
}

export function isAlert(r: RecordingRule | AlertRule): r is AlertRule {
  return 'alert' in r;
}

const q = (s: string): string => JSON.stringify(s);

function block(indent: string, text: string): string {
  return `|-\n${text.trim().split('\n').map((l) => `${indent}${l.trimEnd()}`).join('\n')}`;
}

function map(indent: string, m: Record<string, string>): string {
  return Object.entries(m).map(([k, v]) => `${indent}${k}: ${q(v)}`).join('\n');
}

function rule(r: RecordingRule | AlertRule): string {
  const lines: string[] = [];
  if (isAlert(r)) {
    lines.push(`      - alert: ${r.alert}`, `        expr: ${block('          ', r.expr)}`);
    if (r.for) lines.push(`        for: ${r.for}`);
    lines.push('        labels:', map('          ', r.labels), '        annotations:', map('          ', r.annotations));
  } else {
    lines.push(`      - record: ${r.record}`, `        expr: ${block('          ', r.expr)}`);
    if (r.labels && Object.keys(r.labels).length > 0) lines.push('        labels:', map('          ', r.labels));
  }
  return lines.join('\n');
}

/** The rule file: a header comment, then `groups:`. */
export function renderRuleFile(header: string, groups: RuleGroup[]): string {
  const out = [...header.trim().split('\n').map((l) => `# ${l}`.trimEnd()), 'groups:'];
  for (const g of groups) {
    out.push(`  - name: ${g.name}`);
    if (g.interval) out.push(`    interval: ${g.interval}`);
    out.push('    rules:');
    for (const r of g.rules) out.push(rule(r));
  }
  return `${out.join('\n')}\n`;
}

const UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Seconds of a Prometheus duration like `5m`, `1h30m`, `3d`. */
export function seconds(d: string): number {
  let total = 0;
  const re = /(\d+)([smhdw])/g;
  let seen = '';
  for (let m = re.exec(d); m; m = re.exec(d)) {
    total += Number(m[1]) * UNIT_S[m[2]!]!;
    seen += m[0];
  }
  if (seen !== d || total === 0) throw new Error(`not a duration: ${d}`);
  return total;
}

/** The shortest Prometheus duration for whole `s` seconds (`300` -> `5m`, `5400` -> `90m`). */
export function duration(s: number): string {
  const n = Math.max(1, Math.round(s));
  for (const [u, k] of [['d', 86400], ['h', 3600], ['m', 60]] as const) if (n % k === 0) return `${n / k}${u}`;
  return `${n}s`;
}
