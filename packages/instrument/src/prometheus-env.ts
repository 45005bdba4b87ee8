// OTEL_EXPORTER_PROMETHEUS_HOST / OTEL_EXPORTER_PROMETHEUS_PORT, as the OpenTelemetry SDKs'
// Prometheus exporter reads them: when either is set, instrument() starts the metrics server
// itself, so a deployment gets its separate metrics port without a code change.
// https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#prometheus-exporter

/** The specification's default port. */
export const DEFAULT_PROMETHEUS_PORT = 9464;

export type PrometheusEnv = { host: string; port: number } | { error: string } | undefined;

/**
 * undefined when neither variable is set. The host defaults to 127.0.0.1 (the specification
 * says `localhost`; the loopback address is the same intent without depending on how
 * `localhost` resolves); set it to 0.0.0.0 to be scraped from outside a container.
 */
export function prometheusEnv(env: NodeJS.ProcessEnv = process.env): PrometheusEnv {
  const rawHost = env.OTEL_EXPORTER_PROMETHEUS_HOST?.trim() ?? '';
  const rawPort = env.OTEL_EXPORTER_PROMETHEUS_PORT?.trim() ?? '';
  if (rawHost === '' && rawPort === '') return undefined;
  let port = DEFAULT_PROMETHEUS_PORT;
  if (rawPort !== '') {
    port = Number(rawPort);
    if (!/^\d+$/.test(rawPort) || port < 1 || port > 65535) {
      return { error: `OTEL_EXPORTER_PROMETHEUS_PORT=${JSON.stringify(rawPort)} is not a port (1-65535): the metrics server is not started` };
    }
  }
  if (/[\s/]/.test(rawHost)) {
    return { error: `OTEL_EXPORTER_PROMETHEUS_HOST=${JSON.stringify(rawHost)} is not a host name or address: the metrics server is not started` };
  }
  const host = rawHost === '' ? '127.0.0.1' : rawHost.replace(/^\[(.*)\]$/, '$1');
  return { host, port };
}
