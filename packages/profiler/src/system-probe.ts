// What the snapshot guard reads about the machine: memory headroom (cgroup and host), free disk,
// and the one call that writes a snapshot. The real readers are the default; tests inject a
// cgroup near its limit, a full disk or a writer that fails half way, which real parts cannot be
// made to show on demand.
import { readFile, statfs } from 'node:fs/promises';
import { freemem } from 'node:os';
import { writeHeapSnapshot } from 'node:v8';

export interface SystemProbe {
  /** Bytes the cgroup still lets this process's group grow (limit − usage, the tightest level); null: no limit. */
  cgroupAvailableBytes(): Promise<number | null>;
  /** Host memory that can be allocated without swapping (MemAvailable); null: unknown. */
  memAvailableBytes(): Promise<number | null>;
  /** Bytes an unprivileged writer can still put in the filesystem holding `dir`; null: unknown. */
  freeDiskBytes(dir: string): Promise<number | null>;
  /** Resident set size of this process now. */
  rssBytes(): number;
  /** Writes a V8 heap snapshot to `path` (synchronous: the process pauses). */
  writeHeapSnapshot(path: string): void;
}

// cgroup v1 reports "no limit" as a huge page-rounded number rather than 'max'.
const NO_LIMIT = 2 ** 60;

const readText = async (path: string): Promise<string | null> => {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
};

const readNumber = async (path: string): Promise<number | null> => {
  const t = await readText(path);
  if (t === null) return null;
  const s = t.trim();
  if (s === 'max') return Infinity;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
};

/** `/a/b/c` -> ['/a/b/c', '/a/b', '/a', '']: a limit set on any ancestor group binds too. */
export function cgroupAncestors(path: string): string[] {
  const parts = path.split('/').filter((p) => p !== '');
  const out: string[] = [];
  for (let i = parts.length; i >= 0; i--) out.push(i === 0 ? '' : `/${parts.slice(0, i).join('/')}`);
  return out;
}

/** Parses /proc/self/cgroup into the v2 path (`0::/x`) and the v1 memory controller's path. */
export function parseProcCgroup(text: string): { v2: string | null; v1Memory: string | null } {
  let v2: string | null = null;
  let v1Memory: string | null = null;
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === '0' && m[2] === '') v2 = m[3]!;
    else if (m[2]!.split(',').includes('memory')) v1Memory = m[3]!;
  }
  return { v2, v1Memory };
}

/** MemAvailable from /proc/meminfo text, in bytes; null when absent (kernels before 3.14). */
export function parseMemAvailable(text: string): number | null {
  const m = /^MemAvailable:\s+(\d+)\s*kB/m.exec(text);
  return m ? Number(m[1]) * 1024 : null;
}

async function cgroupHeadroom(root: string, paths: string[], limitFile: string, usageFile: string): Promise<number | null> {
  let best: number | null = null;
  for (const p of paths) {
    const limit = await readNumber(`${root}${p}/${limitFile}`);
    if (limit === null || limit >= NO_LIMIT) continue;
    const usage = await readNumber(`${root}${p}/${usageFile}`);
    if (usage === null) continue;
    const room = Math.max(0, limit - usage);
    best = best === null ? room : Math.min(best, room);
  }
  return best;
}

/**
 * Memory headroom from cgroup v2 (memory.max − memory.current) or v1 (memory.limit_in_bytes −
 * memory.usage_in_bytes), the tightest over the process's group and its ancestors as far as
 * they are visible (inside a container the mount root is usually the container's own group).
 */
export async function readCgroupAvailable(root = '/sys/fs/cgroup', procSelfCgroup = '/proc/self/cgroup'): Promise<number | null> {
  const self = await readText(procSelfCgroup);
  if (self === null) return null;
  const { v2, v1Memory } = parseProcCgroup(self);
  const v2Paths = v2 === null ? [''] : [...new Set([...cgroupAncestors(v2), ''])];
  const fromV2 = await cgroupHeadroom(root, v2Paths, 'memory.max', 'memory.current');
  if (fromV2 !== null) return fromV2;
  const v1Paths = v1Memory === null ? [''] : [...new Set([...cgroupAncestors(v1Memory), ''])];
  return cgroupHeadroom(`${root}/memory`, v1Paths, 'memory.limit_in_bytes', 'memory.usage_in_bytes');
}

/** The real machine: cgroup files, /proc/meminfo (os.freemem() elsewhere), statfs, v8.writeHeapSnapshot. */
export function systemProbe(): SystemProbe {
  return {
    cgroupAvailableBytes: () => readCgroupAvailable(),
    memAvailableBytes: async () => {
      const t = await readText('/proc/meminfo');
      return (t === null ? null : parseMemAvailable(t)) ?? freemem();
    },
    freeDiskBytes: async (dir) => {
      try {
        const s = await statfs(dir);
        return s.bavail * s.bsize;
      } catch {
        return null;
      }
    },
    rssBytes: () => process.memoryUsage.rss(),
    writeHeapSnapshot: (path) => {
      writeHeapSnapshot(path);
    },
  };
}
