// Variant ddTrace: Datadog's dd-trace, loaded with --import before the server starts, as its
// documentation prescribes, tracing on with every trace kept (sample rate 1, as alwaysOn); its
// agent is played by the bench's sink, which answers the trace intake (PUT /v0.4/traces) as the
// agent does. Everything that is not tracing is off: runtime metrics, profiling, AppSec,
// telemetry, remote configuration, the crash tracker.
import tracer from 'dd-trace';

tracer.init({
  service: process.env.BENCH_SERVICE ?? 'bench-dd',
  url: process.env.BENCH_DD_AGENT ?? 'http://127.0.0.1:8126',
  sampleRate: 1,
  startupLogs: false,
  runtimeMetrics: false,
  plugins: true,
});
