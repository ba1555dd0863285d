/**
 * Continuity of one real daemon process across SIGKILLs: its seq never goes backwards even
 * when every checkpoint is corrupt (the high-water mark in peer.seq survives), unusable
 * checkpoints are quarantined and pruned instead of taking `keep` slots, a fresh start says
 * so in the log, and the lock of the killed process is taken over.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { DataStore, QUARANTINE_KEEP } from '../../node/daemon/store.ts';
import { decodeModelFile } from '../../src/model/model-file.ts';
import { DaemonProcess, killAll, smallConfig, tempDir, waitFor, writeConfig } from './harness.ts';

const tmp = tempDir('meshfl-daemon-continuity-');
after(async () => {
  await killAll();
  tmp.remove();
});

const dataDir = path.join(tmp.dir, 'a');
const config = writeConfig(tmp.dir, 'a.json', {
  ...smallConfig(dataDir, 0),
  // Alone: rounds close at the deadline; keep them short.
  round: { localSteps: 2, minFreshUpdates: 1, deadline: { initialMs: 300, minMs: 100, maxMs: 300 } },
  checkpoints: { keep: 2, every: 1 },
});

async function runUntilRounds(rounds: number): Promise<{ d: DaemonProcess; seq: number; peerId: string }> {
  const d = new DaemonProcess(['--config', config]);
  await waitFor(
    () => d.rounds().length >= rounds || d.exit !== undefined,
    `${rounds} rounds`,
    undefined,
    () => d.tail(),
  );
  assert.equal(d.exit, undefined, d.tail());
  const status = await d.status();
  return { d, seq: status.seq as number, peerId: status.peerId as string };
}

async function kill(d: DaemonProcess): Promise<void> {
  d.signal('SIGKILL');
  await d.exited;
}

test(
  'seq never goes backwards; corrupt checkpoints are quarantined; a fresh start is logged',
  { timeout: 240_000 },
  async (t) => {
    const first = await runUntilRounds(3);
    assert.ok(first.seq >= 3, `published ${first.seq}`);
    await kill(first.d);
    assert.ok(existsSync(path.join(dataDir, 'daemon.lock')), 'SIGKILL leaves the lock behind');
    const store = new DataStore(dataDir, 2);
    assert.ok(store.seqMark(first.peerId).seq >= first.seq, 'the high-water mark covers every published seq');

    // Every checkpoint corrupt (and one more with a higher round): a fresh start that keeps the identity.
    const files = store.checkpointFiles();
    assert.ok(files.length >= 1);
    for (const f of files) writeFileSync(f, 'corrupt');
    writeFileSync(path.join(store.checkpointDir, 'round-000009999.mflm'), 'junk');
    const second = await runUntilRounds(2);
    const fresh = second.d.logs.find((l) => l.msg === 'starting from the initial model');
    assert.ok(fresh, `a fresh start is logged\n${second.d.tail()}`);
    assert.match(String(fresh.reason), /no usable checkpoint \(\d+ quarantined\)/);
    assert.ok((fresh.resumeAfterSeq as number) >= first.seq, `resumes after ${fresh.resumeAfterSeq} >= ${first.seq}`);
    const skipped = second.d.logs.filter((l) => l.msg === 'skipping an unusable checkpoint');
    assert.equal(skipped.length, files.length + 1);
    assert.ok(skipped.every((l) => typeof l.quarantined === 'string'));
    assert.equal(second.peerId, first.peerId, 'the identity is kept');
    assert.ok(second.seq > first.seq, `seq went on: ${first.seq} -> ${second.seq}`);
    await kill(second.d);

    // Only the fresh run's checkpoints remain in the keep slots; the quarantine is bounded.
    for (const f of store.checkpointFiles()) {
      const meta = decodeModelFile(readFileSync(f), f).meta;
      assert.ok((meta.round as number) < 100, `${f} is from the fresh run`);
    }
    assert.ok(store.quarantined().length <= QUARANTINE_KEEP);

    // Resumed from the fresh run's checkpoint: seq still above everything before.
    const third = await runUntilRounds(1);
    assert.ok(
      third.d.logs.some((l) => l.msg === 'resumed from checkpoint'),
      third.d.tail(),
    );
    assert.ok(third.seq > second.seq, `seq went on: ${second.seq} -> ${third.seq}`);
    t.diagnostic(`seqs across restarts: ${first.seq} -> ${second.seq} -> ${third.seq}`);
    third.d.signal('SIGTERM');
    assert.deepEqual(await third.d.exited, { code: 0, signal: null });
  },
);
