// Sets up the instrumentation a variant asks for. OpenTelemetry auto-instrumentation patches
// modules as they are required, so express and grpc are always loaded with require() (through
// createRequire), the same way for every variant.
import { createRequire } from 'node:module';
import type { Instrumentation } from '@tailtrace/instrument';

export const variant = process.env.BENCH_VARIANT ?? 'bare';
export const sink = process.env.BENCH_SINK ?? 'http://127.0.0.1:4318';
export const requireCjs = createRequire(import.meta.url);

export async function tailtrace(serviceName: string): Promise<Instrumentation | undefined> {
  if (variant !== 'alwaysOn' && variant !== 'sampled10' && variant !== 'alwaysOff') return undefined;
  const { instrument } = await import('@tailtrace/instrument');
  return instrument({
    serviceName,
    quiet: true,
    otlpEndpoint: sink,
    // alwaysOff is diagnostic: everything but span recording and export (context, IDs, metrics).
    tracing: variant === 'sampled10' ? { sampler: 'parentbased_traceidratio', samplerRatio: 0.1 }
      : variant === 'alwaysOff' ? { sampler: 'always_off' } : { sampler: 'always_on' },
  });
}
