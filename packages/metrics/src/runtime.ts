// Runtime metrics: prom-client's collectDefaultMetrics plus event-loop utilization.
//
// Names prom-client 15 emits (verified by test/runtime.test.ts): process_cpu_user_seconds_total,
// process_cpu_system_seconds_total, process_cpu_seconds_total, process_start_time_seconds,
// process_resident_memory_bytes, process_virtual_memory_bytes, process_heap_bytes, process_open_fds,
// process_max_fds, nodejs_eventloop_lag_seconds, nodejs_eventloop_lag_{min,max,mean,stddev,p50,p90,p99}_seconds
// (from monitorEventLoopDelay, reset at every scrape), nodejs_active_resources{type},
// nodejs_active_resources_total, nodejs_active_handles{type}, nodejs_active_handles_total,
// nodejs_active_requests{type}, nodejs_active_requests_total, nodejs_heap_size_total_bytes,
// nodejs_heap_size_used_bytes, nodejs_external_memory_bytes, nodejs_heap_space_size_{total,used,available}_bytes{space},
// nodejs_version_info{version,major,minor,patch}, nodejs_gc_duration_seconds{kind} (histogram).
// Ours: nodejs_eventloop_utilization_ratio (gauge, ELU since the previous scrape).
//
// prom-client gives no way to stop the event-loop-delay histogram and GC PerformanceObserver it
// starts, so each createMetrics() would leak one of each. We capture them while
// collectDefaultMetrics runs (it looks both up on the perf_hooks module at call time; the call
// is synchronous) and disable them in close().
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import type { EventLoopUtilization, PerformanceObserver as PerfObserver } from 'node:perf_hooks';
import { collectDefaultMetrics } from 'prom-client';
import type { Registry } from 'prom-client';
import { familyHeader, formatValue } from './format.ts';
import { OwnMetric } from './own-metric.ts';
import type { PromSample } from './own-metric.ts';

const require = createRequire(import.meta.url);
// The CommonJS exports object of perf_hooks: the one prom-client's `require('perf_hooks')` holds.
const perfHooks = require('node:perf_hooks') as typeof import('node:perf_hooks');

export const ELU_METRIC = 'nodejs_eventloop_utilization_ratio';

export class EluGauge extends OwnMetric {
  readonly type = 'gauge';
  private last: EventLoopUtilization = performance.eventLoopUtilization();

  constructor() {
    super(ELU_METRIC, 'Event loop utilization (busy time / elapsed time) since the previous scrape.');
  }

  /** Consumes the interval: each scrape reports the utilization since the one before. */
  private take(): number {
    const cur = performance.eventLoopUtilization();
    const delta = performance.eventLoopUtilization(cur, this.last);
    this.last = cur;
    return delta.utilization;
  }

  write(openMetrics: boolean, extra: string): string {
    return `${familyHeader(this.name, 'gauge', this.help, openMetrics)}${this.name}${extra === '' ? '' : `{${extra}}`} ${formatValue(this.take())}\n`;
  }

  samples(): PromSample[] {
    return [{ value: this.take(), labels: {} }];
  }
}

export interface RuntimeHandles {
  close(): void;
}

/** Registers the default metrics on `registry` and returns what close() must stop. */
export function startDefaultMetrics(registry: Registry): RuntimeHandles {
  // A registry that already has them (the user called collectDefaultMetrics) keeps its own.
  if (registry.getSingleMetric('process_cpu_user_seconds_total') !== undefined) return { close() {} };
  const histograms: ReturnType<typeof perfHooks.monitorEventLoopDelay>[] = [];
  const observers: PerfObserver[] = [];
  const origMonitor = perfHooks.monitorEventLoopDelay;
  const OrigObserver = perfHooks.PerformanceObserver;
  const mutable = perfHooks as { -readonly [K in keyof typeof perfHooks]: (typeof perfHooks)[K] };
  try {
    mutable.monitorEventLoopDelay = (opts) => {
      const h = origMonitor(opts);
      histograms.push(h);
      return h;
    };
    mutable.PerformanceObserver = class extends OrigObserver {
      constructor(cb: ConstructorParameters<typeof OrigObserver>[0]) {
        super(cb);
        observers.push(this);
      }
    };
    // Default labels are added by the registry/renderer, not baked into each default metric.
    collectDefaultMetrics({ register: registry });
  } finally {
    mutable.monitorEventLoopDelay = origMonitor;
    mutable.PerformanceObserver = OrigObserver;
  }
  return {
    close() {
      for (const h of histograms) h.disable();
      for (const o of observers) o.disconnect();
    },
  };
}
