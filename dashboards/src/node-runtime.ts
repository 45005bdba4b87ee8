// (3) Node runtime: event-loop delay P99 and utilization, GC pauses by kind, heap spaces, RSS,
// active handles, CPU — per instance of the selected services.
import { finish, newDashboard, row, sel, sumRate, timeSeries } from './common.ts';
import type { dashboard } from './common.ts';

export function nodeRuntime(): dashboard.Dashboard {
  const b = newDashboard({
    uid: 'tailtrace-node-runtime',
    title: 'tailtrace / Node runtime',
    description: 'Event loop, GC, heap spaces, RSS and handles of the Node.js processes.',
    tags: ['nodejs', 'runtime'],
    variableMetric: 'nodejs_eventloop_lag_p99_seconds',
  });
  const by = 'job, instance';

  b.withRow(row('Event loop'))
    .withPanel(timeSeries({
      title: 'Event-loop delay P99',
      description: 'P99 of the event-loop delay (perf_hooks.monitorEventLoopDelay) per instance: how late timers and I/O callbacks run.',
      unit: 's',
      queries: [{ expr: `max by (${by}) (nodejs_eventloop_lag_p99_seconds${sel()})`, legend: '{{job}} {{instance}}' }],
    }))
    .withPanel(timeSeries({
      title: 'Event-loop utilization',
      description: 'Share of time the event loop was busy (performance.eventLoopUtilization) per instance; near 100% means the process is CPU-bound on the main thread.',
      unit: 'percentunit',
      min: 0,
      queries: [{ expr: `max by (${by}) (nodejs_eventloop_utilization_ratio${sel()})`, legend: '{{job}} {{instance}}' }],
    }));

  b.withRow(row('Garbage collection'))
    .withPanel(timeSeries({
      title: 'GC pause time per second by kind',
      description: 'Seconds spent in GC pauses per second of wall time, by GC kind (minor, major, incremental, weakcb).',
      unit: 'percentunit',
      stack: true,
      queries: [{ expr: sumRate('nodejs_gc_duration_seconds_sum', `${by}, kind`), legend: '{{kind}} {{job}} {{instance}}' }],
    }))
    .withPanel(timeSeries({
      title: 'Mean GC pause by kind',
      description: 'Mean duration of one GC pause by kind over the rate window.',
      unit: 's',
      queries: [{ expr: `${sumRate('nodejs_gc_duration_seconds_sum', `${by}, kind`)} / ${sumRate('nodejs_gc_duration_seconds_count', `${by}, kind`)}`, legend: '{{kind}} {{job}} {{instance}}' }],
    }))
    .withPanel(timeSeries({
      title: 'GC pauses per second by kind',
      description: 'Number of GC pauses per second by kind.',
      unit: 'ops',
      width: 24,
      queries: [{ expr: sumRate('nodejs_gc_duration_seconds_count', `${by}, kind`), legend: '{{kind}} {{job}} {{instance}}' }],
    }));

  b.withRow(row('Memory and handles'))
    .withPanel(timeSeries({
      title: 'Heap used by space',
      description: 'V8 heap bytes used per heap space (new, old, code, large-object, ...), summed over the selected instances.',
      unit: 'bytes',
      stack: true,
      queries: [{ expr: `sum by (job, space) (nodejs_heap_space_size_used_bytes${sel()})`, legend: '{{space}} {{job}}' }],
    }))
    .withPanel(timeSeries({
      title: 'Resident set size',
      description: 'Resident memory of each process (heap, code, buffers, native allocations).',
      unit: 'bytes',
      queries: [{ expr: `max by (${by}) (process_resident_memory_bytes${sel()})`, legend: '{{job}} {{instance}}' }],
    }))
    .withPanel(timeSeries({
      title: 'Active handles',
      description: 'Active libuv handles (sockets, timers, servers) per instance; a steady climb is a leak.',
      unit: 'short',
      queries: [{ expr: `max by (${by}) (nodejs_active_handles_total${sel()})`, legend: '{{job}} {{instance}}' }],
    }))
    .withPanel(timeSeries({
      title: 'CPU usage',
      description: 'CPU seconds per second used by each process (user + system); 1 = one full core.',
      unit: 'percentunit',
      queries: [{ expr: sumRate('process_cpu_seconds_total', by), legend: '{{job}} {{instance}}' }],
    }));

  return finish(b);
}
