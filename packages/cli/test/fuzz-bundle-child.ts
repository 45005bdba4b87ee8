// One bundle fuzz worker: `node fuzz-bundle-child.ts BASE CUR FIRST COUNT DEADLINE_MS DIR`.
// Each case copies both bundles, mutates one of their files (chosen by the seed) and runs
// diagnose and both renderers on them, printing one JSON line before and after the case.
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EvidenceError, diagnosePaths, renderDiagnoseHtml, renderDiagnoseText } from '../src/index.ts';
import { mutate, prng } from '../../heap/test/mutate.ts';

const [base, cur, firstArg, countArg, deadlineArg, dir] = process.argv.slice(2) as [string, string, string, string, string, string];
const deadline = Number(deadlineArg);
const files = [...readdirSync(base).map((f) => ['base', f] as const), ...readdirSync(cur).map((f) => ['cur', f] as const)];

for (let seed = Number(firstArg), end = seed + Number(countArg); seed < end && Date.now() < deadline; seed++) {
  const work = join(dir, `case-${seed}`);
  cpSync(base, join(work, 'base'), { recursive: true });
  cpSync(cur, join(work, 'cur'), { recursive: true });
  const [side, name] = files[Math.floor(prng(seed)() * files.length)]!;
  const target = join(work, side, name);
  writeFileSync(target, mutate(readFileSync(target), seed));
  process.stdout.write(`${JSON.stringify({ seed, start: true })}\n`);
  const t0 = performance.now();
  let outcome: string;
  let message = '';
  try {
    const report = await diagnosePaths(join(work, 'base'), join(work, 'cur'));
    renderDiagnoseText(report);
    renderDiagnoseHtml(report);
    JSON.stringify(report);
    outcome = `ok ${side}/${name}`;
  } catch (err) {
    const oneLine = err instanceof EvidenceError && !/\n/.test(err.message);
    outcome = oneLine ? 'refused' : 'FAIL';
    message = oneLine ? err.message : `${side}/${name}: ${String((err as Error)?.stack ?? err)}`;
  }
  rmSync(work, { recursive: true, force: true });
  process.stdout.write(`${JSON.stringify({ seed, ms: Math.round(performance.now() - t0), outcome, message })}\n`);
}
