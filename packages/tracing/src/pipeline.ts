// Where recording spans go when they start and end: our OTLP export (encoded on end) and the
// span processors a user configured, in the SDK's MultiSpanProcessor order. A user processor that
// throws is reported once and never reaches the request that ended the span.
import type { Context } from '@opentelemetry/api';
import type { Span as SdkSpan, SpanProcessor } from '@opentelemetry/sdk-trace';
import type { RecordingSpan, SpanPipeline } from './span.ts';

export interface SpanSink {
  onEnd(span: RecordingSpan): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
  /** Stops exporting at once and ends what is in flight (shutdown's time is up). */
  abandon(): void;
}

export class Pipeline implements SpanPipeline {
  readonly wantsStart: boolean;
  readonly #sinks: SpanSink[];
  readonly #processors: SpanProcessor[];
  readonly #report: (message: string) => void;
  #reported = false;

  /** `sinks` are ours (never throw); `processors` the user's. */
  constructor(sinks: SpanSink[], processors: SpanProcessor[], report: (message: string) => void) {
    this.#sinks = sinks;
    this.#processors = processors;
    this.#report = report;
    this.wantsStart = processors.length > 0;
  }

  #failed(what: string, err: unknown): void {
    if (this.#reported) return;
    this.#reported = true;
    this.#report(`a span processor's ${what} threw (${err instanceof Error ? err.message : String(err)}); further errors are not reported`);
  }

  onStart(span: RecordingSpan, parentContext: Context): void {
    for (const p of this.#processors) {
      try {
        p.onStart(span as unknown as SdkSpan, parentContext);
      } catch (err) {
        this.#failed('onStart', err);
      }
    }
  }

  onEnding(span: RecordingSpan): void {
    for (const p of this.#processors) {
      if (p.onEnding === undefined) continue;
      try {
        p.onEnding(span as unknown as SdkSpan);
      } catch (err) {
        this.#failed('onEnding', err);
      }
    }
  }

  onEnd(span: RecordingSpan): void {
    for (const s of this.#sinks) s.onEnd(span);
    for (const p of this.#processors) {
      try {
        p.onEnd(span);
      } catch (err) {
        this.#failed('onEnd', err);
      }
    }
  }

  async forceFlush(): Promise<void> {
    await Promise.all([...this.#sinks, ...this.#processors].map((p) => p.forceFlush().catch(() => undefined)));
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.#sinks, ...this.#processors].map((p) => p.shutdown().catch(() => undefined)));
  }

  /** Our sinks stop at once; a user's processor has no such call and is left to its own shutdown. */
  abandon(): void {
    for (const s of this.#sinks) s.abandon();
  }
}
