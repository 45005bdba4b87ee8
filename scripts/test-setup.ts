// Run by `npm test` (scripts/test.ts) before the test files, on Node 24: makes sure the real
// external parts the integration tests use are installed, and prints where and how long.
//   - Prometheus (Debian's package)                       scripts/ensure-prometheus.sh
//   - the tailtrace Collector built from collector/builder-config.yaml (cached by hash)
//                                                         scripts/ensure-collector.sh
//   - a Compose file parser (Debian's docker-compose)      scripts/ensure-compose.sh
// Idempotent: the second run only checks (well under a second for each part).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = process.env.TAILTRACE_ROOT ?? join(import.meta.dirname, '..');

function ensure(name: string, script: string, required: boolean): string | undefined {
  const t0 = performance.now();
  const r = spawnSync('bash', [join(root, 'scripts', script)], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 20 * 60_000 });
  const s = ((performance.now() - t0) / 1000).toFixed(1);
  const path = r.stdout?.trim().split('\n').pop();
  if (r.status !== 0 || !path) {
    process.stderr.write(`[test-setup] ${name}: ${required ? "FAILED" : "not available"} after ${s}s (${script})\n`);
    if (required) process.exit(1);
    return undefined;
  }
  process.stderr.write(`[test-setup] ${name}: ${path} (${s}s)\n`);
  return path;
}

ensure('prometheus', 'ensure-prometheus.sh', true);
ensure('otelcol', 'ensure-collector.sh', true);
ensure('docker-compose', 'ensure-compose.sh', true);
