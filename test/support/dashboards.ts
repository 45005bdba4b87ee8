// Reads the generated dashboards and turns their queries into what Grafana would send to
// Prometheus for given variable values.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './collector.ts';

export const dashboardsDir = join(repoRoot, 'dashboards');

export interface Target { refId: string; expr: string; instant?: boolean; range?: boolean; exemplar?: boolean; format?: string; datasource?: { type?: string; uid?: string }; legendFormat?: string }
export interface Panel {
  id: number;
  type: string;
  title?: string;
  description?: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
  fieldConfig?: { defaults?: { unit?: string }; overrides?: unknown[] };
}
export interface Variable { name: string; type: string; query?: unknown; definition?: string; datasource?: { type?: string; uid?: string }; multi?: boolean; includeAll?: boolean; allValue?: string; refresh?: number; label?: string }
export interface DashboardJson { uid: string; title: string; editable?: boolean; panels: Panel[]; templating: { list: Variable[] } }

export function loadDashboards(dir = dashboardsDir): Map<string, DashboardJson> {
  const out = new Map<string, DashboardJson>();
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'package.json').sort()) {
    out.set(f, JSON.parse(readFileSync(join(dir, f), 'utf8')) as DashboardJson);
  }
  return out;
}

/** Panels that query (rows excluded), including panels nested in collapsed rows. */
export function queryPanels(d: DashboardJson): Panel[] {
  const out: Panel[] = [];
  const walk = (ps: Panel[]) => {
    for (const p of ps) {
      if (p.type === 'row') walk(p.panels ?? []);
      else out.push(p);
    }
  };
  walk(d.panels);
  return out;
}

export interface GrafanaVars {
  /** Values of the dashboard's custom variables; a multi-value list becomes (a|b). All = the allValue. */
  vars: Record<string, string | string[]>;
  rateIntervalS: number;
  intervalS: number;
  rangeS: number;
}

/** Substitutes variables the way Grafana does for a Prometheus datasource (regex-escaped multi values). */
export function interpolate(expr: string, g: GrafanaVars): string {
  const builtins: Record<string, string> = {
    __rate_interval: `${g.rateIntervalS}s`,
    __interval: `${g.intervalS}s`,
    __interval_ms: String(g.intervalS * 1000),
    __range: `${g.rangeS}s`,
    __range_s: String(g.rangeS),
  };
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (m, a: string | undefined, b: string | undefined) => {
    const name = (a ?? b)!;
    if (name in builtins) return builtins[name]!;
    const v = g.vars[name];
    if (v === undefined) return m;
    if (Array.isArray(v)) return v.length === 1 ? escapeRegex(v[0]!) : `(${v.map(escapeRegex).join('|')})`;
    return v;
  });
}

function escapeRegex(s: string): string {
  return s.replace(/[\\^$*+?.()|[\]{}]/g, '\\$&');
}
