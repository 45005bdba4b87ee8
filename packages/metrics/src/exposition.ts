// Renders a whole prom-client Registry in either text format.
//
// prom-client fixes the format per Registry (its contentType) and, in OpenMetrics mode, rewrites
// counter names in place, so one registry cannot serve both formats. We keep the Registry as the
// container and serialize every metric ourselves: our metrics write their own text (fast path),
// any other metric (prom-client defaults, user metrics) is rendered from its get() samples.
import type { Registry } from 'prom-client';
import { escapeLabelValue, familyHeader, formatBound, formatValue } from './format.ts';
import { OwnMetric } from './own-metric.ts';
import type { PromMetricData, PromSample } from './own-metric.ts';

/** Default labels of a registry: the ones we were given, else whatever the registry holds. */
export function registryDefaultLabels(registry: Registry): Record<string, string> {
  const held = (registry as unknown as { _defaultLabels?: unknown })._defaultLabels;
  if (held === null || typeof held !== 'object') return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(held)) out[k] = String(v);
  return out;
}

function defaultLabelText(labels: Record<string, string>): string {
  return Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',');
}

export async function renderRegistry(registry: Registry, openMetrics: boolean): Promise<string> {
  const defaults = registryDefaultLabels(registry);
  const extra = defaultLabelText(defaults);
  const metrics = registry.getMetricsAsArray() as unknown[];
  // Foreign metrics may collect asynchronously; start them all at once like prom-client does.
  const foreign = metrics.map((m) => (m instanceof OwnMetric ? undefined : (m as { get(): Promise<PromMetricData> }).get()));
  const parts: string[] = [];
  for (let i = 0; i < metrics.length; i++) {
    const m = metrics[i];
    if (m instanceof OwnMetric) {
      parts.push(m.write(openMetrics, extra));
    } else {
      try {
        parts.push(writeForeign(await foreign[i]!, openMetrics, defaults));
      } catch {
        // One broken collector must not take /metrics down.
      }
    }
  }
  return openMetrics ? `${parts.join('')}# EOF\n` : parts.join('');
}

function sampleLabels(s: PromSample, defaults: Record<string, string>): string {
  let out = '';
  const seen = new Set<string>();
  for (const [k, v] of Object.entries(s.labels)) {
    if (v === undefined) continue;
    seen.add(k);
    const text = (k === 'le' || k === 'quantile') && typeof v === 'number' ? formatBound(v) : String(v);
    out += `${out === '' ? '' : ','}${k}="${escapeLabelValue(text)}"`;
  }
  for (const [k, v] of Object.entries(defaults)) {
    if (!seen.has(k)) out += `${out === '' ? '' : ','}${k}="${escapeLabelValue(v)}"`;
  }
  return out === '' ? '' : `{${out}}`;
}

/** A prom-client metric's samples in our writer's format (same rules as our own metrics). */
export function writeForeign(data: PromMetricData, openMetrics: boolean, defaults: Record<string, string>): string {
  // OpenMetrics names a counter family without _total and its samples with it; classic text
  // keeps the name exactly as registered (what prom-client itself writes).
  const omCounter = openMetrics && data.type === 'counter';
  const family = omCounter ? data.name.replace(/_total$/, '') : data.name;
  let out = familyHeader(family, data.type, data.help, openMetrics);
  for (const s of data.values ?? []) {
    const name = omCounter ? `${family}_total` : (s.metricName ?? data.name);
    out += `${name}${sampleLabels(s, defaults)} ${formatValue(s.value)}`;
    const ex = s.exemplar;
    if (openMetrics && ex && ex.labelSet && Object.keys(ex.labelSet).length > 0) {
      const labels = Object.entries(ex.labelSet).map(([k, v]) => `${k}="${escapeLabelValue(String(v))}"`).join(',');
      out += ` # {${labels}} ${formatValue(ex.value)} ${ex.timestamp}`;
    }
    out += '\n';
  }
  return out;
}
