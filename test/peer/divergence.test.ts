/**
 * A local training that diverges (NaN/Infinity in the model) must not end the peer or reach
 * the wire: the peer restores the round's start model, reports an error and goes on.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { Dataset } from '../../src/data/dataset.ts';
import { allFinite } from '../../src/model/weights.ts';
import { Bus } from '../../src/net/inproc-bus.ts';
import { createModelPool, createTaskTrainer } from '../../src/peer/create-peer.ts';
import type { LocalTraining } from '../../src/peer/peer.ts';
import type { ModelPool } from '../../src/train/model-pool.ts';
import type { PeerTrainer, TrainAmount, TrainResult } from '../../src/train/trainer.ts';
import { decodeHeader } from '../../src/wire/message.ts';
import { HANG_GUARD, modelFor, Puppet, record, TINY_SPEC, tinyBackend, tinyPeer } from './tiny.ts';

before(tinyBackend);

for (const kind of ['resident', 'pooled'] as const) {
  test(
    `a diverged local training is undone, reported, and the peer goes on (${kind} model)`,
    { timeout: HANG_GUARD },
    async () => {
      const pool: ModelPool | undefined = kind === 'pooled' ? await createModelPool(TINY_SPEC) : undefined;
      try {
        await diverged(pool === undefined ? createTaskTrainer(TINY_SPEC, { seed: 1 }) : pool.trainer(1));
      } finally {
        pool?.close();
      }
    },
  );
}

async function diverged(trainer: PeerTrainer): Promise<void> {
  const bus = new Bus();
  let diverge = true;
  // Real steps, then (in the first round only) one value blown up as a diverged step would.
  const training: LocalTraining = {
    async trainAsync(data: Dataset, amount: TrainAmount): Promise<TrainResult> {
      const result = trainer.train(data, amount);
      if (diverge) {
        // getWeights is read-only (a pooled trainer's resting arrays): change a copy.
        const w = trainer.getWeights().map((l) => ({ ...l, values: l.values.slice() }));
        const first = w[0];
        assert.ok(first);
        first.values[0] = Number.NaN;
        trainer.setWeights(w);
        diverge = false;
      }
      return result;
    },
  };
  const a = tinyPeer(bus.join('a'), { trainer, training });
  const log = record(a);
  await a.start();
  const p = new Puppet(bus, 'p', a.schema);
  const heard: number[] = [];
  p.onReceive((m) => {
    if (m.from === 'a') heard.push(decodeHeader(m.data).seq);
  });
  const start = trainer.getWeights();

  await p.send(modelFor(a.schema, 0.5, 1));
  await bus.flush();
  const r0 = await a.runRound();
  assert.equal(r0.round, 0);
  assert.equal(log.errors.length, 1);
  assert.match(log.errors[0]?.message ?? '', /local training diverged.*non-finite weights after 2 steps/);
  assert.ok(allFinite(trainer.getWeights()));
  // The published update is the round's start model, which the puppet could decode.
  await bus.flush();
  assert.deepEqual(heard, [1]);

  // The next round trains normally (no new error) and moves the model.
  await p.send(modelFor(a.schema, 0.5, 2));
  await bus.flush();
  const r1 = await a.runRound();
  assert.equal(r1.round, 1);
  assert.equal(log.errors.length, 1);
  assert.ok(allFinite(trainer.getWeights()));
  assert.notDeepEqual(trainer.getWeights()[0]?.values, start[0]?.values);
  await a.stop();
  trainer.release();
}
