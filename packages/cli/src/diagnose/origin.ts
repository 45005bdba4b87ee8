// Whose code an allocation site is: the service's own, a dependency's, or instrumentation and
// runtime (tailtrace, OpenTelemetry, Node) that a reader cannot act on in the service. And the
// service's root, so the report can show `routes/orders.js:40` instead of a deployment path.

export type Origin = 'service' | 'dependency' | 'tailtrace' | 'opentelemetry' | 'node';

/** Instrumentation and runtime: ranked after the service's code and its dependencies. */
export const isInstrumentation = (o: Origin): boolean => o === 'tailtrace' || o === 'opentelemetry' || o === 'node';

// tailtrace installed, or run from its own workspace (the demo): packages/<name>/(src|dist)/
const TAILTRACE = /\/node_modules\/@tailtrace\/|\/packages\/(?:tracing|metrics|profiler|instrument|heap|formats|cli)\/(?:src|dist)\//;
const OTEL = /\/node_modules\/@opentelemetry\//;

/** The origin of a source file as V8 names it (path, file: URL already stripped, node:…, or none). */
export function originOf(file: string): Origin {
  if (file === '' || file.startsWith('node:') || !file.includes('/')) return 'node';
  if (TAILTRACE.test(file)) return 'tailtrace';
  if (OTEL.test(file)) return 'opentelemetry';
  if (file.includes('/node_modules/')) return 'dependency';
  return 'service';
}

/** `@grpc/grpc-js` for /srv/app/node_modules/.pnpm/x/node_modules/@grpc/grpc-js/build/src/client.js. */
export function packageOf(file: string): string | null {
  const m = /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
  return m ? m[1]! : null;
}

/**
 * The service's root: the directory most service and dependency files share. Where a file lies
 * under node_modules, the directory holding that node_modules counts; files of the service count
 * by their own directory. Null when no file tells.
 */
export function serviceRoot(files: Iterable<string>): string | null {
  const votes = new Map<string, number>();
  const dirs: string[] = [];
  for (const f of files) {
    const o = originOf(f);
    if (o === 'node') continue;
    const at = f.indexOf('/node_modules/');
    if (at > 0) votes.set(f.slice(0, at), (votes.get(f.slice(0, at)) ?? 0) + 1);
    else if (o === 'service') dirs.push(f.slice(0, f.lastIndexOf('/')));
  }
  // the shortest node_modules parent that every service file lies under, else their common directory
  const parents = [...votes.keys()].sort((a, b) => a.length - b.length);
  const under = (dir: string, root: string): boolean => dir === root || dir.startsWith(`${root}/`);
  const root = parents.find((p) => dirs.every((d) => under(d, p))) ?? null;
  if (root !== null) return root;
  if (dirs.length === 0) return parents[0] ?? null;
  let common = dirs[0]!;
  for (const d of dirs) while (!under(d, common)) common = common.slice(0, Math.max(0, common.lastIndexOf('/')));
  return common === '' ? null : common;
}

/** Paths under `root` shown relative to it, everywhere in a line of text. */
export function relativeTo(root: string | null): (text: string) => string {
  if (root === null || root === '' || root === '/') return (t) => t;
  const prefix = `${root}/`;
  return (t) => t.split(prefix).join('');
}
