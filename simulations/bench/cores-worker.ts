/**
 * Worker of simulations/bench/cores.ts: on 'go', runs one kind of work for a fixed wall
 * time and answers how many units it did. Kinds: 'js', a scalar JavaScript loop (integer
 * and float arithmetic, no SIMD, no memory traffic); 'gemm', tf.matMul on the wasm backend
 * (meshfl's SIMD GEMM, src/train/kernels) at the default MLP's first-layer forward shape.
 */
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/train/backend.ts';

export type CoresKind = 'js' | 'gemm';
export interface CoresRequest {
  readonly kind: CoresKind;
  readonly ms: number;
}
export interface CoresAnswer {
  readonly units: number;
  readonly ms: number;
}
/** Flops of one GEMM unit: [64 x 784] x [784 x 256] (batch 64 into the MLP's first layer). */
export const GEMM_FLOPS = 2 * 64 * 784 * 256;
/** Iterations of one JS unit. */
export const JS_ITERATIONS = 1_000_000;

let sink = 0;
function jsUnit(seed: number): void {
  let a = seed | 0;
  let x = 1.000001;
  for (let i = 0; i < JS_ITERATIONS; i++) {
    a = (Math.imul(a, 1103515245) + 12345) | 0;
    x = x * 0.9999999 + (a & 1);
  }
  sink += x + a;
}

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) return;
  await initBackend('wasm');
  const a = tf.randomNormal([64, 784], 0, 1, 'float32', 1) as tf.Tensor2D;
  const b = tf.randomNormal([784, 256], 0, 1, 'float32', 2) as tf.Tensor2D;
  const gemmUnit = (): void => {
    tf.tidy(() => {
      tf.matMul(a, b).dataSync();
    });
  };
  // Warm both paths once (compilation, the wasm heap's first growth).
  for (let i = 0; i < 5; i++) gemmUnit();
  jsUnit(1);
  port.on('message', (req: CoresRequest) => {
    const unit = req.kind === 'js' ? () => jsUnit(sink | 0) : gemmUnit;
    const start = performance.now();
    let units = 0;
    while (performance.now() - start < req.ms) {
      unit();
      units++;
    }
    port.postMessage({ units, ms: performance.now() - start } satisfies CoresAnswer);
  });
  port.postMessage('ready');
}

// Imported by cores.ts for its constants (no parent port there): only a worker runs.
if (parentPort !== null) await main();
