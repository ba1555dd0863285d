/**
 * Bring your own tfjs model: two peers federate a functional tfjs model (Dense, BatchNorm)
 * over the in-process Bus; the merged model is exported as tfjs LayersModel files and loaded
 * back with tf.loadLayersModel.
 *
 * Run: npm run build && node examples/custom-model.ts
 */
import * as tf from '@tensorflow/tfjs';
import * as meshfl from 'meshfl';

await meshfl.initBackend('auto');
// Any Sequential or functional tfjs model: only its topology travels in the task.
const input = tf.input({ shape: [64] });
const dense = tf.layers.dense({ units: 32, activation: 'relu' }).apply(input) as tf.SymbolicTensor;
const normed = tf.layers.batchNormalization().apply(dense) as tf.SymbolicTensor;
const output = tf.layers.dense({ units: 10, activation: 'softmax' }).apply(normed) as tf.SymbolicTensor;
const design = tf.model({ inputs: input, outputs: output });
const topology = design.toJSON(null, false); // or the modelTopology of a model.json
design.dispose();

const model = { kind: 'tfjs', topology };
const task = meshfl.parseTaskSpec({ taskId: 'byo-model', model, dataset: 'custom', inputShape: [64], classes: 10 });
const { train, test } = meshfl.makeSynthetic({ featureShape: [64], seed: 1 });
const shares = meshfl.partitionDataset(train, { kind: 'iid' }, { peers: 2, seed: 1 });
const bus = new meshfl.Bus();
const peers = await Promise.all(
  shares.map((share, i) =>
    meshfl.createPeer(task, {
      gossip: bus.join(`p${i}`),
      data: meshfl.peerDataFor(train, share, test),
      seed: i,
      minFreshUpdates: 1, // two peers: a round closes once the other's update arrived
    }),
  ),
);
for (const peer of peers) await peer.start();
await Promise.all(peers.map((peer) => peer.run(5)));
await Promise.all(peers.map((peer) => peer.stop()));

// The merged model as model.json + weights; writeLayersModelDir ('meshfl/node') puts them on disk.
const merged = await tf.loadLayersModel(meshfl.filesHandler(await meshfl.exportModelFiles(peers[0].trainer.model)));
const predicted = (merged.predict(tf.tensor(test.x, [test.y.length, 64])) as tf.Tensor).argMax(1).dataSync();
console.log(`merged model: ${predicted.filter((p, i) => p === test.y[i]).length}/${test.y.length} test samples right`);
