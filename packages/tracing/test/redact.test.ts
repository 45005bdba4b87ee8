// Nothing secret leaves: url.full on client spans (semconv's list, common secret names, the
// user's list, userinfo as REDACTED:REDACTED) and every URL we print.
import assert from 'node:assert/strict';
import http from 'node:http';
import { afterEach, test } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import { closeServer, listen, setup } from './helpers.ts';
import type { Harness } from './helpers.ts';
import { maskUrl, QueryRedactor, redactUserinfo, scrubSecrets, secretsOf } from '../src/redact.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

test('semconv keys, common secret names and percent-encoded or differently-cased keys are redacted; other values and order kept', () => {
  const r = new QueryRedactor();
  assert.equal(r.redact('/p?q=1&X-Amz-Signature=abc&X-Amz-Credential=c&X-Amz-Security-Token=t&AWSAccessKeyId=k&Signature=s&sig=z&X-Goog-Signature=g'),
    '/p?q=1&X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED&X-Amz-Security-Token=REDACTED&AWSAccessKeyId=REDACTED&Signature=REDACTED&sig=REDACTED&X-Goog-Signature=REDACTED');
  assert.equal(r.redact('/p?token=abc&api_key=k1&apikey=k2&access_token=a&password=p&client_secret=c&page=2'),
    '/p?token=REDACTED&api_key=REDACTED&apikey=REDACTED&access_token=REDACTED&password=REDACTED&client_secret=REDACTED&page=2');
  assert.equal(r.redact('/p?TOKEN=a&Api_Key=b&api%5Fkey=c'), '/p?TOKEN=REDACTED&Api_Key=REDACTED&api%5Fkey=REDACTED');
  assert.equal(r.redact('/p?token=&x=1&token'), '/p?token=&x=1&token', 'nothing to redact in an empty or missing value');
  assert.equal(r.redact('/p?tokens=1&mytoken=2'), '/p?tokens=1&mytoken=2', 'only whole names');
  assert.equal(r.redact('/p?a=1#token=x'), '/p?a=1#token=x', 'the fragment is not the query');
  const plain = '/p?a=1&b=2';
  assert.equal(r.redact(plain), plain);
  assert.equal(new QueryRedactor(['tenant_secret']).redact('/p?Tenant_Secret=x&a=1'), '/p?Tenant_Secret=REDACTED&a=1');
});

test('userinfo becomes REDACTED:REDACTED; an @ in the path is left alone', () => {
  assert.equal(redactUserinfo('http://user:pw@h:1/x'), 'http://REDACTED:REDACTED@h:1/x');
  assert.equal(redactUserinfo('https://token@h/x'), 'https://REDACTED:REDACTED@h/x');
  assert.equal(redactUserinfo('http://h/a@b'), 'http://h/a@b');
  assert.equal(maskUrl('http://u:p@[::1/v1?api_key=1'), 'http://REDACTED:REDACTED@[::1/v1?api_key=REDACTED');
});

test('secrets are scrubbed from messages: header values and URL credentials, also percent-decoded', () => {
  const secrets = secretsOf('http://svc:p%40ss@h/v1/traces', { authorization: 'Bearer abc123' });
  assert.equal(scrubSecrets('failed: Bearer abc123 for svc with p@ss', secrets), 'failed: REDACTED for REDACTED with REDACTED');
});

test('url.full on fetch and node:http client spans: secret query values and the user list redacted, the rest kept', async () => {
  h = setup({ redactQueryKeys: ['tenant_secret'] });
  const server = http.createServer((_req, res) => res.end('ok'));
  const port = await listen(server);
  try {
    const q = '?q=shoes&token=T0K&X-Amz-Signature=S1G&tenant_secret=TS&page=2';
    await (await fetch(`http://127.0.0.1:${port}/search${q}`)).text();
    await new Promise<void>((resolve, reject) => {
      http.get(`http://alice:PW@127.0.0.1:${port}/search${q}`, (res) => res.resume().on('end', resolve)).on('error', reject);
    });
  } finally {
    await closeServer(server);
  }
  const clients = (await h.spans()).filter((s) => s.kind === SpanKind.CLIENT);
  assert.equal(clients.length, 2);
  for (const s of clients) {
    const url = String(s.attributes['url.full']);
    assert.equal(url, `http://127.0.0.1:${port}/search?q=shoes&token=REDACTED&X-Amz-Signature=REDACTED&tenant_secret=REDACTED&page=2`);
    for (const secret of ['T0K', 'S1G', 'TS&', 'alice', 'PW']) assert.ok(!JSON.stringify(s.attributes).includes(secret), `${secret} in ${url}`);
  }
});
