// One at a time, then a quiet interval: the limit for debug work that costs the whole process (a
// full GC, a CPU profile, an evidence bundle). Two parallel loops on /debug/pprof/heap?gc=1 once
// took a neighbouring route's P99 from 7 ms to 9.5 s; behind a gate they get a 429 instead.
import { performance } from 'node:perf_hooks';
import type { DebugAdmission } from '@tailtrace/profiler';

export interface RateGate {
  /** Admitted: call release() when the work ends (idempotent). Refused: say when to come back. */
  enter(): DebugAdmission;
}

/** `minIntervalMs` runs from the end of one piece of work to the start of the next. */
export function rateGate(minIntervalMs: number, now: () => number = () => performance.now()): RateGate {
  let busy = false;
  let readyAtMs = -Infinity;
  return {
    enter() {
      if (busy) return { admitted: false, retryAfterS: Math.max(1, Math.ceil(minIntervalMs / 1000)), reason: 'one at a time: another one is running' };
      const t = now();
      if (t < readyAtMs) {
        return { admitted: false, retryAfterS: Math.max(1, Math.ceil((readyAtMs - t) / 1000)), reason: `at most one every ${Math.ceil(minIntervalMs / 1000)} s` };
      }
      busy = true;
      let released = false;
      return {
        admitted: true,
        release: () => {
          if (released) return;
          released = true;
          busy = false;
          readyAtMs = now() + minIntervalMs;
        },
      };
    },
  };
}
