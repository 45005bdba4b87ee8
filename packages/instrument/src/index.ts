export { instrument, currentInstrumentation } from './instrument.ts';
export type { Instrumentation, InstrumentOptions, MetricsServer } from './instrument.ts';
export { currentTraceIds } from '@tailtrace/tracing';
