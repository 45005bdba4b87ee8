// Builds a heap of known shape and writes a snapshot: `node bench/heap-gen.ts OUT ITEMS`.
// 40 named classes, Maps keyed by strings, arrays, closures capturing per-item state, strings
// of several sizes. About 6 nodes and 17 edges per item; ~1.4 M items make a ~300 MB heap.
import { writeHeapSnapshot } from 'node:v8';

const [out = 'heap.heapsnapshot', itemsArg = '100000'] = process.argv.slice(2);
const items = Number(itemsArg);

type Ctor = new (j: number) => object;
const classes: Ctor[] = [];
for (let i = 0; i < 40; i++) {
  const name = `Class${String(i).padStart(2, '0')}`;
  // a real `class ClassNN` declaration per class, so V8 names instances after it
  const C = new Function(
    `return class ${name} { constructor(j) { this.id = j; this.label = 'item-${i}-' + j; this.pair = [j, j + 1]; this.next = null; } }`,
  )() as Ctor;
  classes.push(C);
}

const maps: Map<string, object>[] = [];
for (let i = 0; i < 16; i++) maps.push(new Map());
const handlers: Array<() => number> = [];
const blobs: string[] = [];
let prev: { next: object | null } | null = null;
for (let j = 0; j < items; j++) {
  const C = classes[j % 40]!;
  const obj = new C(j) as { next: object | null };
  if (j % 7 === 0 && prev) prev.next = obj;
  prev = obj;
  maps[j % 16]!.set(`key:${j}`, obj);
  if (j % 2 === 0) {
    const captured = { j };
    handlers.push(() => captured.j + 1);
  }
  if (j % 50 === 0) blobs.push('b'.repeat(200 + (j % 1000)) + j);
}
(globalThis as Record<string, unknown>).benchState = { maps, handlers, blobs };
const file = writeHeapSnapshot(out);
process.stdout.write(`${file}\n`);
