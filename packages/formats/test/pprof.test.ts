import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { PprofError, decodePprof, encodePprof, gzipPprof } from '@tailtrace/formats';
import type { PprofProfile } from '@tailtrace/formats';
import { cleanupGo, goRun, parseTop, pprofTool } from '../../profiler/test/go-pprof.ts';

/** Uses every field the codec knows, including values that need the slow varint paths. */
function richProfile(): PprofProfile {
  return {
    sampleTypes: [{ type: 'inuse_objects', unit: 'count' }, { type: 'inuse_space', unit: 'bytes' }],
    samples: [
      { locationIds: [1, 2], values: [3, 4096], labels: [{ key: 'route', str: 'GET /users/:id' }, { key: 'bytes', num: 2048, numUnit: 'bytes' }] },
      { locationIds: [2], values: [-5, 2 ** 40 + 7] },
      { locationIds: [], values: [0, 0] },
    ],
    mappings: [{ id: 1, memoryStart: 0x400000, memoryLimit: 0x7fff_ffff_0000, fileOffset: 4096, filename: '/usr/bin/node', buildId: 'abc123', hasFunctions: true }],
    locations: [
      { id: 1, mappingId: 1, address: 0x401234, lines: [{ functionId: 7, line: 12, column: 5 }, { functionId: 8, line: 40 }] },
      { id: 2, mappingId: 0, address: 0, lines: [{ functionId: 8, line: 1 }] },
    ],
    functions: [
      { id: 7, name: 'allocate', systemName: 'allocate', filename: '/srv/app/ключ😀.ts', startLine: 10 },
      { id: 8, name: '(anonymous) app.ts:1', systemName: '', filename: '/srv/app/app.ts', startLine: 1 },
    ],
    timeNanos: 1_763_000_000_123_456_789,
    durationNanos: 30_000_000_000,
    periodType: { type: 'space', unit: 'bytes' },
    period: 524288,
    comments: ['made by a test', 'second comment'],
    defaultSampleType: 1,
  };
}

describe('encodePprof / decodePprof', () => {
  test('round-trips every field, negative and > 2^32 values, unicode strings', () => {
    const p = richProfile();
    const back = decodePprof(encodePprof(p));
    // timeNanos is above 2^53: equal as doubles, which is what the in-memory type promises.
    assert.deepEqual(back, p);
  });

  test('string table starts with "" and holds each string once', () => {
    const bytes = encodePprof(richProfile());
    const text = Buffer.from(bytes).toString('latin1');
    assert.equal(text.split('inuse_space').length - 1, 1, 'inuse_space interned once');
    assert.equal(bytes[0], 0x0a, 'first field is sample_type (1, length-delimited)');
  });

  test('gzipPprof output is gzip and decodes to the same profile', async () => {
    const p = richProfile();
    const gz = await gzipPprof(p);
    assert.equal(gz[0], 0x1f);
    assert.equal(gz[1], 0x8b);
    assert.deepEqual(Buffer.from(gunzipSync(gz)), Buffer.from(encodePprof(p)));
    assert.deepEqual(decodePprof(gz), p);
  });

  test('an empty profile (no samples) round-trips', () => {
    const p: PprofProfile = {
      sampleTypes: [], samples: [], mappings: [], locations: [], functions: [], timeNanos: 0, durationNanos: 0,
      periodType: null, period: 0, comments: [], defaultSampleType: -1,
    };
    assert.deepEqual(decodePprof(encodePprof(p)), p);
  });
});

// A real Go heap profile: written by runtime/pprof in a program built here with `go run`.
const GO_HEAP = `package main

import (
	"os"
	"runtime"
	"runtime/pprof"
)

var keep [][]byte

//go:noinline
func allocLeaky() {
	for i := 0; i < 2000; i++ {
		keep = append(keep, make([]byte, 4096))
	}
}

func main() {
	runtime.MemProfileRate = 4096
	allocLeaky()
	runtime.GC()
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		panic(err)
	}
	f.Close()
}
`;

describe('profiles written by Go', () => {
  let dir: string;
  let goFile: string;
  before(() => {
    dir = goRun(GO_HEAP, ['heap.pb.gz']);
    goFile = join(dir, 'heap.pb.gz');
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    cleanupGo();
  });

  test('decodePprof reads a runtime/pprof heap profile: types, labels, mappings, the allocating function', () => {
    const p = decodePprof(readFileSync(goFile));
    assert.deepEqual(p.sampleTypes.map((t) => `${t.type}/${t.unit}`), ['alloc_objects/count', 'alloc_space/bytes', 'inuse_objects/count', 'inuse_space/bytes']);
    assert.deepEqual(p.periodType, { type: 'space', unit: 'bytes' });
    assert.equal(p.period, 4096);
    assert.ok(p.mappings.length > 0 && p.mappings[0]!.hasFunctions);
    assert.ok(p.samples.some((s) => s.labels?.some((l) => l.key === 'bytes' && l.num === 4096)), 'bytes:[4096] label');
    const fn = p.functions.find((f) => f.name === 'main.allocLeaky');
    assert.ok(fn, 'main.allocLeaky present');
    assert.match(fn.filename, /main\.go$/);
    const locs = new Set(p.locations.filter((l) => l.lines.some((x) => x.functionId === fn.id)).map((l) => l.id));
    const inuse = p.samples.filter((s) => locs.has(s.locationIds[0]!)).reduce((a, s) => a + s.values[3]!, 0);
    // 2000 x 4 KiB retained; Go's own unsampling lands within a few % of it (observed -2%).
    assert.ok(Math.abs(inuse - 2000 * 4096) / (2000 * 4096) < 0.15, `inuse_space ${inuse}`);
  });

  test('re-encoding a Go profile gives bytes go tool pprof reads with the same totals', async () => {
    const ours = join(dir, 'ours.pb.gz');
    writeFileSync(ours, await gzipPprof(decodePprof(readFileSync(goFile))));
    const [a, b] = await Promise.all([
      pprofTool(['-top', '-unit=B', '-sample_index=inuse_space', goFile]),
      pprofTool(['-top', '-unit=B', '-sample_index=inuse_space', ours]),
    ]);
    const ta = parseTop(a);
    const tb = parseTop(b);
    assert.ok(ta.total > 0);
    assert.equal(tb.total, ta.total);
    assert.deepEqual(tb.rows, ta.rows);
    assert.equal(tb.rows[0]?.name, 'main.allocLeaky');
  });
});

describe('corrupt input', () => {
  const raw = encodePprof(richProfile());

  test('every truncation either throws PprofError or decodes; cuts inside a field throw', () => {
    let thrown = 0;
    for (let n = 1; n < raw.length; n++) {
      try {
        decodePprof(raw.subarray(0, n));
      } catch (err) {
        assert.ok(err instanceof PprofError, `prefix ${n}: ${String(err)}`);
        assert.doesNotMatch(err.message, /\n/);
        thrown++;
      }
    }
    // The string table comes after samples, so nearly every prefix lacks strings it refers to.
    assert.ok(thrown >= raw.length - 10, `${thrown} of ${raw.length - 1} prefixes rejected`);
    assert.throws(() => decodePprof(raw.subarray(0, 5)), /pprof: length \d+ at byte 1 runs past the end/);
  });

  test('truncated or damaged gzip throws PprofError', async () => {
    const gz = await gzipPprof(richProfile());
    assert.throws(() => decodePprof(gz.subarray(0, gz.length - 12)), PprofError);
    const bad = Buffer.from(gz);
    bad[20] = bad[20]! ^ 0xff;
    assert.throws(() => decodePprof(bad), PprofError);
  });

  test('specific inconsistencies are named in the message', () => {
    assert.throws(() => decodePprof(new Uint8Array()), /pprof: empty input/);
    assert.throws(() => decodePprof(Uint8Array.of(0x7b)), /unsupported wire type 3 for field 15/);
    assert.throws(() => decodePprof(Uint8Array.of(0x48, 0xff, 0xff)), /truncated varint/);
    assert.throws(() => decodePprof(Uint8Array.of(0x48, 1)), /no string table/);
    const p = richProfile();
    assert.throws(() => decodePprof(encodePprof({ ...p, samples: [{ locationIds: [99], values: [1, 2] }] })), /sample 0 refers to missing location 99/);
    assert.throws(() => decodePprof(encodePprof({ ...p, samples: [{ locationIds: [1], values: [1] }] })), /sample 0 has 1 values for 2 sample types/);
    assert.throws(() => decodePprof(encodePprof({ ...p, functions: p.functions.slice(1) })), /location 1 refers to missing function 7/);
    assert.throws(() => decodePprof(encodePprof({ ...p, locations: [...p.locations, p.locations[0]!] })), /duplicate location id 1/);
    // A function name index pointing past the table: field 5 { id=1, name=9 } plus a table of [""].
    assert.throws(() => decodePprof(Uint8Array.of(0x2a, 0x04, 0x08, 0x01, 0x10, 0x09, 0x32, 0x00)), /function name: string index 9 out of range/);
    assert.throws(() => encodePprof({ ...p, period: Number.NaN }), PprofError);
  });

  test('random byte flips never escape as anything but PprofError', () => {
    let seed = 12345;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    for (let i = 0; i < 2000; i++) {
      const b = Uint8Array.from(raw);
      for (let k = 0; k < 3; k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      try {
        decodePprof(b);
      } catch (err) {
        assert.ok(err instanceof PprofError, `iteration ${i}: ${String(err)}`);
      }
    }
  });
});
