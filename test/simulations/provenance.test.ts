/** Which code produced a result: commit and dirty flag from git, null when git cannot tell. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { codeVersion } from '../../simulations/provenance.ts';
import type { SimulationSetup } from '../../simulations/setup.ts';
import { runEnvironment } from '../../simulations/simulate.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'meshfl-provenance-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
}

test('a clean work tree: its commit, not dirty; a changed or untracked file: dirty', (t) => {
  const repo = path.join(tmp, 'repo');
  try {
    git(tmp, 'init', '-q', repo);
  } catch {
    t.skip('git is not installed');
    return;
  }
  writeFileSync(path.join(repo, 'a.txt'), 'a\n');
  git(repo, 'add', 'a.txt');
  git(repo, '-c', 'user.name=t', '-c', 'user.email=t@example.invalid', 'commit', '-q', '-m', 'a');
  const head = git(repo, 'rev-parse', 'HEAD');
  assert.deepEqual(codeVersion({ cwd: repo }), { commit: head, dirty: false });
  writeFileSync(path.join(repo, 'a.txt'), 'b\n');
  assert.deepEqual(codeVersion({ cwd: repo }), { commit: head, dirty: true });
  git(repo, 'checkout', '-q', '--', 'a.txt');
  writeFileSync(path.join(repo, 'new.txt'), 'n\n');
  assert.deepEqual(codeVersion({ cwd: repo }), { commit: head, dirty: true });
});

test('outside a work tree, or without git, both are null', () => {
  const plain = mkdtempSync(path.join(tmp, 'plain-'));
  assert.deepEqual(codeVersion({ cwd: plain, git: path.join(tmp, 'no-such-git') }), { commit: null, dirty: null });
  // os.tmpdir() is not inside a work tree on any machine this runs on.
  const outside = mkdtempSync(path.join(os.tmpdir(), 'meshfl-no-repo-'));
  try {
    assert.deepEqual(codeVersion({ cwd: outside }), { commit: null, dirty: null });
  } finally {
    rmSync(outside, { recursive: true, force: true });
  }
});

test("results.json's environment records the commit and the dirty flag", () => {
  const setup = { peers: [], evaluation: { y: new Int32Array(0) } } as unknown as SimulationSetup;
  const env = runEnvironment(setup, 'cpu');
  assert.ok('commit' in env && 'dirty' in env, JSON.stringify(env));
  assert.ok(env.commit === null || /^[0-9a-f]{40}$/.test(String(env.commit)));
  assert.ok(env.dirty === null || typeof env.dirty === 'boolean');
  assert.deepEqual({ commit: env.commit, dirty: env.dirty }, codeVersion());
});
