// Sets up the instrumentation a variant asks for. OpenTelemetry auto-instrumentation patches
// modules as they are required, so express and grpc are always loaded with require() (through
// createRequire), the same way for every variant.
import { createRequire } from 'node:module';
import type { Instrumentation } from '@tailtrace/instrument';

export const variant = process.env.BENCH_VARIANT ?? 'bare';
export const sink = process.env.BENCH_SINK ?? 'http://127.0.0.1:4318';
export const requireCjs = createRequire(import.meta.url);
/** How a tailtrace gRPC server is traced: wrapped unary handlers (default) or the interceptor alone. */
export const grpcServerMode = process.env.BENCH_GRPC_SERVER === 'interceptor' ? 'interceptor' : 'service';

// sampled10Heap: sampled10 plus the sampling heap profiler at its default 512 KiB interval.
const tracingVariant = variant === 'sampled10Heap' ? 'sampled10' : variant;

export async function tailtrace(serviceName: string): Promise<Instrumentation | undefined> {
  if (tracingVariant !== 'alwaysOn' && tracingVariant !== 'sampled10' && tracingVariant !== 'alwaysOff') return undefined;
  const { instrument } = await import('@tailtrace/instrument');
  return instrument({
    serviceName,
    quiet: true,
    otlpEndpoint: sink,
    // The heap profiler only where the variant asks for it, so the pair sampled10 / sampled10Heap
    // differs in nothing else; evidence evaluation (once a minute) is off everywhere.
    heapProfile: variant === 'sampled10Heap' ? {} : false,
    evidence: false,
    // alwaysOff is diagnostic: everything but span recording and export (context, IDs, metrics).
    tracing: tracingVariant === 'sampled10' ? { sampler: 'parentbased_traceidratio', samplerRatio: 0.1 }
      : tracingVariant === 'alwaysOff' ? { sampler: 'always_off' } : { sampler: 'always_on' },
  });
}
