// The samplers OTEL_TRACES_SAMPLER names, with the SDK's decisions (TraceIdRatioBased uses the
// SDK's trace-id arithmetic, so services on either SDK keep or drop the same traces). They are
// OpenTelemetry Samplers, and also answer `decide()` from the parent span context the tracer
// already holds: no context lookup and no result object per span.
import { isSpanContextValid, SamplingDecision, trace } from '@opentelemetry/api';
import type { Context, SpanContext } from '@opentelemetry/api';
import type { Sampler, SamplingResult } from '@opentelemetry/sdk-trace';
import type { SamplerName } from './types.ts';

const RESULTS: readonly SamplingResult[] = [
  Object.freeze({ decision: SamplingDecision.NOT_RECORD }),
  Object.freeze({ decision: SamplingDecision.RECORD }),
  Object.freeze({ decision: SamplingDecision.RECORD_AND_SAMPLED }),
];

export abstract class FastSampler implements Sampler {
  /**
   * The decision for a new span under `parent` (undefined or invalid: a root span), of the trace
   * `traceId`, or, for a trace-id not spelled in hex yet, of the trace whose four 32-bit words
   * XOR to `traceXor` (what the SDK's ratio arithmetic computes from the hex).
   */
  abstract decide(parent: SpanContext | undefined, traceId: string | undefined, traceXor: number): SamplingDecision;

  shouldSample(ctx: Context, traceId: string): SamplingResult {
    return RESULTS[this.decide(trace.getSpanContext(ctx), traceId, 0)]!;
  }

  abstract toString(): string;
}

class AlwaysOn extends FastSampler {
  decide(): SamplingDecision {
    return SamplingDecision.RECORD_AND_SAMPLED;
  }

  toString(): string {
    return 'AlwaysOnSampler';
  }
}

class AlwaysOff extends FastSampler {
  decide(): SamplingDecision {
    return SamplingDecision.NOT_RECORD;
  }

  toString(): string {
    return 'AlwaysOffSampler';
  }
}

class TraceIdRatio extends FastSampler {
  readonly #ratio: number;
  readonly #upperBound: number;

  constructor(ratio: number) {
    super();
    this.#ratio = ratio >= 1 ? 1 : ratio > 0 ? ratio : 0;
    this.#upperBound = this.#ratio === 1 ? 4294967296 : Math.floor(this.#ratio * 4294967295);
  }

  decide(_parent: SpanContext | undefined, traceId: string | undefined, traceXor: number): SamplingDecision {
    const acc = traceId === undefined ? traceXor >>> 0 : traceId.length === 32 ? accumulate(traceId) : Infinity;
    return acc < this.#upperBound ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD;
  }

  toString(): string {
    return `TraceIdRatioBased{${this.#ratio}}`;
  }
}

/** The SDK's TraceIdRatioBasedSampler arithmetic: XOR of the trace-id's four 32-bit words. */
function accumulate(traceId: string): number {
  let acc = 0;
  for (let i = 0; i < 32; i += 8) {
    let part = 0;
    for (let j = 0; j < 8; j++) {
      const c = traceId.charCodeAt(i + j);
      part = (part << 4) | (c < 58 ? c - 48 : c < 71 ? c - 55 : c - 87);
    }
    acc = (acc ^ part) >>> 0;
  }
  return acc;
}

/** Follows a valid parent's sampled flag (remote or local); asks `root` for root spans. */
class ParentBased extends FastSampler {
  readonly #root: FastSampler;

  constructor(root: FastSampler) {
    super();
    this.#root = root;
  }

  decide(parent: SpanContext | undefined, traceId: string | undefined, traceXor: number): SamplingDecision {
    if (parent === undefined || !isSpanContextValid(parent)) return this.#root.decide(undefined, traceId, traceXor);
    return (parent.traceFlags & 1) === 1 ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD;
  }

  toString(): string {
    return `ParentBased{root=${this.#root.toString()}}`;
  }
}

export function buildSampler(name: SamplerName, ratio: number): FastSampler {
  switch (name) {
    case 'always_on': return new AlwaysOn();
    case 'always_off': return new AlwaysOff();
    case 'traceidratio': return new TraceIdRatio(ratio);
    case 'parentbased_always_off': return new ParentBased(new AlwaysOff());
    case 'parentbased_traceidratio': return new ParentBased(new TraceIdRatio(ratio));
    case 'parentbased_always_on':
    default: return new ParentBased(new AlwaysOn());
  }
}
