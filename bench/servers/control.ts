// IPC with the benchmark orchestrator: report the port, and measure this process's CPU time
// and RSS between two marks so the load generator's own cost never enters the figures.
export interface SpanCounts {
  exported: number;
  dropped: { queueFull: number; exportFailed: number };
  queued: number;
}

/** What a tailtrace variant reports: its export counters, after flushing what is queued. */
export interface SpanReport {
  counts(): SpanCounts;
  flush(): Promise<void>;
}

/**
 * `spans` reports the tracing export counters (tailtrace variants) so drops are visible. They are
 * read after a flush, which runs after the CPU reading: every span created since start is then
 * exported, dropped (counted) or still queued (counted), so exported = created shows as
 * dropped = queued = 0.
 */
export function announce(port: number, onStop: () => Promise<void>, spans?: SpanReport): void {
  let mark = process.cpuUsage();
  process.on('message', (msg: { type: string }) => {
    if (msg.type === 'mark') {
      mark = process.cpuUsage();
      process.send?.({ type: 'marked' });
    } else if (msg.type === 'measure') {
      const d = process.cpuUsage(mark);
      const figures = { type: 'measured', cpuUs: d.user + d.system, rssMb: process.memoryUsage.rss() / 2 ** 20 };
      if (spans === undefined) process.send?.(figures);
      else void spans.flush().finally(() => process.send?.({ ...figures, spans: spans.counts() }));
    } else if (msg.type === 'stop') {
      void onStop().finally(() => process.exit(0));
    }
  });
  process.on('disconnect', () => process.exit(0));
  // Started by hand (no IPC): exit cleanly on SIGTERM so --cpu-prof and friends write their files.
  process.on('SIGTERM', () => void onStop().finally(() => process.exit(0)));
  if (process.send) process.send({ type: 'ready', port });
  else process.stdout.write(`${port}\n`);
}
