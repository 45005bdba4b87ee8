// Child process for the signal trigger test: `node signal-child.ts DIR`. Prints `ready PID` once
// the handler is installed, then `bundle <snapshot status> <path>` when the signal's bundle is
// written, and exits. Exits on its own after 30 s whatever happens.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createProfiler } from '@tailtrace/profiler';

const dir = process.argv[2]!;
const profiler = createProfiler({
  serviceName: 'signal-child',
  heapSampling: false,
  evidence: { dir, signal: 'SIGUSR2', baselineEveryMs: false, heapGrowth: false, heapLimit: false },
  onSnapshot: (result) => {
    void (async () => {
      const names = (await readdir(dir)).filter((n) => !n.startsWith('.'));
      process.stdout.write(`bundle ${result} ${names.map((n) => join(dir, n)).join(',')}\n`);
      await profiler.stop();
      process.exit(0);
    })();
  },
});
const guard = setTimeout(() => process.exit(3), 30_000);
guard.unref();
// Keep the process alive until the signal arrives (the profiler's own timers are unref'd).
setInterval(() => {}, 1000);
process.stdout.write(`ready ${process.pid}\n`);
