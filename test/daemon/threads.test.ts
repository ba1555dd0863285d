/**
 * A daemon training on two threads (resources.threads: 2, node/data-parallel): its rounds
 * train and lower the loss, SIGTERM stops it mid-round with exit 0 (the replicas stop after
 * the same step and their workers are closed; a leaked worker would keep the process alive
 * until the wait's timeout).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, test } from 'node:test';
import { DaemonProcess, killAll, smallConfig, tempDir, waitFor, writeConfig } from './harness.ts';

const tmp = tempDir('meshfl-daemon-threads-');
after(async () => {
  await killAll();
  tmp.remove();
});

test('resources.threads 2: rounds train on worker replicas; SIGTERM exits 0', { timeout: 240_000 }, async (t) => {
  const config = writeConfig(tmp.dir, 'a.json', {
    ...smallConfig(path.join(tmp.dir, 'a'), 0),
    // Alone: rounds close at the deadline; long enough local training to be stopped mid-way.
    round: { localSteps: 40, minFreshUpdates: 1, deadline: { initialMs: 300, minMs: 100, maxMs: 300 } },
    resources: { batchSize: 16, backend: 'wasm', threads: 2 },
  });
  const d = new DaemonProcess(['--config', config]);
  const started = await d.waitForLog((l) => l.msg === 'peer started', 'peer started');
  assert.equal(started.threads, 2, d.tail());
  await waitFor(
    () => d.rounds().length >= 3 || d.exit !== undefined,
    '3 rounds',
    undefined,
    () => d.tail(),
  );
  const losses = d.rounds().map((r) => r.trainLoss as number);
  t.diagnostic(`train loss per round: ${losses.join(', ')}`);
  assert.ok(losses.every(Number.isFinite), d.tail());
  assert.ok((losses.at(-1) as number) < losses[0], `the loss falls: ${losses.join(', ')}`);
  d.signal('SIGTERM');
  assert.deepEqual(await d.exited, { code: 0, signal: null }, d.tail());
});
