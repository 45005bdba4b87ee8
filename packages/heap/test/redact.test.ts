// Redaction is safe by default: a child process plants a distinct secret in every place a string
// can live in a V8 heap (values, property keys, Map keys and values, closure variables and the
// values they capture, RegExp sources, concatenated and sliced strings, class, function and
// symbol names, and the script's own source), and none of them may be found in the output, in
// any encoding the file could hold it. The output is written beside the target and renamed; an
// output that is the input, by any name, is refused before a byte is written.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, linkSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HeapSnapshotError, analyze, readHeapSnapshot, redactSnapshot, retainerPaths } from '@tailtrace/heap';
import { tinySnapshot, tmp } from './fixtures.ts';

after(() => rmSync(tmp, { recursive: true, force: true }));

/** Where each secret lives in the heap; none is a substring of another. */
const SECRETS: Record<string, string> = {
  'a string value': 'tok_VALUE_a91f',
  'a property key': 'prop_KEY_3c8d',
  'a Map key': 'mapkey_SESSION_77e1',
  'a Map value': 'mapval_USER_12ab',
  'a closure variable': 'ctxvar_NAME_5e5e',
  'a value a closure captured': 'ctx_VALUE_9d9d',
  'a RegExp source': 'regex_SOURCE_4b4b',
  'the left of a concatenated string': 'cons_LEFT_5b5b',
  'the right of a concatenated string': 'cons_RIGHT_6f6f',
  'a sliced string': 'slice_PART_2a2a',
  'a class name': 'classname_CLASS_8c8c',
  'a function name': 'fnname_FUNC_1d1d',
  'a symbol description': 'symdesc_SYM_3e3e',
  'a string equal to a property name': 'dual_USE_0f0f',
  'source code only (a comment)': 'comment_ONLY_7a7a',
};

// Values are built at run time where V8 would otherwise keep only the literal in the source.
const PLANT = `const v8 = require('node:v8');
// ${SECRETS['source code only (a comment)']}
globalThis.value = ['tok', 'VALUE', 'a91f'].join('_');
globalThis.obj = {};
globalThis.obj['prop_KEY_3c8d'] = { n: 1 }; // (a small integer would be no heap object: no edge, no name)
globalThis.sessions = new Map([['mapkey_SESSION_77e1', { user: ['mapval', 'USER', '12ab'].join('_') }]]);
globalThis.handler = (() => { const ctxvar_NAME_5e5e = ['ctx', 'VALUE', '9d9d'].join('_'); return () => ctxvar_NAME_5e5e; })();
globalThis.re = /regex_SOURCE_4b4b/g;
globalThis.cons = ['cons', 'LEFT', '5b5b'].join('_') + String(process.pid).padStart(12, '0') + ['', 'cons', 'RIGHT', '6f6f'].join('_');
globalThis.sliced = ('x'.repeat(40) + ['slice', 'PART', '2a2a'].join('_') + 'y'.repeat(40)).slice(40, 55);
globalThis.inst = new (class classname_CLASS_8c8c { constructor() { this.f = 1; } })();
globalThis.fn = function fnname_FUNC_1d1d() { return 1; };
globalThis.sym = Symbol('symdesc_SYM_3e3e');
globalThis.dual = { dual_USE_0f0f: 1, copy: ['dual', 'USE', '0f0f'].join('_') };
v8.writeHeapSnapshot(process.argv[2]);
`;

/** Every way the file can spell `secret`: raw UTF-8, and with each character \\u-escaped. */
function spellings(secret: string): Buffer[] {
  return [Buffer.from(secret), Buffer.from(JSON.stringify(secret).slice(1, -1)), Buffer.from([...secret].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''))];
}

const found = (file: string, secret: string): boolean => {
  const bytes = readFileSync(file);
  return spellings(secret).some((s) => bytes.includes(s));
};

let planted: string;
before(() => {
  const script = join(tmp, 'plant.cjs');
  writeFileSync(script, PLANT);
  planted = join(tmp, 'planted.heapsnapshot');
  execFileSync(process.execPath, [script, planted], { stdio: ['ignore', 'ignore', 'inherit'] });
});

describe('redact: nothing planted survives the default', () => {
  test('every secret is in the snapshot before redaction (the test can fail)', () => {
    for (const [where, secret] of Object.entries(SECRETS)) assert.ok(found(planted, secret), `${where}: ${secret} is in the input`);
  });

  test('none is in the output; the output still reads as the same heap', async () => {
    const out = join(tmp, 'planted.redacted.heapsnapshot');
    const r = await redactSnapshot(planted, out);
    for (const [where, secret] of Object.entries(SECRETS)) assert.ok(!found(out, secret), `${where}: ${secret} must not survive`);
    const a = analyze(await readHeapSnapshot(planted));
    const b = analyze(await readHeapSnapshot(out));
    assert.deepEqual(b.classes.map((c) => [c.count, c.self, c.retained]), a.classes.map((c) => [c.count, c.self, c.retained]));
    assert.ok(r.namesHashed > 0 && r.valuesReplaced > 0);
  });

  test('--keep-names keeps names (readable paths) and still no value', async () => {
    const out = join(tmp, 'planted.kept.heapsnapshot');
    await redactSnapshot(planted, out, { keepNames: true });
    const values = ['a string value', 'a Map value', 'a value a closure captured', 'a RegExp source', 'the left of a concatenated string', 'the right of a concatenated string', 'a sliced string', 'a symbol description', 'source code only (a comment)'];
    for (const where of values) assert.ok(!found(out, SECRETS[where]!), `${where} must not survive`);
    for (const where of ['a property key', 'a class name', 'a function name']) assert.ok(found(out, SECRETS[where]!), `${where} is kept`);
    const s = await readHeapSnapshot(out);
    assert.match(retainerPaths(s, { className: 'classname_CLASS_8c8c' })[0]!.chain, /global \.inst -> classname_CLASS_8c8c/);
  });
});

describe('redact: the output is a new file', () => {
  const refusals: Array<[string, (input: string) => string]> = [
    ['the same path', (input) => input],
    ['a symlink to the input', (input) => {
      const link = `${input}.link`;
      symlinkSync(input, link);
      return link;
    }],
    ['a hard link to the input', (input) => {
      const link = `${input}.hard`;
      linkSync(input, link);
      return link;
    }],
    ['another spelling of the path', (input) => join(tmp, '.', '..', tmp.split('/').at(-1)!, input.split('/').at(-1)!)],
  ];
  for (const [name, outputOf] of refusals) {
    test(`refused: ${name} (the input was truncated to 0 bytes)`, async () => {
      const input = tinySnapshot(`self-${name.replace(/\W+/g, '-')}`);
      const before = readFileSync(input);
      const output = outputOf(input);
      await assert.rejects(redactSnapshot(input, output), (e: unknown) => e instanceof HeapSnapshotError && /is the input file; redact writes a new file/.test(e.message));
      assert.deepEqual(readFileSync(input), before, 'the input is untouched');
    });
  }

  test('nothing is left behind when reading fails, and an existing output is replaced whole', async () => {
    const bad = tinySnapshot('bad-for-redact', (p) => (p.snapshot['node_count'] = 99));
    const out = join(tmp, 'existing-output.heapsnapshot');
    writeFileSync(out, 'previous content');
    await assert.rejects(redactSnapshot(bad, out), HeapSnapshotError);
    assert.equal(readFileSync(out, 'utf8'), 'previous content', 'a failed redact leaves the old output');
    await redactSnapshot(tinySnapshot('good-for-redact'), out);
    assert.ok(JSON.parse(readFileSync(out, 'utf8')), 'replaced by a complete snapshot');
    assert.deepEqual(readdirSync(tmp).filter((f) => f.endsWith('.tmp')), [], 'no temporary file left');
    assert.ok(!existsSync(`${out}.tmp`));
  });
});
