/**
 * The merged model leaves meshfl as a tfjs LayersModel directory: `meshfl export` from a
 * model file and from a data directory's newest checkpoint (loaded back from disk with
 * layersModelDir), and the daemon's GET /export/model.json behind the token, loaded with
 * tf.loadLayersModel over HTTP exactly as a browser does (it fetches weights.bin beside it).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { EXPORT_MODEL_JSON, startHttpServer } from '../../node/daemon/http.ts';
import { createLogger } from '../../node/daemon/logger.ts';
import { layersModelDir } from '../../node/model-export.ts';
import { saveModelFile } from '../../node/model-store.ts';
import { makeSynthetic } from '../../src/data/synthetic.ts';
import { exportModelFile } from '../../src/model/export.ts';
import { buildModel, getWeights } from '../../src/model/model.ts';
import type { ModelFile } from '../../src/model/model-file.ts';
import { parseModelSpec } from '../../src/model/spec.ts';
import { initBackend } from '../../src/train/backend.ts';
import { Trainer } from '../../src/train/trainer.ts';
import { BIN, tempDir } from './harness.ts';

const tmp = tempDir('meshfl-export-');
after(() => tmp.remove());
const SHAPE = [8, 8, 1];
const CLASSES = 3;
/** Hang guard for the CLI child (it loads tfjs; slow on a busy machine). */
const CLI_TIMEOUT_MS = 120_000;

let file: ModelFile;
let x: tf.Tensor;
let want: tf.Tensor;

before(async () => {
  await initBackend('wasm');
  const spec = parseModelSpec({ kind: 'cnn', stages: [[4], [4]], dense: 8, reparam: 'repvgg' });
  const model = buildModel(spec, SHAPE, CLASSES, 2);
  const data = makeSynthetic({ numClasses: CLASSES, trainSamples: 48, testSamples: 12, featureShape: SHAPE, seed: 4 });
  const trainer = new Trainer(model, { batchSize: 16 });
  trainer.train(data.train, { steps: 4 });
  file = { spec, inputShape: SHAPE, numClasses: CLASSES, weights: getWeights(model), meta: { round: 7, taskId: 't' } };
  x = tf.tensor(data.test.x, [data.test.y.length, ...SHAPE]);
  want = tf.tidy(() => tf.softmax(model.logits(x)));
  trainer.dispose();
  model.dispose();
});

async function assertPredicts(lm: tf.LayersModel): Promise<void> {
  const got = lm.predict(x) as tf.Tensor;
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(want, got))).dataSync()[0]);
  got.dispose();
  lm.dispose();
  assert.ok(diff < 1e-4, `exported model differs by ${diff}`);
}

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, 'export', ...args], { encoding: 'utf8', timeout: CLI_TIMEOUT_MS });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

test('meshfl export: a model file and a data directory become LayersModel directories that load', async () => {
  const mflm = path.join(tmp.dir, 'model.mflm');
  saveModelFile(mflm, file);
  const outFile = path.join(tmp.dir, 'from-file');
  const r1 = cli(['--from', mflm, '--out', outFile, '--backend', 'wasm']);
  assert.equal(r1.code, 0, r1.out);
  assert.match(r1.out, /round 7.*repvgg, exported fused/);
  await assertPredicts(await tf.loadLayersModel(layersModelDir(outFile)));

  const dataDir = path.join(tmp.dir, 'data');
  mkdirSync(path.join(dataDir, 'checkpoints'), { recursive: true });
  saveModelFile(path.join(dataDir, 'checkpoints', 'round-000000000003.mflm'), { ...file, meta: { round: 3 } });
  saveModelFile(path.join(dataDir, 'checkpoints', 'round-000000000009.mflm'), file);
  const outDir = path.join(tmp.dir, 'from-dir');
  const r2 = cli(['--from', dataDir, '--out', outDir, '--backend', 'wasm']);
  assert.equal(r2.code, 0, r2.out);
  assert.match(r2.out, /round-000000000009\.mflm \(round 7\)/);
  await assertPredicts(await tf.loadLayersModel(layersModelDir(path.join(outDir, 'model.json'))));
});

test('meshfl export: a missing flag, a missing file and an empty data directory exit 2 with a message', () => {
  assert.equal(cli(['--out', 'x']).code, 2);
  const missing = cli(['--from', path.join(tmp.dir, 'nope.mflm'), '--out', path.join(tmp.dir, 'o')]);
  assert.equal(missing.code, 2);
  assert.match(missing.out, /nope\.mflm: ENOENT/);
  const empty = path.join(tmp.dir, 'empty');
  mkdirSync(path.join(empty, 'checkpoints'), { recursive: true });
  const none = cli(['--from', empty, '--out', path.join(tmp.dir, 'o')]);
  assert.equal(none.code, 2);
  assert.match(none.out, /no checkpoint yet/);
});

test('daemon http: /export/model.json behind the token loads with tf.loadLayersModel over HTTP', async () => {
  let files: Awaited<ReturnType<typeof exportModelFile>> | undefined;
  const server = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    token: 'tok',
    exportOrigins: [],
    staticRoot: path.join(tmp.dir, 'no-page'),
    logger: createLogger({ level: 'error' }),
    handlers: {
      health: () => ({ ready: true, body: {} }),
      metrics: async () => ({ contentType: 'text/plain', body: '' }),
      status: () => ({}),
      task: () => undefined,
      exportModel: async () => files,
    },
  });
  try {
    const url = `http://127.0.0.1:${server.port}${EXPORT_MODEL_JSON}`;
    const auth = { headers: { authorization: 'Bearer tok' } };
    assert.equal((await fetch(url, { signal: AbortSignal.timeout(10_000) })).status, 401);
    assert.equal((await fetch(url, { ...auth, signal: AbortSignal.timeout(10_000) })).status, 503);
    files = await exportModelFile(file);
    await assertPredicts(await tf.loadLayersModel(url, { requestInit: auth }));
  } finally {
    await server.close();
  }
});
