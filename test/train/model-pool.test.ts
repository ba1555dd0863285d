/**
 * The model pool (src/train/model-pool.ts): peers that share a few models and rest as
 * arrays train, evaluate and merge to the same bits as peers with a model of their own.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { Weights } from '../../src/model/weights.ts';
import { Bus } from '../../src/net/inproc-bus.ts';
import { createModelPool, createPeer, createTaskTrainer } from '../../src/peer/create-peer.ts';
import type { PeerTrainer } from '../../src/train/trainer.ts';
import { HANG_GUARD, TINY_SPEC, tinyBackend, tinyData } from '../peer/tiny.ts';

before(tinyBackend);

function sameBits(a: Weights, b: Weights, what: string): void {
  assert.equal(a.length, b.length, what);
  for (const [i, l] of a.entries()) {
    const m = b[i];
    assert.ok(m !== undefined && m.name === l.name, what);
    assert.deepEqual(
      new Uint32Array(l.values.buffer, l.values.byteOffset, l.values.length),
      new Uint32Array(m.values.buffer, m.values.byteOffset, m.values.length),
      `${what}: ${l.name}`,
    );
  }
}

test(
  'pooled trainers match resident ones bit for bit: interleaved async training, merges, resets',
  { timeout: HANG_GUARD },
  async () => {
    // One model for three peers: their trainAsync calls interleave on it (a yield every 4 steps).
    const pool = await createModelPool(TINY_SPEC);
    const seeds = [1, 2, 3];
    const resident = seeds.map((seed) => createTaskTrainer(TINY_SPEC, { seed }));
    const pooled: PeerTrainer[] = seeds.map((seed) => pool.trainer(seed));
    const data = seeds.map((seed) => tinyData(seed));
    try {
      for (let round = 0; round < 4; round++) {
        for (const group of [resident, pooled]) {
          // Concurrent, as peers of one process train: a yield every step.
          await Promise.all(
            group.map((t, i) => {
              const d = data[i];
              assert.ok(d);
              return t.trainAsync(d.train, { steps: 5 }, {});
            }),
          );
          // A "merge": each takes the next one's layers, then evaluates.
          const after = group.map((t) => t.getWeights());
          group.forEach((t, i) => {
            const next = after[(i + 1) % after.length];
            assert.ok(next);
            t.setLayers(next.slice(0, 2));
          });
          if (round === 2) group[0]?.resetOptimizer();
        }
        for (const [i, r] of resident.entries()) {
          const p = pooled[i];
          const d = data[i];
          assert.ok(p && d);
          sameBits(r.getWeights(), p.getWeights(), `round ${round} peer ${i}`);
          assert.deepEqual(p.evaluate(d.validation), r.evaluate(d.validation));
          assert.deepEqual(
            p.evaluateWeights(r.getWeights(), d.validation),
            r.evaluateWeights(r.getWeights(), d.validation),
          );
        }
      }
      // The peers displaced each other on the one model (the interleaving was exercised).
      assert.ok(pool.loads > 12, `${pool.loads} loads`);
    } finally {
      for (const t of resident) t.release();
      for (const t of pooled) t.release();
      pool.close();
    }
  },
);

test('pooled Peers on the bus publish and merge what resident Peers do', { timeout: HANG_GUARD }, async () => {
  const run = async (pooled: boolean): Promise<{ weights: Weights[]; accuracy: number[] }> => {
    const bus = new Bus();
    const models = pooled ? await createModelPool(TINY_SPEC) : undefined;
    const peers = await Promise.all(
      [1, 2, 3].map((seed) =>
        createPeer(TINY_SPEC, {
          gossip: bus.join(`p${seed}`),
          data: tinyData(seed),
          seed,
          backend: false,
          minFreshUpdates: 2,
          // Every peer hears both others (three peers, no neighbour sampling to wait for).
          neighbours: 'all',
          deadline: { initialMs: 30_000, maxMs: 30_000 },
          ...(models ? { models } : {}),
        }),
      ),
    );
    try {
      for (const p of peers) await p.start();
      // Lockstep by hand: every peer runs its round concurrently, each waits for both others.
      for (let round = 0; round < 3; round++) await Promise.all(peers.map((p) => p.runRound()));
      return {
        weights: peers.map((p) => p.trainer.getWeights()),
        accuracy: peers.map((p) => p.lastAccuracy?.overall ?? Number.NaN),
      };
    } finally {
      await Promise.all(peers.map((p) => p.stop()));
      for (const p of peers) p.trainer.release();
      models?.close();
      await bus.stop();
    }
  };
  const resident = await run(false);
  const pooled = await run(true);
  for (const [i, w] of resident.weights.entries()) sameBits(w, pooled.weights[i] ?? [], `peer ${i}`);
  assert.deepEqual(pooled.accuracy, resident.accuracy);
});

test('createPeer refuses a pool built for other trainer settings, or with its own weights or training', async () => {
  const pool = await createModelPool(TINY_SPEC, { tuning: { momentum: 0.5 } });
  const bus = new Bus();
  try {
    const base = { gossip: bus.join('x'), data: tinyData(1), backend: false as const, models: pool };
    await assert.rejects(createPeer(TINY_SPEC, base), /another task or trainer tuning/);
    await assert.rejects(
      createPeer(TINY_SPEC, { ...base, trainer: { momentum: 0.5 }, weights: pool.trainer(1).getWeights() }),
      /starting weights are the pool's/,
    );
    const peer = await createPeer(TINY_SPEC, { ...base, trainer: { momentum: 0.5 } });
    peer.trainer.release();
  } finally {
    pool.close();
    await bus.stop();
  }
});
