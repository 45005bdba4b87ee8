#!/usr/bin/env node
import { main } from '@tailtrace/cli';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`tailtrace: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
