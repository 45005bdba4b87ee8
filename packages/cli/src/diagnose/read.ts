// Reading evidence bundles from disk. Every file is checked against evidence-format.ts before
// anything uses it; the first problem becomes an EvidenceError naming the file.
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { EVIDENCE_FORMAT, EVIDENCE_TRIGGER_KINDS, EVIDENCE_VERSION, GC_KINDS, OPERATION_KINDS, SNAPSHOT_STATUSES, decodePprof } from '@tailtrace/formats';
import type {
  EvidenceManifest, HeapFile, HistogramsFile, OperationRef, OutcomeFile, PprofProfile, RuntimeFile, TracesFile,
} from '@tailtrace/formats';
import { checker } from './check.ts';
import type { Checker } from './check.ts';
import { EvidenceError } from './errors.ts';
import { decodeWindow } from './hdr.ts';

/** One bundle, every file read and checked. The snapshot is only located: it is analyzed later. */
export interface EvidenceBundle {
  /** The bundle directory, as reached from the path the user gave. */
  dir: string;
  manifest: EvidenceManifest;
  histograms: HistogramsFile;
  runtime: RuntimeFile;
  heap: HeapFile;
  traces: TracesFile;
  /** Decoded heap.pb.gz, when the bundle has one. */
  heapProfile: PprofProfile | null;
  heapProfilePath: string | null;
  snapshotPath: string | null;
  /** outcome.json: what the service learnt about its trigger later (a blip); null when absent. */
  outcome: OutcomeFile | null;
}

/** `GET /orders/:id (http_server)`: how operations are named in messages. */
export const opLabel = (o: OperationRef): string => `${o.operation} (${o.kind})`;
const opKey = (o: OperationRef): string => `${o.kind}\u0000${o.operation}`;

function errnoProblem(err: unknown): string | null {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT') return 'missing';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory, not a file';
  if (code === 'ENOTDIR') return 'not a directory';
  return null;
}

/**
 * Largest bundle file read whole: far above what a service writes (a day of windows is a few
 * MiB), far below what would exhaust memory. Snapshots are streamed, never read whole.
 */
export const MAX_BUNDLE_FILE_BYTES = 256 * 1024 * 1024;

async function readBytes(file: string, what: string): Promise<Buffer> {
  try {
    const st = await stat(file);
    if (st.isFile() && st.size > MAX_BUNDLE_FILE_BYTES) throw new EvidenceError(file, `is ${st.size} bytes, more than the ${MAX_BUNDLE_FILE_BYTES / 1024 / 1024} MiB a bundle file can be`);
    return await readFile(file);
  } catch (err) {
    if (err instanceof EvidenceError) throw err;
    const p = errnoProblem(err);
    if (p) throw new EvidenceError(file, p === 'missing' ? `missing (${what})` : p);
    throw err;
  }
}

async function readJson(file: string, what: string): Promise<unknown> {
  const bytes = await readBytes(file, what);
  if (bytes.length === 0) throw new EvidenceError(file, 'empty file (bundle written on a full disk?)');
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (err) {
    throw new EvidenceError(file, `not JSON (${(err as Error).message.split('\n')[0]!.slice(0, 200)})`);
  }
}

function checkWindow(c: Checker, v: unknown, at: string): void {
  const w = c.obj(v, at);
  const start = c.num(w['startMs'], `${at}.startMs`);
  const end = c.num(w['endMs'], `${at}.endMs`);
  if (end < start) c.fail(at, `ends before it starts (${end} < ${start})`);
}

/** A file named in manifest.files must be a plain name inside the bundle (never a path out of it). */
function fileName(c: Checker, v: unknown, at: string): string {
  const s = c.str(v, at);
  if (s === '' || s === '.' || s === '..' || /[/\\\0]/.test(s)) c.fail(at, `must be a file name inside the bundle, got '${s}'`);
  return s;
}

function checkManifest(c: Checker, raw: unknown): EvidenceManifest {
  const m = c.obj(raw, '');
  if (m['format'] !== EVIDENCE_FORMAT) {
    c.fail('', `not a tailtrace evidence manifest (format ${m['format'] === undefined ? 'missing' : JSON.stringify(m['format'])}, expected '${EVIDENCE_FORMAT}')`);
  }
  if (m['version'] !== EVIDENCE_VERSION) {
    c.fail('', `bundle version ${JSON.stringify(m['version'] ?? null)}, this tailtrace reads ${EVIDENCE_VERSION}`);
  }
  c.str(m['service'], 'service');
  c.str(m['host'], 'host');
  c.num(m['pid'], 'pid');
  const created = c.str(m['createdAt'], 'createdAt');
  if (Number.isNaN(Date.parse(created))) c.fail('createdAt', `is not an ISO 8601 time: '${created}'`);
  c.obj(m['versions'], 'versions');
  const t = c.obj(m['trigger'], 'trigger');
  c.oneOf(t['kind'], 'trigger.kind', EVIDENCE_TRIGGER_KINDS);
  c.str(t['reason'], 'trigger.reason');
  checkWindow(c, m['window'], 'window');
  if (m['baselineWindow'] !== null) checkWindow(c, m['baselineWindow'], 'baselineWindow');
  const f = c.obj(m['files'], 'files');
  for (const k of ['histograms', 'runtime', 'heap', 'traces'] as const) fileName(c, f[k], `files.${k}`);
  for (const k of ['heapProfile', 'snapshot'] as const) if (f[k] !== null) fileName(c, f[k], `files.${k}`);
  if (f['outcome'] !== undefined) fileName(c, f['outcome'], 'files.outcome');
  const s = c.obj(m['snapshot'], 'snapshot');
  const status = c.oneOf(s['status'], 'snapshot.status', SNAPSHOT_STATUSES);
  if (status === 'written' && f['snapshot'] === null) c.fail('snapshot.status', "is 'written' but files.snapshot is null");
  return raw as EvidenceManifest;
}

function checkEncoded(c: Checker, v: unknown, at: string): void {
  checkWindow(c, v, at);
  const w = v as Record<string, unknown>;
  const count = c.num(w['count'], `${at}.count`);
  const encoded = c.str(w['encoded'], `${at}.encoded`);
  // '' is what the metrics side encodes for an operation with nothing recorded
  if (encoded === '' && count === 0) return;
  let total: number;
  try {
    total = decodeWindow(encoded).totalCount;
  } catch (err) {
    return c.fail(at, `is a corrupt HDR histogram: ${(err as Error).message}`);
  }
  if (total !== count) c.fail(at, `histogram holds ${total} values but count says ${count}`);
}

function checkHistograms(c: Checker, raw: unknown): HistogramsFile {
  const h = c.obj(raw, '');
  if (h['unit'] !== 'microseconds') c.fail('unit', `must be 'microseconds', got ${JSON.stringify(h['unit'] ?? null)}`);
  const seen = new Set<string>();
  c.arr(h['operations'], 'operations').forEach((v, i) => {
    const o = c.obj(v, `operations[${i}]`);
    const kind = c.oneOf(o['kind'], `operations[${i}].kind`, OPERATION_KINDS);
    const operation = c.str(o['operation'], `operations[${i}].operation`);
    const at = `operations[${i}] (${opLabel({ kind, operation })})`;
    if (seen.has(opKey({ kind, operation }))) c.fail(at, 'is listed twice');
    seen.add(opKey({ kind, operation }));
    checkEncoded(c, o['window'], `${at}.window`);
    c.arr(o['baseline'], `${at}.baseline`).forEach((b, j) => checkEncoded(c, b, `${at}.baseline[${j}]`));
  });
  return raw as HistogramsFile;
}

function checkRuntimeWindow(c: Checker, v: unknown, at: string): void {
  checkWindow(c, v, at);
  const w = v as Record<string, unknown>;
  const gc = c.obj(w['gc'], `${at}.gc`);
  for (const k of ['count', 'totalPauseMs', 'maxPauseMs'] as const) c.num(gc[k], `${at}.gc.${k}`);
  const byKind = c.obj(gc['byKind'], `${at}.gc.byKind`);
  for (const k of GC_KINDS) {
    const x = c.obj(byKind[k], `${at}.gc.byKind.${k}`);
    c.num(x['count'], `${at}.gc.byKind.${k}.count`);
    c.num(x['totalPauseMs'], `${at}.gc.byKind.${k}.totalPauseMs`);
  }
  const el = c.obj(w['eventLoop'], `${at}.eventLoop`);
  for (const k of ['p50Ms', 'p99Ms', 'maxMs', 'meanMs', 'utilization'] as const) c.num(el[k], `${at}.eventLoop.${k}`);
  c.arr(w['heapUsedAfterGcBytes'], `${at}.heapUsedAfterGcBytes`).forEach((x, i) => c.num(x, `${at}.heapUsedAfterGcBytes[${i}]`));
}

function checkRuntime(c: Checker, raw: unknown): RuntimeFile {
  const r = c.obj(raw, '');
  checkRuntimeWindow(c, r['window'], 'window');
  c.arr(r['baseline'], 'baseline').forEach((b, i) => checkRuntimeWindow(c, b, `baseline[${i}]`));
  return raw as RuntimeFile;
}

function checkHeap(c: Checker, raw: unknown): HeapFile {
  const h = c.obj(raw, '');
  const st = c.obj(h['statistics'], 'statistics');
  for (const [k, v] of Object.entries(st)) c.num(v, `statistics.${k}`);
  c.num(st['used_heap_size'], 'statistics.used_heap_size');
  c.arr(h['spaces'], 'spaces');
  const mu = c.obj(h['memoryUsage'], 'memoryUsage');
  for (const [k, v] of Object.entries(mu)) c.num(v, `memoryUsage.${k}`);
  c.arr(h['heapAfterGc'], 'heapAfterGc').forEach((v, i) => {
    const p = c.obj(v, `heapAfterGc[${i}]`);
    c.num(p['atMs'], `heapAfterGc[${i}].atMs`);
    c.num(p['usedBytes'], `heapAfterGc[${i}].usedBytes`);
  });
  if (h['sampling'] !== null) c.num(c.obj(h['sampling'], 'sampling')['intervalBytes'], 'sampling.intervalBytes');
  return raw as HeapFile;
}

function checkTraces(c: Checker, raw: unknown, histogramOps: Set<string>, histogramsFile: string): TracesFile {
  const t = c.obj(raw, '');
  const seen = new Set<string>();
  c.arr(t['operations'], 'operations').forEach((v, i) => {
    const o = c.obj(v, `operations[${i}]`);
    const kind = c.oneOf(o['kind'], `operations[${i}].kind`, OPERATION_KINDS);
    const operation = c.str(o['operation'], `operations[${i}].operation`);
    const at = `operations[${i}] (${opLabel({ kind, operation })})`;
    const key = opKey({ kind, operation });
    if (seen.has(key)) c.fail(at, 'is listed twice');
    seen.add(key);
    if (!histogramOps.has(key)) c.fail(at, `has no entry in ${histogramsFile}`);
    c.arr(o['slowest'], `${at}.slowest`).forEach((s, j) => {
      const x = c.obj(s, `${at}.slowest[${j}]`);
      const id = c.str(x['traceId'], `${at}.slowest[${j}].traceId`);
      if (!/^[0-9a-f]{32}$/i.test(id)) c.fail(`${at}.slowest[${j}].traceId`, `is not a 32-hex trace ID: '${id}'`);
      if (x['spanId'] !== undefined) c.str(x['spanId'], `${at}.slowest[${j}].spanId`);
      c.num(x['durationS'], `${at}.slowest[${j}].durationS`);
      c.num(x['atMs'], `${at}.slowest[${j}].atMs`);
    });
  });
  return raw as TracesFile;
}

function checkProfile(file: string, bytes: Uint8Array): PprofProfile {
  let p: PprofProfile;
  try {
    p = decodePprof(bytes);
  } catch (err) {
    throw new EvidenceError(file, `corrupt pprof (${(err as Error).message})`);
  }
  const types = p.sampleTypes.map((t) => t.type);
  if (!types.includes('inuse_space')) {
    throw new EvidenceError(file, `not a heap profile: no inuse_space sample type (has ${types.join(', ') || 'none'})`);
  }
  return p;
}

/** Reads one bundle directory (it must hold a manifest.json). */
export async function readBundle(dir: string): Promise<EvidenceBundle> {
  const mf = join(dir, 'manifest.json');
  const manifest = checkManifest(checker(mf), await readJson(mf, 'not an evidence bundle'));
  const f = manifest.files;
  const file = (name: string) => join(dir, name);
  const named = 'named in manifest.json';
  const histograms = checkHistograms(checker(file(f.histograms)), await readJson(file(f.histograms), named));
  const runtime = checkRuntime(checker(file(f.runtime)), await readJson(file(f.runtime), named));
  const heap = checkHeap(checker(file(f.heap)), await readJson(file(f.heap), named));
  const ops = new Set(histograms.operations.map(opKey));
  const traces = checkTraces(checker(file(f.traces)), await readJson(file(f.traces), named), ops, f.histograms);
  let heapProfile: PprofProfile | null = null;
  if (f.heapProfile !== null) heapProfile = checkProfile(file(f.heapProfile), await readBytes(file(f.heapProfile), named));
  if (f.snapshot !== null) {
    const sp = file(f.snapshot);
    let size: number;
    try {
      const st = await stat(sp);
      if (!st.isFile()) throw new EvidenceError(sp, 'is not a file');
      size = st.size;
    } catch (err) {
      if (err instanceof EvidenceError) throw err;
      const p = errnoProblem(err);
      if (p) throw new EvidenceError(sp, p === 'missing' ? `missing (${named})` : p);
      throw err;
    }
    if (size === 0) throw new EvidenceError(sp, 'empty file (0 bytes); the snapshot was never written');
  }
  return {
    dir,
    manifest,
    histograms,
    runtime,
    heap,
    traces,
    heapProfile,
    heapProfilePath: f.heapProfile === null ? null : file(f.heapProfile),
    snapshotPath: f.snapshot === null ? null : file(f.snapshot),
    outcome: f.outcome === undefined ? null : await readOutcome(file(f.outcome)),
  };
}

/** outcome.json is written later, and only for some bundles: absent is normal, malformed is not. */
async function readOutcome(path: string): Promise<OutcomeFile | null> {
  try {
    await stat(path);
  } catch (err) {
    if (errnoProblem(err) === 'missing') return null;
    throw err;
  }
  const c = checker(path);
  const o = c.obj(await readJson(path, 'named in manifest.json'), '');
  const list = o['triggers'];
  if (!Array.isArray(list)) c.fail('triggers', 'must be an array');
  const triggers = (list as unknown[]).map((t, i) => {
    const e = c.obj(t, `triggers[${i}]`);
    if (e['outcome'] !== 'blip') c.fail(`triggers[${i}].outcome`, `must be 'blip', got ${JSON.stringify(e['outcome'])}`);
    return { kind: c.str(e['kind'], `triggers[${i}].kind`), outcome: 'blip', reason: c.str(e['reason'], `triggers[${i}].reason`), decidedAt: c.str(e['decidedAt'], `triggers[${i}].decidedAt`) };
  });
  return { triggers } as OutcomeFile;
}

async function hasManifest(dir: string): Promise<boolean> {
  try {
    await stat(join(dir, 'manifest.json'));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return false;
    throw err;
  }
}

/**
 * Reads `path`: a bundle directory, its manifest.json, or a directory of bundles (every
 * subdirectory with a manifest.json; dot-prefixed names are bundles still being written and are
 * skipped). Returns the bundles oldest first (by manifest createdAt, then name), so newest last.
 */
export async function readEvidence(path: string): Promise<EvidenceBundle[]> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    const p = errnoProblem(err);
    if (p) throw new EvidenceError(path, p === 'missing' ? 'no such file or directory' : p);
    throw err;
  }
  if (st.isFile()) {
    if (basename(path) === 'manifest.json') return [await readBundle(dirname(path))];
    throw new EvidenceError(path, 'not an evidence bundle (a bundle is a directory with a manifest.json)');
  }
  if (await hasManifest(path)) return [await readBundle(path)];
  let names: string[];
  try {
    names = (await readdir(path)).filter((n) => !n.startsWith('.')).sort();
  } catch (err) {
    const p = errnoProblem(err);
    if (p) throw new EvidenceError(path, p);
    throw err;
  }
  const bundles: EvidenceBundle[] = [];
  for (const n of names) {
    const d = join(path, n);
    const s = await stat(d).catch(() => null); // a dangling link is not a bundle
    if (s?.isDirectory() && (await hasManifest(d))) bundles.push(await readBundle(d));
  }
  if (bundles.length === 0) throw new EvidenceError(path, 'not an evidence bundle (no manifest.json) and holds no bundles');
  return bundles.sort((a, b) => Date.parse(a.manifest.createdAt) - Date.parse(b.manifest.createdAt) || (a.dir < b.dir ? -1 : a.dir > b.dir ? 1 : 0));
}
