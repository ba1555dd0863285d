/**
 * `meshfl train --threads`: with 2 threads the process trains on worker replicas, prints the
 * same test accuracy as with 1 (gradients summed every step, --sync-every 1) or a close one
 * (local SGD, the default), and exits by itself when done (no worker keeps it alive: a
 * leaked thread would hang the child until the run timeout, a test failure).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BIN = path.resolve(import.meta.dirname, '../../cli/bin/meshfl.js');
/** Start-up of two tfjs backends and a short training on a loaded machine; a hang fails at this. */
const RUN_TIMEOUT_MS = 240_000;

async function train(threads: number, extra: readonly string[] = []): Promise<{ output: string; accuracy: number }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MESHFL_')));
  // 3000 MNIST samples (47 steps of 64): far from 100 %, so a different model would show.
  const args = [BIN, 'train', '--epochs', '0.05', '--threads', String(threads), '--seed', '3', ...extra];
  const { stdout, stderr } = await run(process.execPath, args, { env, timeout: RUN_TIMEOUT_MS });
  const output = `${stdout}\n${stderr}`;
  const m = /epoch 1\/1: .*test accuracy ([\d.]+)%/.exec(output);
  assert.ok(m, output);
  return { output, accuracy: Number(m[1]) };
}

test(
  'meshfl train --threads 2: same accuracy as 1 thread, and the process exits',
  { timeout: 3 * RUN_TIMEOUT_MS + 10_000 },
  async (t) => {
    const one = await train(1);
    const two = await train(2, ['--sync-every', '1']);
    const local = await train(2);
    assert.match(one.output, /, 1 thread$/m);
    assert.match(two.output, /, 2 threads \(sync every 1\)$/m);
    assert.match(local.output, /, 2 threads \(sync every 16\)$/m);
    t.diagnostic(
      `test accuracy ${one.accuracy}% (1 thread), ${two.accuracy}% (2 threads), ${local.accuracy}% (2 threads, local SGD)`,
    );
    assert.ok(Math.abs(one.accuracy - two.accuracy) <= 0.3, `${one.accuracy} vs ${two.accuracy}`);
    // 47 steps of local SGD are not the updates of one thread: close, not equal.
    assert.ok(Math.abs(one.accuracy - local.accuracy) <= 3, `${one.accuracy} vs ${local.accuracy}`);
  },
);
