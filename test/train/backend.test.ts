/** initBackend: picks wasm, is idempotent, switches, registers our kernels, fails clearly. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend, wasmUsesSimd } from '../../src/train/backend.ts';
import { TRAINING_KERNELS } from '../../src/train/kernels/index.ts';
import { nodeWasmDirectory } from '../../src/train/wasm-paths-node.ts';

const run = promisify(execFile);

test('auto picks wasm (SIMD build in Node 22) and registers the training kernels', async () => {
  assert.equal(await initBackend(), 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  assert.equal(await wasmUsesSimd(), true);
  for (const { kernelName } of TRAINING_KERNELS) {
    assert.ok(tf.getKernel(kernelName, 'wasm'), `${kernelName} not registered for wasm`);
  }
});

test('initBackend is idempotent, also under concurrent calls', async () => {
  const names = await Promise.all([initBackend(), initBackend('wasm'), initBackend('auto')]);
  assert.deepEqual(names, ['wasm', 'wasm', 'wasm']);
  assert.equal(await initBackend('wasm'), 'wasm');
});

test('switching between cpu and wasm works both ways and computes the same', async () => {
  const compute = () => tf.tidy(() => Array.from(tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.eye(2)).dataSync()));
  assert.equal(await initBackend('cpu'), 'cpu');
  const onCpu = compute();
  assert.equal(await initBackend('wasm'), 'wasm');
  assert.deepEqual(compute(), onCpu);
});

test('the Node wasm directory is an absolute path ending in / with the SIMD binary', () => {
  const directory = nodeWasmDirectory();
  assert.ok(directory.startsWith('/') && directory.endsWith('/'), directory);
  assert.ok(existsSync(`${directory}tfjs-backend-wasm-simd.wasm`));
});

// A broken wasm backend is simulated in a child process so this process keeps a good one.
const BROKEN_WASM = `
  import * as tf from '@tensorflow/tfjs';
  import { initBackend } from ${JSON.stringify(new URL('../../src/train/backend.ts', import.meta.url).href)};
  tf.removeBackend('wasm');
  tf.registerBackend('wasm', () => { throw new Error('simulated wasm failure'); });
  const console_warn = console.warn; console.warn = () => {};
  let explicit = 'resolved';
  try { await initBackend('wasm'); } catch (error) { explicit = error.message; }
  console.warn = console_warn;
  console.log(JSON.stringify({ explicit, auto: await initBackend('auto') }));
`;

test('a backend that fails to start gives a clear error; auto falls back to cpu', async () => {
  const { stdout } = await run(process.execPath, ['--input-type=module', '--eval', BROKEN_WASM], {
    cwd: new URL('../..', import.meta.url),
  });
  const result = JSON.parse(stdout.trim().split('\n').pop() ?? '{}');
  assert.match(result.explicit, /tfjs backend 'wasm' failed to initialise/);
  assert.equal(result.auto, 'cpu');
});
