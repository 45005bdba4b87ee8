// The two handlers every variant serves. `hello`: answer the ~1 KB item at once (what a
// framework costs). `realistic` (BENCH_HANDLER=realistic): ~1 ms of CPU work and one outgoing
// fetch to an upstream on the load generator's core, then the item: what instrumentation costs
// on a route that does something, with one more span per request (the fetch) where it traces one.
import { ITEM } from './payload.ts';

export const handler = process.env.BENCH_HANDLER === 'realistic' ? 'realistic' : 'hello';
const upstream = process.env.BENCH_UPSTREAM ?? 'http://127.0.0.1:4399/upstream';

/**
 * A fixed amount of CPU work, the same in every variant (about 1 ms on the 2-core machines this
 * bench runs on): an FNV-1a hash over the ~33 KB item text as bytes, repeated. Bytes, not the
 * string: a charCodeAt loop over the string cost 575..930 µs from one process to the next (how
 * V8 happened to optimize it). The hash stays a signed 32-bit integer inside the loop: with
 * `>>> 0` there, its values left V8's small-integer range, and once `work` was inlined into its
 * caller every step allocated a heap number, so the same work grew from 1 ms to 10 ms per request
 * as a server ran.
 */
const BYTES = new TextEncoder().encode(JSON.stringify(ITEM).repeat(32));
export function work(rounds = 27): number {
  let h = 0x811c9dc5 | 0;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < BYTES.length; i++) h = Math.imul(h ^ BYTES[i]!, 16777619);
  }
  return h >>> 0;
}

export type Item = typeof ITEM & { id: string; h?: number };

/** Answers with the item for `id`: at once (hello), or after the work and the fetch (realistic). */
export function answer(id: string, reply: (item: Item) => void, fail: (err: Error) => void): void {
  if (handler === 'hello') return reply({ ...ITEM, id });
  const h = work();
  fetch(upstream).then((res) => res.arrayBuffer()).then(() => reply({ ...ITEM, id, h }), fail);
}
