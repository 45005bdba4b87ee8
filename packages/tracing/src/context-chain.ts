// The contexts our instrumentations start requests in. The API's ROOT_CONTEXT derives every new
// context by copying a Map and building three closures (its BaseContext); a request derives two
// or three (extract, span), so that was a measurable share of the per-request cost. Here a
// context is one link (key, value, parent): setValue allocates a single small object and
// getValue walks the links, which stay few; past FLATTEN_AT links a context is flattened into a
// Map so lookups stay bounded whatever user code does. Any OpenTelemetry code takes these as it
// takes the API's (they implement its Context interface, keys are the API's symbols).
import type { Context } from '@opentelemetry/api';

const DELETED: unique symbol = Symbol('tailtrace.context.deleted');
const FLATTEN_AT = 16;

class ChainContext implements Context {
  readonly #parent: ChainContext | undefined;
  readonly #key: symbol | undefined;
  readonly #value: unknown;
  readonly #depth: number;
  /** Every value below and at this link, when the chain was flattened here. */
  readonly #snapshot: Map<symbol, unknown> | undefined;

  constructor(parent: ChainContext | undefined, key: symbol | undefined, value: unknown, snapshot?: Map<symbol, unknown>) {
    this.#parent = snapshot === undefined ? parent : undefined;
    this.#key = key;
    this.#value = value;
    this.#depth = snapshot !== undefined || parent === undefined ? 0 : parent.#depth + 1;
    this.#snapshot = snapshot;
  }

  getValue(key: symbol): unknown {
    for (let c: ChainContext | undefined = this; c !== undefined; c = c.#parent) {
      if (c.#snapshot !== undefined) return c.#snapshot.get(key);
      if (c.#key === key) return c.#value === DELETED ? undefined : c.#value;
    }
    return undefined;
  }

  setValue(key: symbol, value: unknown): Context {
    return this.#link(key, value);
  }

  deleteValue(key: symbol): Context {
    return this.#link(key, DELETED);
  }

  #link(key: symbol, value: unknown): ChainContext {
    if (this.#depth < FLATTEN_AT) return new ChainContext(this, key, value);
    const all = this.#entries();
    if (value === DELETED) all.delete(key);
    else all.set(key, value);
    return new ChainContext(undefined, undefined, undefined, all);
  }

  /** Every live value, newest link winning. */
  #entries(): Map<symbol, unknown> {
    const links: ChainContext[] = [];
    let c: ChainContext | undefined = this;
    for (; c !== undefined && c.#snapshot === undefined; c = c.#parent) links.push(c);
    const out = new Map<symbol, unknown>(c === undefined ? undefined : c.#snapshot);
    for (let i = links.length - 1; i >= 0; i--) {
      const l = links[i]!;
      if (l.#key === undefined) continue;
      if (l.#value === DELETED) out.delete(l.#key);
      else out.set(l.#key, l.#value);
    }
    return out;
  }
}

/** An empty context (as ROOT_CONTEXT is) whose descendants are links. */
export const CHAIN_ROOT: Context = new ChainContext(undefined, undefined, undefined);
