// The bundled dashboards, by the file name their JSON is written to (dashboards/<file>).
import type { dashboard } from './common.ts';
import { collectorHealth } from './collector-health.ts';
import { heapEvidence } from './heap-evidence.ts';
import { httpVsGrpc } from './http-vs-grpc.ts';
import { nodeRuntime } from './node-runtime.ts';
import { serviceOverview } from './service-overview.ts';

export const dashboards: Record<string, () => dashboard.Dashboard> = {
  'service-overview.json': serviceOverview,
  'http-vs-grpc.json': httpVsGrpc,
  'node-runtime.json': nodeRuntime,
  'heap-evidence.json': heapEvidence,
  'collector-health.json': collectorHealth,
};
