// `tailtrace heap <summary|diff|leaks|retainers|redact>`: heap snapshot analysis on the command line.
import { writeFile } from 'node:fs/promises';
import {
  GROWTH_TOP_RETAINERS,
  HeapSnapshotError,
  analyze,
  computeDominators,
  diffSummaries,
  findLeaks,
  formatBytes,
  progressBar,
  readHeapSnapshot,
  redactSnapshot,
  renderDiffHtml,
  renderSummaryHtml,
  retainerPaths,
} from '@tailtrace/heap';
import type { HeapSummary, OwnershipRule, GroupBy } from '@tailtrace/heap';
import { parseArgv, UsageError } from './args.ts';
import { holdersTable, multipliedTable, table } from './table.ts';
import type { Args as Parsed } from './args.ts';

export const HEAP_USAGE = `usage: tailtrace heap <command> [options]

commands:
  summary FILE [--top N] [--html OUT]       totals, classes by retained size, largest retainers
  diff BASE TARGET [--top N] [--html OUT]   per-class growth between two snapshots
  leaks BASELINE TARGET FINAL [--top N]     objects allocated between BASELINE and TARGET still alive
                                            in FINAL (same process), grouped by retainer path
  retainers FILE (--class NAME | --id ID) [--paths K]
                                            shortest retainer paths from the GC roots
  redact IN OUT [--keep-names] [--salt S]   rewrite IN without string values; names become keyed hashes
                                            (random key per run unless --salt) unless --keep-names

options:
  --json              machine-readable output on stdout
  --rules R           dominator rules: devtools (default) or memlab
  --by key|name       group classes by key (name + allocation location, default) or name only
  -h, --help          show this help
`;



const VALUE_FLAGS = new Set(['--top', '--html', '--class', '--id', '--paths', '--rules', '--by', '--salt']);
const BOOL_FLAGS = new Set(['--json', '--keep-names', '-h', '--help']);

function parseArgs(argv: readonly string[]): Parsed {
  return parseArgv(argv, VALUE_FLAGS, BOOL_FLAGS, 'tailtrace heap --help');
}

function intFlag(p: Parsed, name: string, def: number): number {
  const v = p.flags.get(name);
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${name} needs a non-negative integer, got '${String(v)}'`);
  return n;
}

function rules(p: Parsed): OwnershipRule {
  const v = p.flags.get('--rules') ?? 'devtools';
  if (v !== 'devtools' && v !== 'memlab') throw new UsageError(`--rules must be devtools or memlab, got '${String(v)}'`);
  return v;
}

function groupBy(p: Parsed): GroupBy {
  const v = p.flags.get('--by') ?? 'key';
  if (v !== 'key' && v !== 'name') throw new UsageError(`--by must be key or name, got '${String(v)}'`);
  return v;
}

const num = (n: number): string => n.toLocaleString('en-US');
const signed = (n: number, f: (x: number) => string): string => (n > 0 ? `+${f(n)}` : f(n));

async function load(file: string, edgeNames: boolean) {
  const bar = progressBar(`reading ${file}`);
  try {
    return await readHeapSnapshot(file, { edgeNames, onProgress: bar });
  } finally {
    bar.done();
  }
}

async function summaryOf(file: string, p: Parsed, top: number): Promise<HeapSummary> {
  const s = await load(file, false);
  return analyze(s, { ownership: rules(p), groupBy: groupBy(p), topRetainers: top });
}

function printSummary(s: HeapSummary, top: number): string {
  const t = s.totals;
  let out = `${s.file}\n  nodes ${num(t.nodes)}   edges ${num(t.edges)}   total self size ${formatBytes(t.selfSize)}   classes ${num(s.classes.length)}\n\n`;
  out += `Classes by retained size (top ${Math.min(top, s.classes.length)})\n`;
  out += table(
    ['Class', 'Count', 'Self', 'Retained'],
    s.classes.slice(0, top).map((c) => [c.key, num(c.count), formatBytes(c.self), formatBytes(c.retained)]),
  );
  out += `\nLargest retainers\n`;
  out += table(
    ['Object', 'Type', 'Self', 'Retained'],
    s.topRetainers.map((r) => [`${r.key} @${r.id}`, r.type, formatBytes(r.self), formatBytes(r.retained)]),
  );
  return out;
}

async function cmdSummary(p: Parsed): Promise<number> {
  const [file] = p.positional;
  if (!file || p.positional.length > 1) throw new UsageError('usage: tailtrace heap summary FILE [--top N] [--json] [--html OUT]');
  const top = intFlag(p, '--top', 20);
  const s = await summaryOf(file, p, Math.min(top, 50));
  const html = p.flags.get('--html');
  if (typeof html === 'string') await writeFile(html, renderSummaryHtml(s));
  if (p.flags.has('--json')) process.stdout.write(`${JSON.stringify({ ...s, classes: s.classes.slice(0, top) }, null, 2)}\n`);
  else process.stdout.write(printSummary(s, top));
  return 0;
}

async function cmdDiff(p: Parsed): Promise<number> {
  const [base, target] = p.positional;
  if (!base || !target || p.positional.length > 2) throw new UsageError('usage: tailtrace heap diff BASE TARGET [--top N] [--json] [--html OUT]');
  const top = intFlag(p, '--top', 20);
  // one snapshot in memory at a time; the target's largest retainers tell holders from what multiplied
  const a = await summaryOf(base, p, 0);
  const b = await summaryOf(target, p, GROWTH_TOP_RETAINERS);
  const d = diffSummaries(a, b);
  const html = p.flags.get('--html');
  if (typeof html === 'string') await writeFile(html, renderDiffHtml(d));
  if (p.flags.has('--json')) {
    process.stdout.write(`${JSON.stringify({ ...d, multiplied: d.multiplied.slice(0, top), classes: d.classes.slice(0, top) }, null, 2)}\n`);
    return 0;
  }
  let out = `${base} -> ${target}\n  nodes ${signed(d.totals.nodes.delta, num)}   total self size ${signed(d.totals.selfSize.delta, formatBytes)}   new classes ${d.newClasses.length}\n\n`;
  out += `What multiplied: classes whose instances grew in number, by growth of retained size (top ${Math.min(top, d.multiplied.length)})\n`;
  out += d.multiplied.length ? multipliedTable(d.multiplied.slice(0, top)) : '  no class multiplied\n';
  if (d.holders.length) out += `\nHolders: grew because they hold what multiplied\n${holdersTable(d.holders)}`;
  out += `\nthe path to a class: tailtrace heap retainers ${target} --class NAME\n`;
  process.stdout.write(out);
  return 0;
}

async function cmdLeaks(p: Parsed): Promise<number> {
  const [a, b, c] = p.positional;
  if (!a || !b || !c || p.positional.length > 3) throw new UsageError('usage: tailtrace heap leaks BASELINE TARGET FINAL [--top N] [--json]');
  const top = intFlag(p, '--top', 10);
  const r = await findLeaks(a, b, c, { ownership: rules(p), top });
  if (p.flags.has('--json')) {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    return 0;
  }
  let out = `${r.leakedObjects.toLocaleString('en-US')} objects allocated between ${a} and ${b} are still alive in ${c}; leak roots retain ${formatBytes(r.leakedRetained)}\n`;
  if (r.classes.length === 0) {
    process.stdout.write(`${out}\nno leaks found\n`);
    return 0;
  }
  const times = (xs: ReadonlyArray<{ key: string; count: number }>) => xs.map((x) => `${x.key} ×${num(x.count)}`).join(', ');
  out += '\nWhat multiplied: leak roots by class\n';
  out += table(['Class', 'Count', 'Retained', 'Held by'], r.classes.map((x) => [x.key, num(x.count), formatBytes(x.retained), times(x.heldBy)]));
  if (r.holders.length) {
    out += '\nHolders: what the leak roots sit in, and the path to each\n';
    out += table(['Holder', 'Holds', 'Retained', 'Path'], r.holders.map((h) => [h.label, times(h.holds), formatBytes(h.retained), h.chain]));
  }
  out += '\nLeak roots by retainer path\n';
  r.groups.forEach((g, i) => {
    const classes = g.classes.slice(0, 3).map((x) => `${x.key} x${num(x.count)}`).join(', ');
    out += `#${i + 1}  ${formatBytes(g.retained)} retained by ${num(g.count)} leak root${g.count === 1 ? '' : 's'} (${classes})\n    ${g.chain}\n`;
  });
  process.stdout.write(out);
  return 0;
}

async function cmdRetainers(p: Parsed): Promise<number> {
  const [file] = p.positional;
  const cls = p.flags.get('--class');
  const id = p.flags.get('--id');
  if (!file || p.positional.length > 1 || (cls === undefined) === (id === undefined)) {
    throw new UsageError('usage: tailtrace heap retainers FILE (--class NAME | --id ID) [--paths K] [--json]');
  }
  const k = intFlag(p, '--paths', 3);
  const s = await load(file, true);
  const tree = computeDominators(s, { ownership: rules(p) });
  let target: { id: number } | { className: string };
  if (id !== undefined) {
    const n = Number(String(id).replace(/^@/, ''));
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`--id needs a node id, got '${String(id)}'`);
    target = { id: n };
  } else target = { className: String(cls) };
  const paths = retainerPaths(s, target, k, tree.retained);
  if (p.flags.has('--json')) {
    process.stdout.write(`${JSON.stringify({ file, target, paths }, null, 2)}\n`);
    return 0;
  }
  let out = '';
  paths.forEach((x, i) => {
    const what = 'className' in target ? `${num(x.count)} instance${x.count === 1 ? '' : 's'}, ${formatBytes(x.retained)} retained` : `${formatBytes(x.retained)} retained`;
    out += `#${i + 1} (${what})\n    ${x.chain}\n`;
  });
  if (paths.length === 0) out = 'not reachable from the GC roots (only weak retainers)\n';
  process.stdout.write(out);
  return 0;
}

async function cmdRedact(p: Parsed): Promise<number> {
  const [input, output] = p.positional;
  if (!input || !output || p.positional.length > 2) throw new UsageError('usage: tailtrace heap redact IN OUT [--keep-names] [--salt S]');
  const salt = p.flags.get('--salt');
  if (salt === '') throw new UsageError('--salt needs a non-empty value (leave it out for a random one)');
  const r = await redactSnapshot(input, output, { keepNames: p.flags.has('--keep-names'), ...(typeof salt === 'string' ? { salt } : {}) });
  if (p.flags.has('--json')) process.stdout.write(`${JSON.stringify({ input, output, ...r })}\n`);
  else {
    const names = p.flags.has('--keep-names') ? 'names kept' : `${num(r.namesHashed)} names hashed (${r.salt === 'random' ? 'random key, not kept: hashes match no other run' : 'with the given --salt'})`;
    process.stdout.write(`${output}: ${num(r.valuesReplaced)} string values replaced, ${names} (${num(r.strings)} strings)\n`);
  }
  return 0;
}

/** Runs `tailtrace heap ...`; resolves to the exit code (0 ok, 2 bad input or usage). */
export async function heapMain(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '-h' || sub === '--help' || sub === 'help') {
    process.stdout.write(HEAP_USAGE);
    return sub === undefined ? 2 : 0;
  }
  try {
    const p = parseArgs(rest);
    if (p.flags.has('-h') || p.flags.has('--help')) {
      process.stdout.write(HEAP_USAGE);
      return 0;
    }
    switch (sub) {
      case 'summary':
        return await cmdSummary(p);
      case 'diff':
        return await cmdDiff(p);
      case 'leaks':
        return await cmdLeaks(p);
      case 'retainers':
        return await cmdRetainers(p);
      case 'redact':
        return await cmdRedact(p);
      default:
        throw new UsageError(`unknown heap command '${sub}' (see tailtrace heap --help)`);
    }
  } catch (err) {
    if (err instanceof HeapSnapshotError || err instanceof UsageError) {
      process.stderr.write(`tailtrace: ${err.message.replace(/\s*\n\s*/g, ' ')}\n`);
      return 2;
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') {
      process.stderr.write(`tailtrace: ${(err as Error).message}\n`);
      return 2;
    }
    throw err;
  }
}
