// Variant otelAuto: OpenTelemetry's own auto-instrumentation (http, express, grpc, and undici for
// the realistic handler's fetch) with the BatchSpanProcessor and OTLP/HTTP export, loaded with
// --import before the server starts, as its documentation prescribes.
import { NodeSDK } from '@opentelemetry/sdk-node';
import { getNodeAutoInstrumentations } from '@opentelemetry/auto-instrumentations-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace';

const sink = process.env.BENCH_SINK ?? 'http://127.0.0.1:4318';
const sdk = new NodeSDK({
  serviceName: 'bench-otel-auto',
  spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${sink}/v1/traces` }) })],
  instrumentations: [
    getNodeAutoInstrumentations({
      '@opentelemetry/instrumentation-fs': { enabled: false },
      '@opentelemetry/instrumentation-dns': { enabled: false },
      '@opentelemetry/instrumentation-net': { enabled: false },
    }),
  ],
});
sdk.start();
