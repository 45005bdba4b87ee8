// Graceful shutdown in containers: on SIGTERM/SIGINT, deliver the queued spans, then let the
// process end the way it would have without us (the signal re-raised with our handler gone, so
// the exit status still says "killed by SIGTERM"). An application that handles the signal itself
// stays in charge: we only flush, and neither exit nor kill it.
import { quote } from './env.ts';
import type { Env, Warn } from './env.ts';

export interface ShutdownOnSignalOptions {
  /** Full shutdown (bounded): used when nobody else handles the signal. */
  shutdown: () => Promise<void>;
  /** Flush only (bounded): used when the application has its own handler for the signal. */
  flush: () => Promise<void>;
  signals?: readonly NodeJS.Signals[];
}

/** Installs the handlers; returns their remover (instrument's shutdown calls it). */
export function onShutdownSignal(opts: ShutdownOnSignalOptions): () => void {
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  let installed = true;
  const remove = (): void => {
    if (!installed) return;
    installed = false;
    for (const s of signals) process.removeListener(s, handler);
  };
  const handler = (signal: NodeJS.Signals): void => {
    // Gone before anything else: a second signal takes its normal course (an impatient Ctrl-C
    // twice still kills at once).
    remove();
    const appHandles = process.listenerCount(signal) > 0;
    const work = appHandles ? opts.flush() : opts.shutdown();
    void work.catch(() => undefined).then(() => {
      if (!appHandles && process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  };
  for (const s of signals) process.on(s, handler);
  return remove;
}

export interface SignalSetting {
  timeoutMs: number;
}

/**
 * `shutdownOnSignal` option, else TAILTRACE_SHUTDOWN_ON_SIGNAL (1/true on, 0/false off): off by
 * default, since installing a signal handler changes what the signal does.
 */
export function resolveShutdownOnSignal(option: unknown, env: Env, warn: Warn): SignalSetting | undefined {
  if (option === true) return { timeoutMs: 5000 };
  if (option === false) return undefined;
  if (option !== undefined && option !== null && typeof option === 'object') {
    const t = (option as { timeoutMs?: unknown }).timeoutMs;
    if (t === undefined) return { timeoutMs: 5000 };
    if (typeof t === 'number' && t >= 0 && t < Infinity) return { timeoutMs: t };
    warn(`option shutdownOnSignal.timeoutMs=${quote(t)} is not a finite number of milliseconds; using 5000`);
    return { timeoutMs: 5000 };
  }
  if (option !== undefined) {
    warn(`option shutdownOnSignal=${quote(option)} is neither a boolean nor { timeoutMs }; flushing on signals stays off`);
    return undefined;
  }
  const raw = env.TAILTRACE_SHUTDOWN_ON_SIGNAL?.trim().toLowerCase();
  if (raw === undefined || raw === '' || raw === '0' || raw === 'false') return undefined;
  if (raw === '1' || raw === 'true') return { timeoutMs: 5000 };
  warn(`TAILTRACE_SHUTDOWN_ON_SIGNAL=${quote(env.TAILTRACE_SHUTDOWN_ON_SIGNAL)} is neither 1/true nor 0/false; flushing on signals stays off`);
  return undefined;
}
