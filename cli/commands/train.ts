/**
 * `meshfl train`: one peer, no network. Trains a model on a whole data set with per-epoch
 * progress and test accuracy; `--out` saves the model (that is also `meshfl pretrain`:
 * a backbone for the frozen-backbone mode, `--trainable head --backbone <file>`).
 *
 * tfjs (model, backend, trainer) is imported after the flags are checked, so --help and a
 * bad flag answer at once (test/cli/lazy-imports.test.ts).
 */

import { DEFAULT_THREADS, defaultSyncEvery, MAX_SYNC_EVERY, MAX_THREADS } from '../../node/data-parallel/threads.ts';
import { DATASET_NAMES, loadDataset } from '../../node/datasets.ts';
import { loadModelFile, saveModelFile } from '../../node/model-store.ts';
import { type Dataset, subset } from '../../src/data/dataset.ts';
import type { ModelFile } from '../../src/model/model-file.ts';
import { DEFAULT_CNN, DEFAULT_MLP, defaultSpec, MODEL_NAMES } from '../../src/model/spec.ts';
import { sameArchitecture } from '../../src/model/weights.ts';
import { choiceFlag, classesFlag, intFlag, numberFlag, parseFlags } from '../args.ts';
import { EXIT_OK, InputError, UsageError } from '../errors.ts';
import { progressLine } from '../progress.ts';

/** Options train and pretrain share (everything but --out). */
const MODEL_OPTIONS = `  --dataset <name>        mnist | fashion-mnist | synthetic (default mnist)
  --model <name>          mlp | cnn (RepOpt VGG-style) | cnn-plain | cnn-repvgg (default mlp)
  --epochs <n>            epochs over the training set (default 1)
  --batch-size <n>        mini-batch size (default 64)
  --lr <x>                learning rate (default 0.05)
  --momentum <x>          SGD momentum (default 0.9)
  --trainable <all|head>  head = frozen backbone, needs --backbone (default all)
  --backbone <file>       model file from 'meshfl pretrain' (backbone layers are loaded)
  --classes <list>        train and test on these classes only, e.g. 0-4 or 0,3,7
  --backend <name>        wasm | cpu | auto (default auto)
  --threads <n>           threads training the model, 1-${MAX_THREADS} (default ${DEFAULT_THREADS}): each
                          trains a slice of every batch and the gradients are summed
                          (same batches and updates as 1 thread); head mode trains on 1
  --sync-every <k>        with --threads > 1: 1 = sum the gradients every step (the
                          updates of 1 thread); k >= 2 = local SGD, each thread trains
                          whole batches and the models are averaged every k rounds,
                          1-${MAX_SYNC_EVERY} (default: per model, mlp ${defaultSyncEvery(DEFAULT_MLP)}, cnn ${defaultSyncEvery(DEFAULT_CNN)})
  --seed <n>              seed of initialisation and batch order (default 1)`;

export const TRAIN_USAGE = `meshfl train [options]      train one model locally (no network)
${MODEL_OPTIONS}
  --out <file>            save the trained model (meshfl model file)`;

export const PRETRAIN_USAGE = `meshfl pretrain --out <file> [options]   train and save a backbone for the frozen-backbone mode
  --out <file>            where to save the model (meshfl model file; required); then
                          'meshfl train --trainable head --backbone <file>' (or a daemon's or
                          scenario's "backbone") trains only the output layer on top of it
${MODEL_OPTIONS}`;

/** Reads a model file; a missing, corrupt or foreign file is the user's input to fix (exit 2). */
function readModelFile(file: string): ModelFile {
  try {
    return loadModelFile(file);
  } catch (err) {
    throw new InputError(err instanceof Error ? err.message : String(err), { cause: err });
  }
}

function keepClasses(d: Dataset, classes: readonly number[]): Dataset {
  const wanted = new Set(classes);
  const idx: number[] = [];
  for (let i = 0; i < d.y.length; i++) if (wanted.has(d.y[i])) idx.push(i);
  return subset(d, idx);
}

export async function trainCommand(argv: string[], command = 'train'): Promise<number> {
  const f = parseFlags(
    argv,
    {
      dataset: { type: 'string', default: 'mnist' },
      model: { type: 'string', default: 'mlp' },
      epochs: { type: 'string', default: '1' },
      'batch-size': { type: 'string', default: '64' },
      lr: { type: 'string', default: '0.05' },
      momentum: { type: 'string', default: '0.9' },
      trainable: { type: 'string', default: 'all' },
      backbone: { type: 'string' },
      classes: { type: 'string' },
      backend: { type: 'string', default: 'auto' },
      threads: { type: 'string' },
      'sync-every': { type: 'string' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    command,
  );
  if (f.help) {
    console.log(command === 'pretrain' ? PRETRAIN_USAGE : TRAIN_USAGE);
    return EXIT_OK;
  }
  const datasetName = choiceFlag(f.dataset, 'dataset', DATASET_NAMES);
  const modelName = choiceFlag(f.model, 'model', MODEL_NAMES);
  const epochs = numberFlag(f.epochs, 'epochs', 0.001, 1000);
  const batchSize = intFlag(f['batch-size'], 'batch-size', 1, 65536);
  const learningRate = numberFlag(f.lr, 'lr', 1e-6, 10);
  const momentum = numberFlag(f.momentum, 'momentum', 0, 0.999);
  const trainable = choiceFlag(f.trainable, 'trainable', ['all', 'head'] as const);
  const backend = choiceFlag(f.backend, 'backend', ['wasm', 'cpu', 'auto'] as const);
  const seed = intFlag(f.seed, 'seed', 0);
  const threads = f.threads === undefined ? DEFAULT_THREADS : intFlag(f.threads, 'threads', 1, MAX_THREADS);
  const syncEvery =
    f['sync-every'] === undefined ? undefined : intFlag(f['sync-every'], 'sync-every', 1, MAX_SYNC_EVERY);
  if (command === 'pretrain' && !f.out) throw new UsageError('meshfl pretrain: --out <file> is required');
  if (trainable === 'head' && !f.backbone)
    throw new UsageError('--trainable head needs --backbone <file> (see meshfl pretrain)');
  const backbone = typeof f.backbone === 'string' ? readModelFile(f.backbone) : undefined;

  // Flags and the backbone file are checked: now tfjs.
  const [{ initBackend }, { buildModel, getWeights, HEAD_KERNEL, setWeights }, { Trainer }, { trainingThreads }] =
    await Promise.all([
      import('../../src/train/backend.ts'),
      import('../../src/model/model.ts'),
      import('../../src/train/trainer.ts'),
      import('../../node/data-parallel/parallel-training.ts'),
    ]);
  const active = await initBackend(backend);
  const loadStart = performance.now();
  let { train, test } = loadDataset(datasetName);
  if (typeof f.classes === 'string') {
    const classes = classesFlag(f.classes, train.numClasses);
    train = keepClasses(train, classes);
    test = keepClasses(test, classes);
  }
  const spec = defaultSpec(modelName);
  const inputShape = spec.kind === 'mlp' ? [train.featureShape.reduce((a, b) => a * b, 1)] : train.featureShape;
  const model = buildModel(spec, inputShape, train.numClasses, seed);
  if (backbone !== undefined) {
    const own = getWeights(model);
    const ownBackbone = own.filter((l) => l.name !== HEAD_KERNEL);
    const fileBackbone = backbone.weights.filter((l) => l.name !== HEAD_KERNEL);
    if (!sameArchitecture(ownBackbone, fileBackbone)) {
      throw new UsageError(`${f.backbone}: backbone does not fit --model ${modelName} on ${datasetName}`);
    }
    const byName = new Map(fileBackbone.map((l) => [l.name, l]));
    setWeights(
      model,
      own.map((l) => byName.get(l.name) ?? l),
    );
  }
  const options = { batchSize, trainable, seed, optimizer: { learningRate, momentum } };
  const trainer = new Trainer(model, options);
  // The main thread's trainer evaluates and saves; with threads > 1 worker replicas train it.
  const parallel = await trainingThreads(trainer, options, { threads, syncEvery, backend: active as 'wasm' | 'cpu' });
  console.log(
    `meshfl ${command}: ${modelName} (${model.variables.reduce((n, v) => n + v.variable.size, 0)} parameters, trainable ${trainable}) ` +
      `on ${datasetName} (${train.y.length} train / ${test.y.length} test, loaded in ${((performance.now() - loadStart) / 1000).toFixed(1)} s), ` +
      `backend ${active}, batch ${batchSize}, lr ${learningRate}, ${parallel.replicas} thread${parallel.replicas === 1 ? '' : 's'}${parallel.replicas > 1 ? ` (sync every ${parallel.syncEvery})` : ''}`,
  );
  const whole = Math.ceil(epochs);
  let accuracy = 0;
  try {
    for (let epoch = 0; epoch < whole; epoch++) {
      const progress = progressLine();
      const fraction = Math.min(1, epochs - epoch);
      const result = await parallel.training.trainAsync(
        train,
        { epochs: fraction },
        {
          yieldEvery: 16,
          onProgress: (p) =>
            progress.update(
              p.step,
              p.totalSteps,
              `epoch ${epoch + 1}/${whole} step ${p.step}/${p.totalSteps} loss ${Number.isNaN(p.loss) ? '-' : p.loss.toFixed(4)} ${((p.samples / p.elapsedMs) * 1000).toFixed(0)} samples/s`,
            ),
        },
      );
      const scores = trainer.evaluate(test);
      accuracy = scores.overallAccuracy;
      progress.finish(
        `epoch ${epoch + 1}/${whole}: train loss ${result.loss.toFixed(4)}, test accuracy ${(accuracy * 100).toFixed(2)}%, ` +
          `test loss ${scores.loss.toFixed(4)} (${(result.elapsedMs / 1000).toFixed(1)} s, ${((result.samples / result.elapsedMs) * 1000).toFixed(0)} samples/s)`,
      );
    }
  } finally {
    await parallel.close();
  }
  if (typeof f.out === 'string') {
    const size = saveModelFile(f.out, {
      spec,
      inputShape,
      numClasses: train.numClasses,
      weights: getWeights(model),
      meta: {
        dataset: datasetName,
        classes: f.classes ?? 'all',
        epochs,
        testAccuracy: accuracy,
        savedAt: new Date().toISOString(),
      },
    });
    console.log(`saved ${f.out} (${size} bytes)`);
  }
  trainer.dispose();
  model.dispose();
  return EXIT_OK;
}
