// `tailtrace diagnose BASELINE CURRENT [--json] [--html FILE] ...`
import { writeFile } from 'node:fs/promises';
import { resolveOptions } from './diagnose.ts';
import { EvidenceError } from './errors.ts';
import { renderDiagnoseHtml } from './html.ts';
import { diagnosePaths } from './load.ts';
import { renderDiagnoseText } from './text.ts';
import type { DiagnoseOptions } from './types.ts';
import { parseArgv, UsageError } from '../args.ts';
import type { Args } from '../args.ts';

export const DIAGNOSE_USAGE = `usage: tailtrace diagnose BASELINE CURRENT [options]

Compares two evidence bundles: which operations regressed, how GC and the event loop changed,
what grew in the heap, ranked suspects and the slow trace IDs to open.

BASELINE and CURRENT are each a bundle directory (with a manifest.json) or a directory of bundles.
The baseline side is every HDR window of the BASELINE bundles (their window and baseline windows);
the current side is the window of the CURRENT bundles.

options:
  --json                 the report as JSON on stdout
  --html FILE            also write a self-contained HTML report to FILE
  --percentile P         percentile judged for regressions: 50, 90, 99 (default) or 99.9
  --threshold X          current/baseline ratio that counts as a regression (default 1.5)
  --min-samples N        samples needed on each side (default 50)
  --min-delta-ms MS      smallest absolute change that counts (default 2)
  --alpha A              significance the tail test needs: p < A (default 0.001)
  --top N                heap classes / allocation sites listed (default 10)
  --traces N             slow trace IDs listed (default 20)
  --trace-url TEMPLATE   link trace IDs, e.g. http://tempo:3200/trace/{traceId}
  --fail-on-regression   exit 1 when an operation regressed (CI gate)
  -h, --help             show this help

exit codes: 0 report written; 1 regression found with --fail-on-regression; 2 usage error or bad bundle
`;


const VALUE_FLAGS = new Set(['--html', '--percentile', '--threshold', '--min-samples', '--min-delta-ms', '--alpha', '--top', '--traces', '--trace-url']);
const BOOL_FLAGS = new Set(['--json', '--fail-on-regression', '-h', '--help']);


function parseArgs(argv: readonly string[]): Args {
  return parseArgv(argv, VALUE_FLAGS, BOOL_FLAGS, 'tailtrace diagnose --help');
}

function numberFlag(a: Args, name: string): number | undefined {
  const v = a.flags.get(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${name} needs a number, got '${String(v)}'`);
  return n;
}

function options(a: Args): DiagnoseOptions {
  const o: DiagnoseOptions = {};
  const set = <K extends keyof DiagnoseOptions>(k: K, v: DiagnoseOptions[K] | undefined) => {
    if (v !== undefined) o[k] = v;
  };
  set('percentile', numberFlag(a, '--percentile'));
  set('threshold', numberFlag(a, '--threshold'));
  set('minSamples', numberFlag(a, '--min-samples'));
  set('minDeltaMs', numberFlag(a, '--min-delta-ms'));
  set('alpha', numberFlag(a, '--alpha'));
  set('top', numberFlag(a, '--top'));
  set('traces', numberFlag(a, '--traces'));
  const url = a.flags.get('--trace-url');
  if (typeof url === 'string') o.traceUrl = url;
  return o;
}

const fail = (message: string): number => {
  process.stderr.write(`tailtrace diagnose: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
  return 2;
};

/** Runs `tailtrace diagnose ...`; resolves to the exit code. */
export async function diagnoseMain(argv: readonly string[]): Promise<number> {
  let a: Args;
  try {
    a = parseArgs(argv);
  } catch (err) {
    return fail((err as Error).message);
  }
  if (a.flags.has('-h') || a.flags.has('--help')) {
    process.stdout.write(DIAGNOSE_USAGE);
    return 0;
  }
  try {
    const [baseline, current] = a.positional;
    if (!baseline || !current || a.positional.length > 2) throw new UsageError('usage: tailtrace diagnose BASELINE CURRENT [--json] [--html FILE] (see --help)');
    const opts = options(a);
    try {
      resolveOptions(opts); // out-of-range options are usage errors, found before any file is read
    } catch (err) {
      throw new UsageError(`${(err as Error).message}`);
    }
    const report = await diagnosePaths(baseline, current, { ...opts, progress: true });
    const html = a.flags.get('--html');
    if (typeof html === 'string') {
      try {
        await writeFile(html, renderDiagnoseHtml(report));
      } catch (err) {
        throw new UsageError(`cannot write ${html}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
    process.stdout.write(a.flags.has('--json') ? `${JSON.stringify(report, null, 2)}\n` : renderDiagnoseText(report));
    return a.flags.has('--fail-on-regression') && report.regressed > 0 ? 1 : 0;
  } catch (err) {
    if (err instanceof EvidenceError || err instanceof UsageError) return fail(err.message);
    throw err;
  }
}
