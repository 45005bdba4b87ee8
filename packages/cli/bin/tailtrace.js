#!/usr/bin/env node
// The version check comes before anything is loaded, so a Node older than `engines.node` gets
// one line instead of whatever the first newer API would throw.
const MIN_NODE_VERSION = '22.15.0';
const [major = 0, minor = 0, patch = 0] = process.versions.node.split('.').map(Number);
const [minMajor, minMinor, minPatch] = MIN_NODE_VERSION.split('.').map(Number);
const tooOld = major !== minMajor ? major < minMajor : minor !== minMinor ? minor < minMinor : patch < minPatch;

if (tooOld) {
  process.stderr.write(`tailtrace: Node ${process.versions.node} is older than ${MIN_NODE_VERSION}, the oldest version tailtrace supports\n`);
  process.exitCode = 1;
} else {
  const { main } = await import('@tailtrace/cli');
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`tailtrace: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
