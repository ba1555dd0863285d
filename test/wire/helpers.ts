/** Shared fixtures for wire tests: seeded models with trained-like values. */
import { createRng, type Rng } from '../../src/data/rng.ts';
import { layer, type Weights } from '../../src/model/weights.ts';
import { type TaskSchema, taskSchema } from '../../src/wire/schema.ts';

export const TASK = 'mnist-mlp';

/** A small MLP-shaped model: Gaussian weights with standard deviation `sd`. */
export function gaussianModel(rng: Rng, shapes: readonly (readonly number[])[], sd = 0.05): Weights {
  return shapes.map((shape, i) => {
    const l = layer(`layer_${i}/${shape.length > 1 ? 'kernel' : 'bias'}`, shape);
    for (let j = 0; j < l.values.length; j++) l.values[j] = sd * rng.normal();
    return l;
  });
}

export const SMALL_SHAPES: readonly (readonly number[])[] = [[20, 16], [16], [16, 10], [10]];

export function smallModel(seed = 1): Weights {
  return gaussianModel(createRng(seed), SMALL_SHAPES);
}

/** x + relative noise of a few percent: a trained-like round of local steps. */
export function perturb(rng: Rng, w: Weights, scale = 0.03): Weights {
  return w.map((l) => {
    const values = l.values.slice();
    for (let j = 0; j < values.length; j++) values[j] = values[j] + scale * 0.05 * rng.normal();
    return { name: l.name, shape: [...l.shape], values };
  });
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function maxAbs(a: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

export function l2(a: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] ** 2;
  return Math.sqrt(s);
}

/** The schema of a task over `layout` (model seed 0, fp32 codec family), as a Peer builds it. */
export function schemaFor(layout: Weights, taskId: string = TASK): TaskSchema {
  return taskSchema({ taskId, layout, modelSeed: 0, codec: { kind: 'dense', values: 'fp32' } });
}
