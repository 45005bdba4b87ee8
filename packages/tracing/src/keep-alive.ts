// Our timers and the export worker are unref'd so telemetry never keeps a process alive. The
// exception is a flush the application awaits: at the end of a CLI or a batch job nothing else
// may be keeping the event loop alive, and the process would end (or, in ESM with top-level
// await, fail with exit 13) with the spans still queued. While a flush runs we hold one ref'd
// timer, bounded by the flush's own limit.

/** Settles with `work` or after `maxMs`, whichever is first, keeping the process alive meanwhile; never rejects. */
export async function whileHeld(work: Promise<unknown>, maxMs: number): Promise<'done' | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), maxMs);
  });
  try {
    return await Promise.race([work.then(() => 'done' as const, () => 'done' as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
