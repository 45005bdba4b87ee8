// A small parser for the Prometheus text and OpenMetrics formats, enough to check what a real
// /metrics scrape returned: samples with labels, and exemplars where OpenMetrics carries them.
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  exemplar?: { labels: Record<string, string>; value: number; timestamp?: number };
}

function parseLabels(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (let m = re.exec(s); m; m = re.exec(s)) out[m[1]!] = m[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
  return out;
}

function num(s: string): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return Number(s);
}

export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)(?:\s+\S+)?(?:\s+#\s+(\{[^}]*\})\s+(\S+)(?:\s+(\S+))?)?\s*$/.exec(line);
    if (!m) throw new Error(`unparseable exposition line: ${line}`);
    const sample: Sample = { name: m[1]!, labels: m[2] ? parseLabels(m[2]) : {}, value: num(m[3]!) };
    if (m[4]) {
      sample.exemplar = { labels: parseLabels(m[4]), value: num(m[5]!) };
      if (m[6]) sample.exemplar.timestamp = Number(m[6]);
    }
    out.push(sample);
  }
  return out;
}
