// A real OTLP/HTTP trace receiver for tests: it decodes what an exporter actually sent over the
// wire (OTLP protobuf or JSON) into flat spans.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeBody } from '../../packages/tracing/test/otlp-decode.ts';

export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  statusCode: number;
  startNs: bigint;
  endNs: bigint;
  attributes: Record<string, string | number | boolean>;
}

interface AnyValue { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean }
interface KeyValue { key: string; value: AnyValue }
interface OtlpSpan {
  traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number;
  startTimeUnixNano: string | number; endTimeUnixNano: string | number; attributes?: KeyValue[]; status?: { code?: number };
}
interface ExportRequest { resourceSpans?: { resource?: { attributes?: KeyValue[] }; scopeSpans?: { spans?: OtlpSpan[] }[] }[] }

/** OTLP JSON carries IDs as hex (the spec's JSON mapping); older encoders used base64. */
function id(v: string | undefined): string {
  if (!v) return '';
  return /^[0-9a-f]+$/i.test(v) && (v.length === 32 || v.length === 16) ? v.toLowerCase() : Buffer.from(v, 'base64').toString('hex');
}

function value(v: AnyValue): string | number | boolean {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  return '';
}

function attrs(kvs: KeyValue[] = []): Record<string, string | number | boolean> {
  return Object.fromEntries(kvs.map((kv) => [kv.key, value(kv.value)]));
}

export function decodeOtlpJson(body: ExportRequest): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const service = String(attrs(rs.resource?.attributes)['service.name'] ?? '');
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          service, traceId: id(s.traceId), spanId: id(s.spanId), parentSpanId: id(s.parentSpanId), name: s.name, kind: s.kind,
          statusCode: s.status?.code ?? 0, startNs: BigInt(s.startTimeUnixNano), endNs: BigInt(s.endTimeUnixNano), attributes: attrs(s.attributes),
        });
      }
    }
  }
  return out;
}

export interface OtlpReceiver {
  url: string;
  spans: ReceivedSpan[];
  /** Resolves when `predicate` holds for the spans received so far (polls), or rejects after timeoutMs. */
  waitFor(predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

export function startOtlpReceiver(opts: { status?: number; delayMs?: number } = {}): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = () => {
        if (opts.status && opts.status !== 200) {
          res.writeHead(opts.status).end();
          return;
        }
        if (req.url === '/v1/traces') {
          // http/protobuf (the default) or http/json, decoded into the same OTLP/JSON shape.
          spans.push(...decodeOtlpJson(decodeBody(req.headers['content-type'], Buffer.concat(chunks)) as ExportRequest));
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      };
      if (opts.delayMs) setTimeout(answer, opts.delayMs);
      else answer();
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        spans,
        waitFor: async (predicate, timeoutMs = 15_000) => {
          const until = Date.now() + timeoutMs;
          while (Date.now() < until) {
            if (predicate(spans)) return spans;
            await new Promise((r) => setTimeout(r, 100));
          }
          throw new Error(`OTLP receiver: condition not met within ${timeoutMs} ms (${spans.length} spans received)`);
        },
        close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
      });
    });
  });
}
