/**
 * Writing your own merge rule. A Strategy is a pure function from this peer's weights and
 * its neighbours' latest models (candidates) to its next weights; the MergeContext gives
 * the local evaluator, familiar classes, round and a seeded rng. This one keeps the
 * candidates that do at least as well as our own model on our validation split, then
 * takes the sample-weighted average of them and us.
 *
 * Run: node examples/custom-strategy.ts   (three peers on the in-process Bus; no network)
 */
import {
  Bus,
  type Candidate,
  createPeer,
  type Layer,
  type MergeContext,
  makeSynthetic,
  parseTaskSpec,
  partitionDataset,
  peerDataFor,
  type Strategy,
  type Weights,
} from 'meshfl';

/** Neighbours no worse than us (by overall accuracy on our validation split), averaged by samples. */
export const noWorseThanMe: Strategy = (own: Weights, candidates: readonly Candidate[], ctx: MergeContext) => {
  const mine = ctx.evaluate(own).overallAccuracy;
  const kept = candidates.filter((c) => ctx.evaluate(c.weights).overallAccuracy >= mine);
  const members = [{ weights: own, samples: ctx.ownSamples }, ...kept];
  const total = members.reduce((sum, m) => sum + Math.max(m.samples, 1), 0);
  return own.map((layer, i): Layer => {
    const values = new Float32Array(layer.values.length);
    for (const m of members) {
      const share = Math.max(m.samples, 1) / total;
      const theirs = m.weights[i].values;
      for (let k = 0; k < values.length; k++) values[k] += share * theirs[k];
    }
    return { name: layer.name, shape: layer.shape, values };
  });
};

const task = parseTaskSpec({
  taskId: 'custom-strategy',
  dataset: 'synthetic',
  model: { kind: 'mlp', hidden: [32] },
  localSteps: 10,
});
const { train, test } = makeSynthetic({ seed: 3, trainSamples: 600 });
const shares = partitionDataset(train, { kind: 'dirichlet', alpha: 1 }, { peers: 3, seed: 3 });
const bus = new Bus();
const peers = await Promise.all(
  shares.map((share, i) =>
    createPeer(task, {
      gossip: bus.join(`peer-${i}`),
      data: peerDataFor(train, share, test),
      // Our rule instead of the task's: a device may merge as it likes.
      strategy: noWorseThanMe,
      minFreshUpdates: 2,
      seed: i,
    }),
  ),
);
for (const peer of peers) {
  peer.addEventListener('round:end', ({ detail: r }) => {
    console.log(
      JSON.stringify({ peer: peer.id, round: r.round, candidates: r.candidates, accuracy: r.merged?.overall }),
    );
  });
  await peer.start();
}
await Promise.all(peers.map((p) => p.run(3)));
await Promise.all(peers.map((p) => p.stop()));
