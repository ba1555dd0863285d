/**
 * Embedding meshfl peers in a Node program: three peers on real libp2p nodes (TCP on
 * 127.0.0.1) in one process, each training on its own share of a data set and merging
 * what the others send. In a real deployment each peer runs in its own process or machine
 * and finds the others through `bootstrap` addresses (see createNodeLibp2p).
 *
 * Run: node examples/node-peer.ts [dataset] [rounds]   (dataset: synthetic (default), mnist, fashion-mnist)
 */
import {
  connectTopology,
  createLibp2pGossip,
  createPeer,
  type MeshflNode,
  parseTaskSpec,
  partitionDataset,
  peerDataFor,
  type RoundSummary,
  waitForSubscribers,
} from 'meshfl';
import { createNodeLibp2p, loadDataset } from 'meshfl/node';

const PEERS = 3;
const dataset = process.argv[2] ?? 'synthetic';
const rounds = Number(process.argv[3] ?? 3);

// The task every peer runs: the same id, model, initial weights and codec everywhere.
const task = parseTaskSpec({
  taskId: `example-${dataset}`,
  dataset,
  model: { kind: 'mlp', hidden: [64] },
  strategy: 'bristle+ldawa',
  localSteps: 20,
});
const { train, test } = loadDataset(dataset);
const shares = partitionDataset(train, { kind: 'iid' }, { peers: PEERS, seed: 1 });

const nodes: MeshflNode[] = [];
for (let i = 0; i < PEERS; i++) nodes.push(await createNodeLibp2p({ loopback: true }));
await connectTopology(nodes, { kind: 'full' });

const peers = await Promise.all(
  nodes.map(async (node, i) =>
    createPeer(task, {
      gossip: await createLibp2pGossip(node),
      data: peerDataFor(train, shares[i], test),
      // Each peer has 2 neighbours here: close a round once both have sent an update.
      minFreshUpdates: PEERS - 1,
      seed: i,
    }),
  ),
);
for (const peer of peers) {
  peer.addEventListener('round:end', (e) => report(peer.id, e.detail));
  await peer.start();
}
// Publishing before the others know we subscribed would reach nobody.
await waitForSubscribers(nodes, peers[0].topic);

await Promise.all(peers.map((p) => p.run(rounds)));
await Promise.all(peers.map((p) => p.stop()));
await Promise.all(nodes.map((n) => n.stop()));

function report(id: string, r: RoundSummary): void {
  const accuracy = r.merged ? `${(r.merged.overall * 100).toFixed(1)}%` : 'n/a';
  console.log(
    JSON.stringify({ peer: id.slice(-6), round: r.round, candidates: r.candidates, closedBy: r.closedBy, accuracy }),
  );
}
