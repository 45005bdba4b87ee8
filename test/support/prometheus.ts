// A real Prometheus (Debian's package) for tests: own config, own data dir, a free loopback
// port, exemplar storage and the remote-write receiver on. Targets come through file_sd, so
// they can be added once the services' ports are known.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startProc, waitFor } from './proc.ts';
import type { Proc } from './proc.ts';

export interface PromSeries {
  metric: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}

export interface PromExemplars {
  seriesLabels: Record<string, string>;
  exemplars: { labels: Record<string, string>; value: string; timestamp: number }[];
}

export interface Prometheus {
  url: string;
  port: number;
  dir: string;
  scrapeIntervalS: number;
  proc: Proc;
  /** Scrape `urls` (http://host:port/path) with the given job label (replaces that job's targets). */
  setTargets(job: string, urls: string[], labels?: Record<string, string>): void;
  query(expr: string, time?: number): Promise<PromSeries[]>;
  queryRange(expr: string, start: number, end: number, stepS: number): Promise<PromSeries[]>;
  exemplars(expr: string, start: number, end: number): Promise<PromExemplars[]>;
  labelValues(label: string, match?: string): Promise<string[]>;
  activeTargets(): Promise<{ labels: Record<string, string>; health: string; scrapeUrl: string; lastError: string }[]>;
  /** Pending and firing alerts (GET /api/v1/alerts), annotations expanded. */
  alerts(): Promise<PromAlert[]>;
  stop(): Promise<void>;
}

export function prometheusBinary(): string {
  const out = execFileSync('bash', [join(import.meta.dirname, '..', '..', 'scripts', 'ensure-prometheus.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return out.trim().split('\n').pop()!;
}

async function api<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { status: string; data: T; error?: string };
  if (body.status !== 'success') throw new Error(`${url}: ${body.error ?? res.status}`);
  return body.data;
}

/** The bundled rule file (dashboards/rules): loaded by default, since the dashboards read its recorded series. */
export const BUNDLED_RULES = join(import.meta.dirname, '..', '..', 'dashboards', 'rules', 'tailtrace.rules.yml');

export interface PromAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
  value: string;
}

export async function startPrometheus(opts: { scrapeIntervalS?: number; keepDir?: boolean; rules?: string[] } = {}): Promise<Prometheus> {
  const scrapeIntervalS = opts.scrapeIntervalS ?? 1;
  const bin = prometheusBinary();
  const dir = mkdtempSync(join(tmpdir(), 'tailtrace-prom-'));
  const sd = join(dir, 'targets');
  mkdirSync(sd);
  const config = [
    'global:',
    `  scrape_interval: ${scrapeIntervalS}s`,
    `  scrape_timeout: ${scrapeIntervalS}s`,
    `  evaluation_interval: ${scrapeIntervalS}s`,
    'storage:',
    '  exemplars:',
    '    max_exemplars: 100000',
    'rule_files:',
    ...(opts.rules ?? [BUNDLED_RULES]).map((f) => `  - '${f}'`),
    'scrape_configs:',
    '  - job_name: file_sd',
    '    file_sd_configs:',
    `      - files: ['${sd}/*.json']`,
    '        refresh_interval: 1s',
    '',
  ].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const port = await freePort();
  const proc = startProc(bin, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--enable-feature=exemplar-storage',
    '--web.enable-remote-write-receiver',
    '--storage.tsdb.retention.time=1h',
    '--log.level=warn',
  ], { logFile: join(dir, 'prometheus.log') });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor('Prometheus ready', async () => {
      if (proc.exited()) throw new Error(`prometheus exited:\n${proc.log()}`);
      return (await fetch(`${url}/-/ready`)).ok;
    }, 30_000);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return {
    url,
    port,
    dir,
    scrapeIntervalS,
    proc,
    setTargets(job, urls, labels = {}) {
      const groups = urls.map((u) => {
        const p = new URL(u);
        return { targets: [p.host], labels: { job, __metrics_path__: p.pathname, ...labels } };
      });
      const file = join(sd, `${job}.json`);
      writeFileSync(`${file}.tmp`, JSON.stringify(groups));
      renameSync(`${file}.tmp`, file);
    },
    async query(expr, time) {
      const u = new URL('/api/v1/query', url);
      u.searchParams.set('query', expr);
      if (time !== undefined) u.searchParams.set('time', String(time));
      return (await api<{ result: PromSeries[] }>(u.href)).result;
    },
    async queryRange(expr, start, end, stepS) {
      const u = new URL('/api/v1/query_range', url);
      u.searchParams.set('query', expr);
      u.searchParams.set('start', String(start));
      u.searchParams.set('end', String(end));
      u.searchParams.set('step', String(stepS));
      return (await api<{ result: PromSeries[] }>(u.href)).result;
    },
    async exemplars(expr, start, end) {
      const u = new URL('/api/v1/query_exemplars', url);
      u.searchParams.set('query', expr);
      u.searchParams.set('start', String(start));
      u.searchParams.set('end', String(end));
      return api<PromExemplars[]>(u.href);
    },
    async labelValues(label, match) {
      const u = new URL(`/api/v1/label/${encodeURIComponent(label)}/values`, url);
      if (match) u.searchParams.set('match[]', match);
      return api<string[]>(u.href);
    },
    async activeTargets() {
      return (await api<{ activeTargets: { labels: Record<string, string>; health: string; scrapeUrl: string; lastError: string }[] }>(`${url}/api/v1/targets?state=active`)).activeTargets;
    },
    async alerts() {
      return (await api<{ alerts: PromAlert[] }>(`${url}/api/v1/alerts`)).alerts;
    },
    async stop() {
      await proc.stop();
      if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
