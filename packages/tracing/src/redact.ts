// What must never leave the process as written: credentials in URLs (userinfo), secret query
// values, and header values. Used for `url.full` on client spans (once per traced request, so the
// query scan allocates only when it finds something to redact) and for every line we print.

/** Semantic conventions' list for url.full / url.query (semconv 1.45; "subject to change"). */
export const SEMCONV_SENSITIVE_QUERY_KEYS: readonly string[] = [
  'X-Amz-Signature', 'X-Amz-Credential', 'X-Amz-Security-Token', 'AWSAccessKeyId', 'Signature', 'sig', 'X-Goog-Signature',
];

/**
 * Names that carry credentials in the wild (OAuth, API keys, sessions, signed URLs). Matched,
 * like the semconv list, without regard to case: redacting a harmless value costs nothing,
 * exporting a token does.
 */
export const COMMON_SECRET_QUERY_KEYS: readonly string[] = [
  'token', 'access_token', 'refresh_token', 'id_token', 'auth_token', 'private_token', 'jwt',
  'api_key', 'apikey', 'api-key', 'x-api-key', 'key', 'client_secret', 'secret',
  'password', 'passwd', 'pwd', 'auth', 'authorization', 'signature', 'credential', 'credentials',
  'session', 'sessionid', 'session_id',
];

export const REDACTED = 'REDACTED';

/** Lower-cased lookup of the keys whose query values are redacted. */
export class QueryRedactor {
  readonly #keys: ReadonlySet<string>;
  readonly #minLen: number;
  readonly #maxLen: number;

  constructor(extra: readonly string[] = []) {
    const all = [...SEMCONV_SENSITIVE_QUERY_KEYS, ...COMMON_SECRET_QUERY_KEYS, ...extra].map((k) => k.toLowerCase()).filter((k) => k !== '');
    this.#keys = new Set(all);
    this.#minLen = Math.min(...all.map((k) => k.length));
    this.#maxLen = Math.max(...all.map((k) => k.length));
  }

  /** Whether target[start, end) names a sensitive key; allocates only for keys of a plausible length. */
  #sensitive(target: string, start: number, end: number): boolean {
    const encoded = target.indexOf('%', start);
    if (encoded === -1 || encoded >= end) {
      if (end - start < this.#minLen || end - start > this.#maxLen) return false;
      return this.#keys.has(target.slice(start, end).toLowerCase());
    }
    const key = safeDecode(target.slice(start, end));
    return key.length >= this.#minLen && key.length <= this.#maxLen && this.#keys.has(key.toLowerCase());
  }

  /** "/p?a=1&token=x" -> "/p?a=1&token=REDACTED"; returns the input itself when nothing matches. */
  redact(target: string): string {
    const q = target.indexOf('?');
    if (q === -1) return target;
    const hash = target.indexOf('#', q);
    const end = hash === -1 ? target.length : hash;
    let out = '';
    let last = 0;
    let start = q + 1;
    while (start <= end) {
      let amp = target.indexOf('&', start);
      if (amp === -1 || amp > end) amp = end;
      const eq = target.indexOf('=', start);
      if (eq !== -1 && eq < amp && eq > start && amp > eq + 1 && this.#sensitive(target, start, eq)) {
        out += target.slice(last, eq + 1) + REDACTED;
        last = amp;
      }
      start = amp + 1;
    }
    return last === 0 ? target : out + target.slice(last);
  }
}

/** "scheme://user:pass@host/..." -> "scheme://REDACTED:REDACTED@host/..." (semconv's form for url.full). */
export function redactUserinfo(url: string): string {
  const scheme = url.indexOf('://');
  const from = scheme === -1 ? 0 : scheme + 3;
  const at = url.indexOf('@', from);
  if (at === -1) return url;
  // The '@' must be in the authority, before the path, query or fragment starts.
  for (let i = from; i < at; i++) {
    const c = url.charCodeAt(i);
    if (c === 0x2f /* / */ || c === 0x3f /* ? */ || c === 0x23 /* # */) return url;
  }
  return `${url.slice(0, from)}${REDACTED}:${REDACTED}${url.slice(at)}`;
}

const defaultRedactor = new QueryRedactor();

/** A URL (valid or not) safe to print: userinfo and secret query values replaced. */
export function maskUrl(url: string): string {
  return defaultRedactor.redact(redactUserinfo(url));
}

/**
 * Replaces every occurrence of the given secrets (header values, URL credentials) in a message
 * we are about to print: error texts from sockets and libraries may echo what they were given.
 */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 3 && out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The secret parts of an endpoint and header set: what scrubSecrets must never let through. */
export function secretsOf(url: string, headers: Record<string, string>): string[] {
  const out = Object.values(headers).filter((v) => v.trim() !== '');
  try {
    const u = new URL(url);
    for (const part of [u.username, u.password]) if (part !== '') out.push(part, safeDecode(part));
  } catch {
    // not a URL: maskUrl covers what can be recognized in it
  }
  return out;
}
