// The snapshot guard's arithmetic and the real system readers. The cost model is checked against
// a real snapshot of a real heap (the calibration bench's own child process).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SNAPSHOT_COST, estimateSnapshotCost, systemProbe } from '@tailtrace/profiler';
import { DISK_MARGIN_BYTES, checkSnapshotResources } from '../src/guard.ts';
import type { GuardInput } from '../src/guard.ts';
import { cgroupAncestors, parseMemAvailable, parseProcCgroup, readCgroupAvailable } from '../src/system-probe.ts';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

describe('estimateSnapshotCost', () => {
  test('scales with heap used by the calibrated constants', () => {
    const a = estimateSnapshotCost(100 * MiB);
    const b = estimateSnapshotCost(300 * MiB);
    assert.equal(a.peakRssGrowthBytes, Math.ceil(100 * MiB * SNAPSHOT_COST.peakRssPerUsedByte));
    assert.equal(a.pauseMs, Math.ceil(100 * SNAPSHOT_COST.pauseMsPerUsedMiB));
    assert.equal(a.fileBytes, Math.ceil(100 * MiB * SNAPSHOT_COST.fileBytesPerUsedByte));
    assert.ok(Math.abs(b.peakRssGrowthBytes / a.peakRssGrowthBytes - 3) < 1e-6);
    assert.deepEqual(estimateSnapshotCost(-5), { peakRssGrowthBytes: 0, pauseMs: 0, fileBytes: 0 });
  });

  test("covers issue #4's measurements (300 MB: 2.5 GB peak, 23 s; 1 GB: 8.5 GB, 87 s)", () => {
    for (const [used, peak, pauseMs] of [[300e6, 2.5e9, 23_000], [1e9, 8.5e9, 87_000]] as const) {
      const e = estimateSnapshotCost(used);
      assert.ok(e.peakRssGrowthBytes >= peak, `peak ${e.peakRssGrowthBytes} < ${peak}`);
      assert.ok(e.pauseMs >= pauseMs, `pause ${e.pauseMs} < ${pauseMs}`);
    }
  });

  test('covers a real snapshot of a real ~40 MiB heap (file size, peak RSS growth)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tailtrace-guard-'));
    try {
      const child = fileURLToPath(new URL('../../../bench/snapshot-cost-child.ts', import.meta.url));
      const r = spawnSync(process.execPath, ['--expose-gc', child, 'mixed', '40', join(dir, 'x.heapsnapshot')], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      const m = JSON.parse(r.stdout) as { usedHeapBytes: number; fileBytes: number; peakGrowthBytes: number; pauseMs: number };
      const e = estimateSnapshotCost(m.usedHeapBytes);
      assert.ok(e.fileBytes >= m.fileBytes, `file: estimated ${e.fileBytes} < actual ${m.fileBytes}`);
      assert.ok(e.peakRssGrowthBytes >= m.peakGrowthBytes, `peak: estimated ${e.peakRssGrowthBytes} < actual ${m.peakGrowthBytes}`);
      // and not absurdly above (the margin is ~15-20% over the worst mix; mixed is ~1.5x below it)
      assert.ok(e.peakRssGrowthBytes < 3 * m.peakGrowthBytes && e.fileBytes < 3 * m.fileBytes);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('checkSnapshotResources', () => {
  const ok: GuardInput = {
    usedHeapBytes: 100 * MiB, heapSizeLimit: 4 * GiB, heapLimitRatio: 0.85, rssBytes: 300 * MiB,
    cgroupAvailableBytes: null, memAvailableBytes: 16 * GiB, freeDiskBytes: 100 * GiB, quotaBytes: GiB, maxPauseMs: 30_000,
  };
  const cost = estimateSnapshotCost(ok.usedHeapBytes);

  test('allows when everything fits, reporting peak and reachable RSS', () => {
    const d = checkSnapshotResources(ok);
    assert.ok(d.allowed);
    assert.equal(d.estimatedPeakRssBytes, ok.rssBytes + cost.peakRssGrowthBytes);
    assert.equal(d.availableBytes, ok.rssBytes + 16 * GiB);
  });

  const refused = (g: Partial<GuardInput>, pattern: RegExp) => {
    const d = checkSnapshotResources({ ...ok, ...g });
    assert.equal(d.allowed, false);
    if (!d.allowed) assert.match(d.reason, pattern);
    return d;
  };

  test('refuses near the heap limit', () => {
    refused({ heapSizeLimit: 110 * MiB }, /heap near its limit \(91% of 110 MiB\)/);
  });
  test('refuses a pause over maxPauseMs', () => {
    refused({ maxPauseMs: cost.pauseMs - 1 }, /estimated pause 11\.0 s > maxPauseMs 11\.0 s/);
  });
  test('refuses when the cgroup headroom is smaller than the peak growth (the tighter of cgroup and host)', () => {
    const d = refused({ cgroupAvailableBytes: cost.peakRssGrowthBytes - 1 }, /left before the cgroup limit/);
    assert.equal(d.availableBytes, ok.rssBytes + cost.peakRssGrowthBytes - 1);
    assert.equal(d.estimatedPeakRssBytes, ok.rssBytes + cost.peakRssGrowthBytes);
    // just enough room: allowed
    assert.ok(checkSnapshotResources({ ...ok, cgroupAvailableBytes: cost.peakRssGrowthBytes }).allowed);
  });
  test('refuses when host MemAvailable is the tighter bound', () => {
    refused({ cgroupAvailableBytes: 64 * GiB, memAvailableBytes: 500 * MiB }, /1200 MiB > 500 MiB left before the available memory/);
  });
  test('refuses when memory cannot be read at all', () => {
    refused({ memAvailableBytes: null }, /available memory unknown/);
  });
  test('refuses a file larger than free disk minus the margin, or than the quota', () => {
    refused({ freeDiskBytes: cost.fileBytes + DISK_MARGIN_BYTES - 1 }, /> free disk .* minus 64 MiB margin/);
    assert.ok(checkSnapshotResources({ ...ok, freeDiskBytes: cost.fileBytes + DISK_MARGIN_BYTES }).allowed);
    refused({ quotaBytes: cost.fileBytes - 1 }, /> evidence quota/);
    refused({ freeDiskBytes: null }, /free disk unknown/);
  });
});

describe('systemProbe (real readers)', () => {
  test('reads host memory, cgroup headroom and free disk of this machine', async () => {
    const p = systemProbe();
    const mem = await p.memAvailableBytes();
    assert.ok(mem !== null && mem > 0 && mem <= totalmem(), `MemAvailable ${mem}`);
    const cg = await p.cgroupAvailableBytes();
    assert.ok(cg === null || cg >= 0);
    const disk = await p.freeDiskBytes(tmpdir());
    assert.ok(disk !== null && disk > 0);
    assert.equal(await p.freeDiskBytes('/nonexistent/tailtrace'), null);
    assert.ok(p.rssBytes() > 10 * MiB);
  });

  test('parses /proc/self/cgroup (v1 and v2 lines), /proc/meminfo and cgroup ancestry', () => {
    assert.deepEqual(parseProcCgroup('12:pids:/x\n4:memory:/kubepods/pod1/c1\n0::/kubepods/pod1/c1\n'), { v2: '/kubepods/pod1/c1', v1Memory: '/kubepods/pod1/c1' });
    assert.deepEqual(parseProcCgroup('0::/\n'), { v2: '/', v1Memory: null });
    assert.deepEqual(parseProcCgroup('5:cpu,memory:/a\n'), { v2: null, v1Memory: '/a' });
    assert.deepEqual(cgroupAncestors('/a/b'), ['/a/b', '/a', '']);
    assert.deepEqual(cgroupAncestors('/'), ['']);
    assert.equal(parseMemAvailable('MemTotal: 100 kB\nMemAvailable:   2048 kB\n'), 2 * MiB);
    assert.equal(parseMemAvailable('MemTotal: 100 kB\n'), null);
    let real: string | null = null;
    try {
      real = readFileSync('/proc/meminfo', 'utf8');
    } catch {
      // not Linux
    }
    if (real !== null) assert.ok((parseMemAvailable(real) ?? 0) > 0);
  });

  test('cgroup headroom: v2 and v1 layouts, the tightest ancestor, no limit', async () => {
    // A cgroup tree laid out in a temp dir: the machine running the tests has no limit to show.
    const root = mkdtempSync(join(tmpdir(), 'tailtrace-cgroup-'));
    const put = (rel: string, text: string) => {
      mkdirSync(join(root, rel, '..'), { recursive: true });
      writeFileSync(join(root, rel), text);
    };
    try {
      put('self-v2', '0::/kubepods/pod1/c1\n');
      put('fs/kubepods/pod1/c1/memory.max', 'max\n');
      put('fs/kubepods/pod1/c1/memory.current', '100\n');
      put('fs/kubepods/pod1/memory.max', String(900 * MiB));
      put('fs/kubepods/pod1/memory.current', String(700 * MiB));
      put('fs/kubepods/memory.max', String(4 * GiB));
      put('fs/kubepods/memory.current', String(1 * GiB));
      assert.equal(await readCgroupAvailable(join(root, 'fs'), join(root, 'self-v2')), 200 * MiB);
      // usage above the limit (reclaim pending) is no room, not negative room
      put('fs/kubepods/pod1/memory.current', String(1000 * MiB));
      assert.equal(await readCgroupAvailable(join(root, 'fs'), join(root, 'self-v2')), 0);
      // v1 only: limit_in_bytes; the 'unlimited' page-rounded maximum means no limit
      put('self-v1', '4:memory:/docker/abc\n0::/\n');
      put('v1/memory/docker/abc/memory.limit_in_bytes', String(512 * MiB));
      put('v1/memory/docker/abc/memory.usage_in_bytes', String(300 * MiB));
      put('v1/memory/memory.limit_in_bytes', '9223372036854771712');
      put('v1/memory/memory.usage_in_bytes', String(2 * GiB));
      assert.equal(await readCgroupAvailable(join(root, 'v1'), join(root, 'self-v1')), 212 * MiB);
      rmSync(join(root, 'v1/memory/docker'), { recursive: true });
      assert.equal(await readCgroupAvailable(join(root, 'v1'), join(root, 'self-v1')), null);
      assert.equal(await readCgroupAvailable(join(root, 'v1'), join(root, 'missing')), null);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
