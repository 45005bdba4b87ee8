import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '@tailtrace/cli';

test('cli --version prints the package version', async () => {
  assert.equal(await main(['--version']), 0);
});
