// The one decision about what a request path is: every spelling a handler, express or a
// browser could take to mean a path must come out as that path.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pathIs, pathUnder, requestTarget, reservedFilter } from '../src/request-path.ts';

describe('requestTarget', () => {
  const cases: Array<[string | undefined, string]> = [
    ['/debug/pprof/heap', '/debug/pprof/heap'],
    ['/debug/./pprof/heap', '/debug/pprof/heap'],
    ['/debug/%2e/pprof/heap', '/debug/pprof/heap'],
    ['/debug/%2E/pprof/heap', '/debug/pprof/heap'],
    ['/debug/x/../pprof/heap', '/debug/pprof/heap'],
    ['/debug/x/%2e%2e/pprof/heap', '/debug/pprof/heap'],
    ['/debug/x/.%2E/pprof/heap', '/debug/pprof/heap'],
    ['//debug/pprof/heap', '/debug/pprof/heap'],
    ['/debug%2fpprof/heap', '/debug/pprof/heap'],
    ['/debug%2Fpprof%2Fheap', '/debug/pprof/heap'],
    ['/debug%5cpprof%5Cheap', '/debug/pprof/heap'],
    ['/debug\\pprof\\heap', '/debug/pprof/heap'],
    ['/DEBUG/pprof/heap', '/DEBUG/pprof/heap'],
    ['/debug/pprof/./heap', '/debug/pprof/heap'],
    ['/debug/pprof//heap', '/debug/pprof/heap'],
    ['/debug/pprof/heap/', '/debug/pprof/heap'],
    ['/%64ebug/pprof/heap', '/debug/pprof/heap'],
    ['/../../debug/pprof/heap', '/debug/pprof/heap'],
    ['/de\tbug/pprof/heap', '/debug/pprof/heap'],
    ['http://evil.example/debug/./pprof/heap?gc=1', '/debug/pprof/heap'],
    ['HTTP://evil.example?gc=1', '/'],
    ['debug/pprof/heap', '/debug/pprof/heap'],
    ['/debug/pprof/heap#frag?x=1', '/debug/pprof/heap'],
    // Decoded once, as every handler does: a double-encoded dot is a literal `%2e` segment.
    ['/debug/%252e/pprof/heap', '/debug/%2e/pprof/heap'],
    // A stray % that is not an escape stays.
    ['/a%zz/b%', '/a%zz/b%'],
    ['', '/'],
    [undefined, '/'],
    ['/', '/'],
    ['*', '/*'],
  ];
  for (const [raw, want] of cases) {
    test(`${JSON.stringify(raw)} -> ${want}`, () => {
      assert.equal(requestTarget(raw).pathname, want);
    });
  }

  test('the query is the part after the first ?, without the fragment', () => {
    assert.equal(requestTarget('/debug/pprof/heap?gc=1&x=%2e').searchParams.get('gc'), '1');
    assert.equal(requestTarget('/debug/pprof/heap?gc=1&x=%2e').searchParams.get('x'), '.');
    assert.equal(requestTarget('/debug/pprof/heap?seconds=2#x').searchParams.get('seconds'), '2');
    assert.equal(requestTarget('/debug/pprof/heap#?gc=1').searchParams.get('gc'), null);
    assert.equal(requestTarget('/a?b?c=1').searchParams.get('b?c'), '1');
  });
});

describe('pathIs / pathUnder: case-insensitive, as express routes by default', () => {
  test('pathIs', () => {
    assert.equal(pathIs('/metrics', '/metrics'), true);
    assert.equal(pathIs('/METRICS', '/metrics'), true);
    assert.equal(pathIs('/metrics', '/Metrics'), true);
    assert.equal(pathIs('/metricsx', '/metrics'), false);
    assert.equal(pathIs('/metrics/x', '/metrics'), false);
  });
  test('pathUnder', () => {
    assert.equal(pathUnder('/debug/pprof', '/debug/pprof'), true);
    assert.equal(pathUnder('/Debug/PProf/heap', '/debug/pprof'), true);
    assert.equal(pathUnder('/debug/pprofile', '/debug/pprof'), false);
    assert.equal(pathUnder('/debug', '/debug/pprof'), false);
  });
});

describe('reservedFilter: the cheap test that lets every other request skip the parse', () => {
  const mayBeOurs = (raw: string | undefined, names: string[]) => reservedFilter(names)(raw);
  const names = ['debug', 'metrics'];
  test('anything that could name a reserved segment passes', () => {
    for (const raw of ['/debug/pprof/heap', '/DeBuG/x', '/x/../debug', '/%64ebug', '/a%2fb', '/metrics', '/METRICS?x', 'http://h/debug']) {
      assert.equal(mayBeOurs(raw, names), true, raw);
    }
  });
  test('ordinary requests do not', () => {
    for (const raw of ['/', '/users/1', '/api/orders/7?x=1', '/health', '/search?q=a%20b', '/login?next=/debug/pprof', '/a#/metrics']) {
      assert.equal(mayBeOurs(raw, names), false, raw);
    }
    assert.equal(mayBeOurs(undefined, names), false);
  });
  test('no reserved names: nothing is ours', () => {
    assert.equal(mayBeOurs('/debug/pprof/heap', []), false);
  });
  test('every spelling requestTarget maps under a reserved name passes the cheap test', () => {
    const spellings = ['/debug/./pprof/heap', '/debug/%2e/pprof/heap', '//debug/pprof/heap', '/debug%2fpprof/heap', '/DEBUG/pprof/heap',
      '/%64ebug/pprof/heap', '/de\tbug/pprof/heap', '/./metrics', '/%6detrics', '/x/../METRICS'];
    for (const raw of spellings) {
      const p = requestTarget(raw).pathname;
      assert.ok(pathUnder(p, '/debug') || pathIs(p, '/metrics'), raw);
      assert.equal(mayBeOurs(raw, names), true, raw);
    }
  });
});
