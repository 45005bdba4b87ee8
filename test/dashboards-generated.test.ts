// The committed dashboards/*.json and dashboards/rules/*.yml are exactly what dashboards/src/build.ts generates: the test
// regenerates them into a temp dir and fails on any difference (edit the TypeScript, rerun
// `node --conditions=tailtrace-source dashboards/src/build.ts`, commit both).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot, tempDir } from './support/collector.ts';

test('dashboards/*.json are up to date with dashboards/src', () => {
  const t = tempDir('tailtrace-dash-');
  try {
    execFileSync(process.execPath, ['--conditions=tailtrace-source', join(repoRoot, 'dashboards', 'src', 'build.ts'), '--out', t.dir], { stdio: ['ignore', 'ignore', 'inherit'] });
    const generated = readdirSync(t.dir).filter((f) => f.endsWith('.json')).sort();
    const committed = readdirSync(join(repoRoot, 'dashboards')).filter((f) => f.endsWith('.json') && f !== 'package.json').sort();
    assert.deepEqual(committed, generated, 'the set of dashboard files');
    assert.equal(generated.length, 5);
    for (const f of generated) {
      assert.equal(readFileSync(join(repoRoot, 'dashboards', f), 'utf8'), readFileSync(join(t.dir, f), 'utf8'), `dashboards/${f} differs from what dashboards/src generates`);
    }
    // The Prometheus rule files, generated the same way (dashboards/src/rules.ts).
    const rules = readdirSync(join(t.dir, 'rules')).sort();
    assert.deepEqual(readdirSync(join(repoRoot, 'dashboards', 'rules')).sort(), rules, 'the set of rule files');
    assert.ok(rules.length > 0);
    for (const f of rules) {
      assert.equal(readFileSync(join(repoRoot, 'dashboards', 'rules', f), 'utf8'), readFileSync(join(t.dir, 'rules', f), 'utf8'), `dashboards/rules/${f} differs from what dashboards/src generates`);
    }
  } finally {
    t.cleanup();
  }
});
