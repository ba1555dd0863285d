/** Snapshot serving is rate-limited per requesting peer (a snapshot is the whole model). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FetchError } from '../../src/net/errors.ts';
import { Bus } from '../../src/net/inproc-bus.ts';
import { encodeSnapshotRequest } from '../../src/wire/snapshot.ts';
import { SNAPSHOT_PROTOCOL } from '../../src/wire/topic.ts';
import { peerKit, TASK } from './fixtures.ts';

test('a snapshot flood gets a burst, then "retry later", each refusal reported', { timeout: 120_000 }, async () => {
  const kit = await peerKit(1, { strategy: 'mean', perPeer: 100 });
  const bus = new Bus({ topology: { kind: 'full' } });
  const peer = kit.make(bus.join('p0'), 0, {
    snapshotRateLimit: { burst: 2, perSecond: 0.001, totalBurst: 100, totalPerSecond: 100 },
    minFreshUpdates: 0,
  });
  const rejected: string[] = [];
  peer.addEventListener('update:rejected', (e) => rejected.push(`${e.detail.stage}/${e.detail.reason}`));
  await peer.start();
  await peer.runRound(); // publishes seq 1: there is a snapshot to serve
  const flooder = bus.join('flooder');
  const request = encodeSnapshotRequest({ taskId: TASK, fingerprint: peer.schema.fingerprint });
  const results: string[] = [];
  for (let i = 0; i < 5; i++) {
    try {
      const bytes = await flooder.fetch('p0', SNAPSHOT_PROTOCOL, request);
      results.push(bytes.byteLength > 0 ? 'served' : 'empty');
    } catch (err) {
      results.push(err instanceof FetchError ? err.code : String(err));
    }
  }
  assert.deepEqual(results, ['served', 'served', 'remote-error', 'remote-error', 'remote-error']);
  assert.deepEqual(rejected, Array(3).fill('snapshot/rate-limited'));
  // Another peer has its own budget.
  assert.ok((await bus.join('other').fetch('p0', SNAPSHOT_PROTOCOL, request)).byteLength > 0);
  await peer.stop();
});
