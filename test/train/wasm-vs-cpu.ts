/** Shared by the kernel tests: run one computation on wasm and on cpu and compare. */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../../src/data/rng.ts';
import { initBackend } from '../../src/train/backend.ts';

/** Max abs difference allowed, relative to the reference's largest magnitude (at least 1). */
export const TOLERANCE = 1e-4;

export type Pad = 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];

export function uniform(rng: Rng, size: number, scale = 1): Float32Array {
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) values[i] = (rng.next() * 2 - 1) * scale;
  return values;
}

export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Runs `fn` with `backend` active and returns its outputs as plain arrays. */
export async function onBackend(backend: 'wasm' | 'cpu', fn: () => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
  assert.equal(await initBackend(backend), backend);
  const outputs = tf.tidy(() => {
    const out = fn();
    return Array.isArray(out) ? out : [out];
  });
  const values = outputs.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose(outputs);
  return values;
}

export function assertClose(actual: Float32Array, expected: Float32Array, label: string, tolerance: number): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  let worst = 0;
  let scale = 1;
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Number.isFinite(actual[i]), `${label}: non-finite value at ${i}`);
    scale = Math.max(scale, Math.abs(expected[i]));
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  }
  assert.ok(worst <= tolerance * scale, `${label}: max abs diff ${worst} > ${tolerance} x ${scale}`);
}

/** Same computation on wasm and cpu; asserts every output agrees. */
export async function assertWasmMatchesCpu(
  label: string,
  fn: () => tf.Tensor | tf.Tensor[],
  tolerance = TOLERANCE,
): Promise<void> {
  const wasm = await onBackend('wasm', fn);
  const cpu = await onBackend('cpu', fn);
  assert.equal(wasm.length, cpu.length);
  for (let k = 0; k < cpu.length; k++) {
    assertClose(wasm[k], cpu[k], cpu.length > 1 ? `${label} output ${k}` : label, tolerance);
  }
}
