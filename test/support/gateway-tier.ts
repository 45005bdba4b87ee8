// The scale-out Collector tier on loopback for tests: gateways on distinct loopback addresses
// (127.0.0.2, 127.0.0.3, ... one port, as pods behind a headless Service), agents whose DNS
// resolver looks the gateways' name up in a hosts file of the test's own (the Collector runs in
// a private mount namespace that sees it as /etc/hosts), and an endpoints controller that, like
// Kubernetes' (readiness probe -> EndpointSlice -> cluster DNS), lists only gateways whose
// health_check answers. Plus a reader for the Collector's own telemetry.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './collector.ts';
import { sleep } from './proc.ts';

/**
 * The command that runs `bin args` seeing `hostsFile` as its /etc/hosts: a user + mount namespace
 * of its own (unshare; no privileges where unprivileged user namespaces are allowed) with the
 * file bind-mounted over /etc/hosts, then exec, so the PID is the Collector's. Go's resolver reads
 * /etc/hosts before DNS and re-reads it when it changes (checked at most every 5 s).
 */
export function hostsNamespaceCommand(hostsFile: string, bin: string, args: string[]): [string, string[]] {
  return ['unshare', ['--user', '--map-root-user', '--mount', 'sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"', hostsFile, bin, ...args]];
}

let namespaces: boolean | undefined;
/** Whether hostsNamespaceCommand works here (unshare present, user namespaces allowed). */
export function hostsNamespaceAvailable(): boolean {
  if (namespaces !== undefined) return namespaces;
  const t = tempDir('tailtrace-ns-');
  try {
    const hosts = join(t.dir, 'hosts');
    writeFileSync(hosts, '127.0.0.9 tailtrace-ns-probe\n');
    const [cmd, argv] = hostsNamespaceCommand(hosts, 'cat', ['/etc/hosts']);
    const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 10_000 });
    namespaces = r.status === 0 && r.stdout.includes('tailtrace-ns-probe');
  } finally {
    t.cleanup();
  }
  return namespaces;
}

export interface Endpoint {
  /** Loopback address the gateway's OTLP receiver listens on. */
  ip: string;
  /** http://127.0.0.1:port/ of its health_check extension. */
  healthUrl: string;
}

export interface EndpointsController {
  /** Addresses listed right now. */
  listed(): string[];
  /** Every change: when, and the addresses listed from then on. */
  changes: { atMs: number; ips: string[] }[];
  stop(): Promise<void>;
}

/** The hosts file: `ip name` per listed endpoint. Written in place (the bind mount follows the inode). */
function writeHosts(file: string, name: string, ips: string[]): void {
  writeFileSync(file, `127.0.0.1 localhost\n${ips.map((ip) => `${ip} ${name}\n`).join('')}`);
}

/**
 * Probes every endpoint's health_check each `everyMs` and lists the healthy ones under `name` in
 * `hostsFile` (only when the set changes). Bounded: one probe per endpoint per round, 1 s timeout.
 */
export function startEndpointsController(hostsFile: string, name: string, endpoints: Endpoint[], everyMs = 500): EndpointsController {
  let listed = endpoints.map((e) => e.ip);
  const changes = [{ atMs: Date.now(), ips: listed }];
  writeHosts(hostsFile, name, listed);
  let running = true;
  const probe = async (e: Endpoint): Promise<boolean> => {
    try {
      return (await fetch(e.healthUrl, { signal: AbortSignal.timeout(1000) })).ok;
    } catch {
      return false;
    }
  };
  const loop = (async () => {
    while (running) {
      const healthy = await Promise.all(endpoints.map(probe));
      const ips = endpoints.filter((_, i) => healthy[i]).map((e) => e.ip);
      if (ips.join() !== listed.join()) {
        listed = ips;
        changes.push({ atMs: Date.now(), ips });
        writeHosts(hostsFile, name, ips);
      }
      await sleep(everyMs);
    }
  })();
  return {
    listed: () => listed,
    changes,
    async stop() {
      running = false;
      await loop;
    },
  };
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseLabels(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (let m = re.exec(s); m; m = re.exec(s)) out[m[1]!] = m[2]!.replace(/\\(.)/g, (_x, c: string) => (c === 'n' ? '\n' : c));
  return out;
}

/** Samples of a Prometheus text exposition (comments skipped). */
export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (m) out.push({ name: m[1]!, labels: parseLabels(m[2] ?? ''), value: Number(m[3]) });
  }
  return out;
}

/** The Collector's own metrics (its telemetry endpoint), or [] when it does not answer. */
export async function telemetry(url: string): Promise<Sample[]> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    return res.ok ? parseExposition(await res.text()) : [];
  } catch {
    return [];
  }
}

/** Sum of the samples named `name` whose labels include `match`. */
export function total(samples: Sample[], name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}
