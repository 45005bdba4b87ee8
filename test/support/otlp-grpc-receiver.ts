// A real OTLP/gRPC trace receiver of the test's own (grpc-js server on loopback), standing in for
// Tempo's distributor: it answers TraceService/Export as Tempo does and keeps what arrived, so a
// test can say which gateway sent which span. The Collector's OTLP exporter gzips by default;
// grpc-js decompresses. With `decode: false` it only counts spans (the throughput run).
import * as grpc from '@grpc/grpc-js';
import { countSpans, decodeTraceRequest } from './otlp-proto.ts';
import type { DecodedSpan } from './otlp-proto.ts';

const EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

export interface OtlpGrpcReceiver {
  /** host:port for an OTLP gRPC exporter's `endpoint`. */
  endpoint: string;
  spans: DecodedSpan[];
  /** Spans received, decoded or not. */
  count(): number;
  requests(): number;
  /** Keep decoding spans (true) or only count them. */
  setDecode(on: boolean): void;
  close(): Promise<void>;
}

export function startOtlpGrpcReceiver(opts: { decode?: boolean } = {}): Promise<OtlpGrpcReceiver> {
  const spans: DecodedSpan[] = [];
  let decode = opts.decode ?? true;
  let counted = 0;
  let requests = 0;
  const server = new grpc.Server();
  const identity = (b: Buffer) => b;
  server.addService({
    Export: {
      path: EXPORT_PATH,
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  }, {
    Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      requests++;
      try {
        if (decode) {
          const got = decodeTraceRequest(call.request);
          for (const s of got) spans.push(s);
          counted += got.length;
        } else {
          counted += countSpans(call.request);
        }
        // An empty ExportTraceServiceResponse: no partial_success, everything accepted.
        cb(null, Buffer.alloc(0));
      } catch (err) {
        cb({ code: grpc.status.INVALID_ARGUMENT, details: String(err) });
      }
    },
  });
  return new Promise((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
      if (err) return reject(err);
      resolve({
        endpoint: `127.0.0.1:${port}`,
        spans,
        count: () => counted,
        requests: () => requests,
        setDecode: (on) => { decode = on; },
        close: () => new Promise<void>((r) => {
          const force = setTimeout(() => { server.forceShutdown(); r(); }, 2000);
          server.tryShutdown(() => { clearTimeout(force); r(); });
        }),
      });
    });
  });
}
