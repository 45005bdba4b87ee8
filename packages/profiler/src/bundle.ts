// Writing an evidence bundle so that a reader never sees half of one: everything goes into a
// dot-prefixed `.partial` directory (readers skip dot names), the snapshot into a temporary name
// inside it, and the directory is renamed into place only once manifest.json is written. Any
// failure removes what was written. Directories 0700, files 0600: a heap holds secrets.
import { chmod, lstat, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EvidenceManifest, EvidenceTriggerKind, OutcomeFile, SnapshotOutcome } from '@tailtrace/formats';

export const SNAPSHOT_FILE = 'heap.heapsnapshot';
const SNAPSHOT_TMP = '.heap.heapsnapshot.tmp';
/** A `.partial` directory this old belongs to a writer that died (an OOM kill mid-snapshot). */
export const STALE_PARTIAL_MS = 60 * 60_000;
const BUNDLE_NAME = /^\d{8}T\d{9}Z-[a-z_]+-\d+$/;

/** `<YYYYMMDDTHHMMSSmmmZ>-<trigger>-<pid>` (CONTRACTS.md): names sort by time. */
export function bundleName(atMs: number, trigger: EvidenceTriggerKind, pid: number): string {
  return `${new Date(atMs).toISOString().replace(/[-:.]/g, '')}-${trigger}-${pid}`;
}

export function isBundleName(name: string): boolean {
  return BUNDLE_NAME.test(name);
}

export interface SnapshotRequest {
  write(path: string): void;
  /** Filled into the outcome whatever happens (the guard's figures). */
  estimatedPeakRssBytes?: number;
  availableBytes?: number;
}

export interface WriteBundleInput {
  dir: string;
  atMs: number;
  trigger: EvidenceTriggerKind;
  pid: number;
  files: Array<{ name: string; data: string | Uint8Array }>;
  /** null: no snapshot; `outcome` says why (skipped or refused). */
  snapshot: SnapshotRequest | null;
  outcome: SnapshotOutcome;
  /** Builds the manifest once the snapshot outcome is known. */
  manifest(snapshot: SnapshotOutcome, snapshotFile: string | null): EvidenceManifest;
  /** Monotonic ms, for the pause. */
  clock(): number;
}

export interface WrittenBundle {
  name: string;
  path: string;
  manifest: EvidenceManifest;
  bytes: number;
}

const writeSecret = (path: string, data: string | Uint8Array) => writeFile(path, data, { mode: 0o600, flag: 'wx' });

/** Makes the evidence directory (0700 when this creates it). */
export async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

/** The snapshot step: a temp name, renamed when complete; on failure nothing is left and the outcome says why. */
function writeSnapshot(partial: string, req: SnapshotRequest, clock: () => number): { outcome: SnapshotOutcome; tmp: string } {
  const tmp = join(partial, SNAPSHOT_TMP);
  const base: SnapshotOutcome = { status: 'failed' };
  if (req.estimatedPeakRssBytes !== undefined) base.estimatedPeakRssBytes = req.estimatedPeakRssBytes;
  if (req.availableBytes !== undefined) base.availableBytes = req.availableBytes;
  const t0 = clock();
  try {
    req.write(tmp);
  } catch (err) {
    return { tmp, outcome: { ...base, pauseMs: Math.round(clock() - t0), reason: `snapshot failed: ${(err as Error).message}` } };
  }
  return { tmp, outcome: { ...base, status: 'written', pauseMs: Math.round(clock() - t0) } };
}

export async function writeBundle(input: WriteBundleInput): Promise<WrittenBundle> {
  await ensureDir(input.dir);
  // mkdir is atomic: the partial directory is this writer's alone. Same millisecond, same
  // trigger, same pid (concurrent captures): step the time so names stay unique and sorted.
  let step = 0;
  let partial = '';
  for (; ; step++) {
    partial = join(input.dir, `.${bundleName(input.atMs + step, input.trigger, input.pid)}.partial`);
    try {
      await mkdir(partial, { mode: 0o700 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || step >= 1000) throw err;
    }
  }
  try {
    await chmod(partial, 0o700);
    let bytes = 0;
    for (const f of input.files) {
      await writeSecret(join(partial, f.name), f.data);
      bytes += typeof f.data === 'string' ? Buffer.byteLength(f.data) : f.data.byteLength;
    }
    let outcome = input.outcome;
    let snapshotFile: string | null = null;
    if (input.snapshot !== null) {
      const r = writeSnapshot(partial, input.snapshot, input.clock);
      outcome = r.outcome;
      try {
        if (outcome.status === 'written') {
          const st = await stat(r.tmp);
          if (st.size === 0) throw new Error('snapshot file is empty');
          await chmod(r.tmp, 0o600);
          await rename(r.tmp, join(partial, SNAPSHOT_FILE));
          outcome = { ...outcome, bytes: st.size };
          bytes += st.size;
          snapshotFile = SNAPSHOT_FILE;
        }
      } catch (err) {
        outcome = { ...outcome, status: 'failed', reason: `snapshot failed: ${(err as Error).message}` };
      }
      if (snapshotFile === null) await rm(r.tmp, { force: true });
    }
    const manifest = input.manifest(outcome, snapshotFile);
    const text = `${JSON.stringify(manifest, null, 2)}\n`;
    await writeSecret(join(partial, 'manifest.json'), text);
    bytes += Buffer.byteLength(text);
    // rename() never replaces a non-empty directory: a name another writer finished first fails
    // with EEXIST/ENOTEMPTY, and the next millisecond is tried.
    for (; ; step++) {
      const name = bundleName(input.atMs + step, input.trigger, input.pid);
      const path = join(input.dir, name);
      try {
        await rename(partial, path);
        return { name, path, manifest, bytes };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if ((code !== 'EEXIST' && code !== 'ENOTEMPTY') || step >= 2000) throw err;
      }
    }
  } catch (err) {
    await rm(partial, { recursive: true, force: true });
    throw err;
  }
}

export const OUTCOME_FILE = 'outcome.json';

/**
 * Adds what was learnt about a bundle's trigger to its outcome.json (written to a temp name and
 * renamed, so a reader sees the old or the new file whole). The bundle may have been evicted by
 * the quota meanwhile: then there is nothing to annotate.
 */
export async function appendOutcome(bundlePath: string, entry: OutcomeFile['triggers'][number]): Promise<boolean> {
  const path = join(bundlePath, OUTCOME_FILE);
  let current: OutcomeFile = { triggers: [] };
  try {
    current = JSON.parse(await readFile(path, 'utf8')) as OutcomeFile;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  current.triggers.push(entry);
  const tmp = join(bundlePath, `.${OUTCOME_FILE}.tmp`);
  try {
    await rm(tmp, { force: true });
    await writeSecret(tmp, `${JSON.stringify(current, null, 2)}\n`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  await rename(tmp, path);
  return true;
}

async function dirBytes(path: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(path, { withFileTypes: true })) {
    try {
      const st = await lstat(join(path, e.name));
      total += e.isDirectory() ? await dirBytes(join(path, e.name)) : st.size;
    } catch {
      // removed meanwhile
    }
  }
  return total;
}

export interface QuotaResult {
  totalBytes: number;
  evicted: string[];
}

/**
 * Evicts the oldest bundles until the directory's bundles fit in quotaBytes. Never `keep` (the
 * bundle just written); the newest baseline only when nothing else is left to evict, since a
 * diff needs it. Only names this module writes are touched; stale `.partial` directories of a
 * writer that died are removed.
 */
export async function enforceQuota(dir: string, quotaBytes: number, keep: string, nowMs: number): Promise<QuotaResult> {
  const bundles: Array<{ name: string; bytes: number }> = [];
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const path = join(dir, e.name);
    if (e.name.startsWith('.') && e.name.endsWith('.partial') && isBundleName(e.name.slice(1, -'.partial'.length))) {
      try {
        if (nowMs - (await stat(path)).mtimeMs > STALE_PARTIAL_MS) await rm(path, { recursive: true, force: true });
        else total += await dirBytes(path);
      } catch {
        // gone meanwhile
      }
      continue;
    }
    if (!isBundleName(e.name)) continue;
    const bytes = await dirBytes(path);
    bundles.push({ name: e.name, bytes });
    total += bytes;
  }
  bundles.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const newestBaseline = bundles.filter((b) => b.name.includes('-baseline-')).pop()?.name;
  const evicted: string[] = [];
  for (const spareBaseline of [true, false]) {
    for (const b of bundles) {
      if (total <= quotaBytes) break;
      if (b.name === keep || evicted.includes(b.name) || (spareBaseline && b.name === newestBaseline)) continue;
      await rm(join(dir, b.name), { recursive: true, force: true });
      evicted.push(b.name);
      total -= b.bytes;
    }
  }
  return { totalBytes: total, evicted };
}
