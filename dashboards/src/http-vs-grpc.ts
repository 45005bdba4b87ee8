// (2) HTTP vs gRPC: one table per protocol hop (HTTP server, gRPC server, gRPC client, HTTP
// client) with requests/s, mean, P99 and the RSS of the service that serves/makes the call,
// plus P99 of every hop side by side over time.
import { finish, hq, labelTable, newDashboard, row, sel, sumRate, timeSeries } from './common.ts';
import type { Column, dashboard } from './common.ts';

interface Hop {
  title: string;
  metric: string;
  /** The labels that name one hop (besides job). */
  by: string;
  labels: Record<string, string>;
  description: string;
}

const HOPS: Hop[] = [
  {
    title: 'HTTP server hops',
    metric: 'http_server_request_duration_seconds',
    by: 'http_request_method, http_route',
    labels: { job: 'Service', http_request_method: 'Method', http_route: 'Route' },
    description: 'Inbound HTTP per service and route',
  },
  {
    title: 'gRPC server hops',
    metric: 'rpc_server_duration_seconds',
    by: 'rpc_service, rpc_method',
    labels: { job: 'Service', rpc_service: 'gRPC service', rpc_method: 'Method' },
    description: 'Inbound gRPC per service and method',
  },
  {
    title: 'gRPC client hops',
    metric: 'rpc_client_duration_seconds',
    by: 'rpc_service, rpc_method',
    labels: { job: 'Caller', rpc_service: 'gRPC service', rpc_method: 'Method' },
    description: 'Outbound gRPC per calling service and method',
  },
  {
    title: 'HTTP client hops',
    metric: 'http_client_request_duration_seconds',
    by: 'http_request_method, server_address',
    labels: { job: 'Caller', http_request_method: 'Method', server_address: 'Peer' },
    description: 'Outbound HTTP per calling service and peer host',
  },
];

function hopColumns(h: Hop): Column[] {
  const by = `job, ${h.by}`;
  const count = sumRate(`${h.metric}_count`, by);
  return [
    { name: 'Requests/s', unit: 'reqps', q: { expr: count } },
    { name: 'Avg', unit: 's', q: { expr: `${sumRate(`${h.metric}_sum`, by)} / ${count}` } },
    { name: 'P99', unit: 's', q: { expr: hq(0.99, h.metric, by) } },
    {
      // RSS is per process; spread onto each hop row of that service so the table has one
      // row per hop (the merge transformation joins on identical label sets).
      name: 'RSS (service)',
      unit: 'bytes',
      q: { expr: `${count} * 0 + on (job) group_left max by (job) (process_resident_memory_bytes${sel()})` },
    },
  ];
}

export function httpVsGrpc(): dashboard.Dashboard {
  const b = newDashboard({
    uid: 'tailtrace-http-vs-grpc',
    title: 'tailtrace / HTTP vs gRPC',
    description: 'Per protocol hop: requests/s, mean, P99 and the RSS of the service, for HTTP and gRPC in and out.',
    tags: ['red', 'grpc', 'http'],
    variableMetric: 'process_resident_memory_bytes',
  });

  b.withRow(row('Per hop'));
  for (const h of HOPS) {
    b.withPanel(labelTable({
      title: h.title,
      description: `${h.description}: requests per second, mean and P99 latency (histogram estimate) over the rate window, and the resident memory of the service.`,
      unit: 's',
      height: 6,
      columns: hopColumns(h),
      labels: h.labels,
    }));
  }

  b.withRow(row('P99 per hop over time'))
    .withPanel(timeSeries({
      title: 'P99 per protocol hop',
      description: 'P99 (histogram estimate) of each hop kind per service: HTTP in, gRPC in, gRPC out, HTTP out.',
      unit: 's',
      width: 24,
      queries: [
        { expr: hq(0.99, 'http_server_request_duration_seconds', 'job'), legend: 'HTTP in {{job}}' },
        { expr: hq(0.99, 'rpc_server_duration_seconds', 'job'), legend: 'gRPC in {{job}}' },
        { expr: hq(0.99, 'rpc_client_duration_seconds', 'job'), legend: 'gRPC out {{job}}' },
        { expr: hq(0.99, 'http_client_request_duration_seconds', 'job'), legend: 'HTTP out {{job}}' },
      ],
    }))
    .withPanel(timeSeries({
      title: 'RSS per service',
      description: 'Resident set size of each service process.',
      unit: 'bytes',
      width: 24,
      queries: [{ expr: `max by (job, instance) (process_resident_memory_bytes${sel()})`, legend: '{{job}} {{instance}}' }],
    }));

  return finish(b);
}
