// server.address / server.port of a gRPC client call from the channel target, in every form
// grpc-js accepts (https://github.com/grpc/grpc/blob/master/doc/naming.md as grpc-js implements
// it): dns:host[:port], dns:///host[:port], dns://authority/host[:port] (the authority names a DNS
// server, not the peer), ipv4:addr[:port][,addr...], ipv6:[addr]:port or ipv6:addr,
// unix:path, unix:///absolute, and without a scheme host[:port] or [v6]:port. A missing port is
// 443, as grpc-js assumes. A scheme grpc-js does not know makes the whole target a DNS name, as
// grpc-js does ("localhost:50051" parses as scheme "localhost"); before the call connects,
// grpc-js reports the target in that resolved form ("dns:localhost:50051") as the call's peer.

export interface GrpcServerAddress {
  address: string;
  /** Undefined for unix sockets. */
  port: number | undefined;
}

const DEFAULT_PORT = 443;
const KNOWN_SCHEMES = new Set(['dns', 'ipv4', 'ipv6', 'unix']);
// grpc-js's own URI split: scheme, optional //authority/, path.
const URI = /^(?:([A-Za-z0-9+.-]+):)?(?:\/\/([^/]*)\/)?(.+)$/;

const cache = new Map<string, GrpcServerAddress | null>();

/** The peer named by a channel target, or undefined when grpc-js could not parse it either. */
export function parseGrpcTarget(target: string): GrpcServerAddress | undefined {
  let hit = cache.get(target);
  if (hit === undefined) {
    hit = parse(target) ?? null;
    // Targets come from client construction, so the set is small; the cap keeps it bounded anyway.
    if (cache.size < 1000) cache.set(target, hit);
  }
  return hit ?? undefined;
}

function parse(target: string): GrpcServerAddress | undefined {
  const m = URI.exec(target);
  if (m === null) return undefined;
  let scheme = m[1];
  const authority = m[2];
  let path = m[3] ?? '';
  if (scheme === undefined || !KNOWN_SCHEMES.has(scheme)) {
    scheme = 'dns';
    path = target;
  }
  if (scheme === 'unix') return { address: authority === '' ? '/' + path : path, port: undefined };
  const first = scheme === 'dns' ? path : (path.split(',')[0] ?? '');
  const hp = splitGrpcHostPort(first);
  if (hp === undefined || hp.host === '') return undefined;
  return { address: hp.host, port: hp.port ?? DEFAULT_PORT };
}

/** grpc-js's host:port split: [v6]:port, host:port (digits only), host, or a bare IPv6 address. */
function splitGrpcHostPort(s: string): { host: string; port: number | undefined } | undefined {
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end === -1) return undefined;
    const host = s.slice(1, end);
    if (!host.includes(':')) return undefined;
    if (end + 1 === s.length) return { host, port: undefined };
    if (s[end + 1] !== ':') return undefined;
    return toPort(s.slice(end + 2), host);
  }
  const parts = s.split(':');
  if (parts.length === 2) return toPort(parts[1] ?? '', parts[0] ?? '');
  return { host: s, port: undefined };
}

function toPort(p: string, host: string): { host: string; port: number } | undefined {
  if (!/^\d+$/.test(p)) return undefined;
  const port = Number(p);
  return port <= 65535 ? { host, port } : undefined;
}

/**
 * The connected peer grpc-js reports ("10.0.0.7:50051", "[::1]:50051", or a unix socket path) as
 * network.peer.address / network.peer.port; undefined before a connection ('unknown' or the target).
 */
export function parseGrpcPeer(peer: string): GrpcServerAddress | undefined {
  if (peer === '' || peer === 'unknown') return undefined;
  if (peer.startsWith('/')) return { address: peer, port: undefined };
  const hp = splitGrpcHostPort(peer);
  return hp === undefined || hp.port === undefined ? undefined : { address: hp.host, port: hp.port };
}
