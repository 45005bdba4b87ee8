// Public API of @tailtrace/tracing.
export { createTracing, isSampled, TRACER_NAME } from './tracing.ts';
export type { Tracing } from './tracing.ts';
export type {
  ExportStats, OperationKind, OperationRecord, PropagatorName, SamplerName, SpanLimits, TraceIds, TracingOptions,
} from './types.ts';
export type { ExpressErrorMiddleware, ExpressMiddleware, NextFunction } from './express.ts';
export type { GrpcClientInterceptor, GrpcServerInterceptor } from './grpc.ts';
export { currentTraceIds, pinoMixin } from './log.ts';
export { parseResourceAttributes } from './env.ts';
export { sanitizeTraceState, setTraceStateMember } from './tracestate.ts';
export { onShutdownSignal, resolveShutdownOnSignal } from './shutdown-signal.ts';
export const packageName = '@tailtrace/tracing';
