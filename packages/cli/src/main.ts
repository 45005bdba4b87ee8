import { readFileSync } from 'node:fs';
import { diagnoseMain } from './diagnose/cli.ts';
import { heapMain } from './heap.ts';

const USAGE = `usage: tailtrace <command> [options]

commands:
  heap       analyze V8 heap snapshots (summary, diff, leaks, retainers, redact)
  diagnose   compare two evidence bundles (baseline, current)

options:
  -h, --help     show this help
  -v, --version  show the version
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Runs the CLI with argv (without node and script); resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (command === '-v' || command === '--version') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (command === 'heap') return heapMain(argv.slice(1));
  if (command === 'diagnose') return diagnoseMain(argv.slice(1));
  process.stderr.write(`tailtrace: unknown command '${command}' (see tailtrace --help)\n`);
  return 2;
}
