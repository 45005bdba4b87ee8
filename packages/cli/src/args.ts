// The command line of every `tailtrace` command: positionals, `--flag value`, `--flag=value`,
// boolean flags, and `--` ending the options. Unknown options and missing values are UsageErrors
// (exit code 2 in each command).

export class UsageError extends Error {}

export interface Args {
  positional: string[];
  flags: Map<string, string | true>;
}

export function parseArgv(argv: readonly string[], valueFlags: ReadonlySet<string>, boolFlags: ReadonlySet<string>, help: string): Args {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('-') && a !== '-') {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(0, eq) : a;
      if (valueFlags.has(name)) {
        const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
        if (v === undefined) throw new UsageError(`${name} needs a value`);
        flags.set(name, v);
      } else if (boolFlags.has(name) && eq < 0) flags.set(name, true);
      else throw new UsageError(`unknown option ${a} (see ${help})`);
    } else positional.push(a);
  }
  return { positional, flags };
}
