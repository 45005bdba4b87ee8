// A small, strict parser of the two text formats, enough to check what render() writes:
// families with TYPE/UNIT/HELP, samples with labels, exemplars, and OpenMetrics' structural rules.
export interface Exemplar {
  labels: Record<string, string>;
  value: number;
  timestamp: number | undefined;
}
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  exemplar: Exemplar | undefined;
}
export interface Family {
  name: string;
  type: string;
  unit: string;
  help: string;
  samples: Sample[];
}

function parseNumber(s: string): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`bad number ${JSON.stringify(s)}`);
  return Number(s);
}

function parseLabels(s: string, at: number): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  let i = at + 1; // after '{'
  while (s[i] !== '}') {
    const m = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(s.slice(i));
    if (!m) throw new Error(`bad label at ${s.slice(i)}`);
    i += m[0].length;
    let v = '';
    while (s[i] !== '"') {
      if (i >= s.length) throw new Error('unterminated label value');
      if (s[i] === '\\') {
        const n = s[i + 1];
        v += n === 'n' ? '\n' : n;
        i += 2;
      } else v += s[i++];
    }
    i++;
    if (m[1]! in labels) throw new Error(`duplicate label ${m[1]}`);
    labels[m[1]!] = v;
    if (s[i] === ',') i++;
  }
  return [labels, i + 1];
}

function parseSample(line: string): Sample {
  const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (!m) throw new Error(`bad sample ${line}`);
  let i = m[0].length;
  let labels: Record<string, string> = {};
  if (line[i] === '{') [labels, i] = parseLabels(line, i);
  const rest = line.slice(i);
  const [valuePart, exemplarPart] = rest.split(' # ');
  const fields = valuePart!.trim().split(' ');
  if (fields.length < 1 || fields.length > 2 || rest[0] !== ' ') throw new Error(`bad sample ${line}`);
  let exemplar: Exemplar | undefined;
  if (exemplarPart !== undefined) {
    if (exemplarPart[0] !== '{') throw new Error(`bad exemplar ${line}`);
    const [exLabels, j] = parseLabels(exemplarPart, 0);
    const exFields = exemplarPart.slice(j).trim().split(' ');
    exemplar = {
      labels: exLabels,
      value: parseNumber(exFields[0]!),
      timestamp: exFields[1] === undefined ? undefined : parseNumber(exFields[1]),
    };
  }
  return { name: m[0], labels, value: parseNumber(fields[0]!), exemplar };
}

const SUFFIXES: Record<string, string[]> = {
  counter: ['_total', '_created'],
  histogram: ['_bucket', '_sum', '_count', '_created'],
  summary: ['', '_sum', '_count', '_created'],
  gauge: [''],
  untyped: [''],
  unknown: [''],
};

/** Parses text; with openMetrics=true enforces OpenMetrics 1.0 rules and throws on violations. */
export function parseExposition(text: string, openMetrics: boolean): Map<string, Family> {
  const families = new Map<string, Family>();
  const lines = text.split('\n');
  if (openMetrics) {
    if (!text.endsWith('# EOF\n')) throw new Error('missing # EOF terminator');
    lines.splice(lines.length - 2, 2);
  } else {
    if (text.includes('# EOF')) throw new Error('classic text must not have # EOF');
    if (lines[lines.length - 1] === '') lines.pop();
  }
  let cur: Family | undefined;
  const family = (name: string): Family => {
    let f = families.get(name);
    if (!f) {
      if (openMetrics && families.has(name)) throw new Error(`family ${name} not contiguous`);
      f = { name, type: 'unknown', unit: '', help: '', samples: [] };
      families.set(name, f);
    }
    cur = f;
    return f;
  };
  for (const line of lines) {
    if (line === '') {
      if (openMetrics) throw new Error('empty line in OpenMetrics');
      continue;
    }
    const meta = /^# (HELP|TYPE|UNIT) ([a-zA-Z_:][a-zA-Z0-9_:]*) ?(.*)$/.exec(line);
    if (meta) {
      const f: Family = cur !== undefined && cur.name === meta[2] ? cur : family(meta[2]!);
      if (meta[1] === 'TYPE') {
        if (f.samples.length > 0) throw new Error(`TYPE after samples for ${f.name}`);
        f.type = meta[3]!;
      } else if (meta[1] === 'UNIT') {
        if (!openMetrics) throw new Error('UNIT in classic text');
        if (!f.name.endsWith(`_${meta[3]}`)) throw new Error(`unit ${meta[3]} not a suffix of ${f.name}`);
        f.unit = meta[3]!;
      } else f.help = meta[3]!;
      continue;
    }
    if (line.startsWith('#')) throw new Error(`unexpected comment ${line}`);
    const s = parseSample(line);
    if (!cur) throw new Error(`sample before any family: ${line}`);
    const suffixes = openMetrics ? (SUFFIXES[cur.type] ?? ['']) : ['', '_total', '_bucket', '_sum', '_count'];
    if (!suffixes.some((suf) => s.name === cur!.name + suf)) throw new Error(`sample ${s.name} outside family ${cur.name} (${cur.type})`);
    if (s.exemplar && !openMetrics) throw new Error('exemplar in classic text');
    if (s.exemplar) {
      const len = Object.entries(s.exemplar.labels).reduce((n, [k, v]) => n + k.length + v.length, 0);
      if (len > 128) throw new Error('exemplar label set over 128 chars');
    }
    cur.samples.push(s);
  }
  if (openMetrics) {
    for (const f of families.values()) {
      if (f.type === 'counter' && f.name.endsWith('_total')) throw new Error(`counter family ${f.name} must not end in _total`);
      if (f.type === 'histogram') checkHistogram(f);
    }
  }
  return families;
}

/** Buckets cumulative and ending at +Inf = _count, per label set. */
function checkHistogram(f: Family): void {
  const groups = new Map<string, Sample[]>();
  for (const s of f.samples) {
    if (s.name !== `${f.name}_bucket`) continue;
    const { le, ...rest } = s.labels;
    if (le === undefined) throw new Error('bucket without le');
    const key = JSON.stringify(rest);
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  for (const [key, buckets] of groups) {
    let prev = -Infinity;
    let prevCount = 0;
    for (const b of buckets) {
      const le = parseNumber(b.labels.le!);
      if (le <= prev) throw new Error('le not increasing');
      if (b.value < prevCount) throw new Error('buckets not cumulative');
      if (b.exemplar && (b.exemplar.value > le || b.exemplar.value <= prev)) throw new Error('exemplar outside its bucket');
      prev = le;
      prevCount = b.value;
    }
    if (prev !== Infinity) throw new Error('no +Inf bucket');
    const count = f.samples.find((s) => s.name === `${f.name}_count` && JSON.stringify(s.labels) === key);
    if (!count || count.value !== prevCount) throw new Error('+Inf bucket != _count');
  }
}
