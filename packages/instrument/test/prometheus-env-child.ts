// A script that calls instrument() with OTEL_EXPORTER_PROMETHEUS_PORT set and then has nothing
// left to do: the metrics server it started must not keep it alive. It prints the server's URL.
import { instrument } from '@tailtrace/instrument';

const tt = instrument({ serviceName: 'env-child', quiet: true, tracing: { exporter: 'none' }, evidence: false, heapProfile: false });
const server = await tt.startMetricsServer();
const res = await fetch(server.url);
process.stdout.write(`${res.status} ${server.url}\n`);
