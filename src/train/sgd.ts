/**
 * SGD with momentum and decoupled-from-multiplier weight decay, with optional constant
 * per-parameter gradient multipliers (RepOpt, ALGORITHMS.md §3):
 *   v <- momentum * v + (M * g + weightDecay * w);  w <- w - lr * v
 * On a backend with the fused kernel (wasm: ./kernels/sgd-step.ts) one pass per variable;
 * elsewhere the same rule from tfjs ops.
 */
import * as tf from '@tensorflow/tfjs';
import type { NamedVariable } from '../model/model.ts';
import { SGD_STEP, type SgdStepAttrs } from './kernels/sgd-step.ts';

export interface SgdOptions {
  /** Learning rate. Default 0.05. */
  readonly learningRate: number;
  /** Momentum. Default 0.9. */
  readonly momentum: number;
  /** L2 weight decay, applied after the multiplier. Default 0. */
  readonly weightDecay: number;
}

export const DEFAULT_SGD: SgdOptions = { learningRate: 0.05, momentum: 0.9, weightDecay: 0 };

export function validateSgd(o: Partial<SgdOptions>, what = 'optimizer'): SgdOptions {
  const merged = { ...DEFAULT_SGD, ...o };
  if (!(merged.learningRate > 0 && merged.learningRate < 100))
    throw new Error(`${what}.learningRate must be in (0, 100)`);
  if (!(merged.momentum >= 0 && merged.momentum < 1)) throw new Error(`${what}.momentum must be in [0, 1)`);
  if (!(merged.weightDecay >= 0 && merged.weightDecay < 1)) throw new Error(`${what}.weightDecay must be in [0, 1)`);
  return merged;
}

export class Sgd {
  readonly options: SgdOptions;
  readonly #velocity = new Map<tf.Variable, tf.Variable>();
  readonly #multipliers: ReadonlyMap<tf.Variable, tf.Tensor>;

  constructor(options: SgdOptions, variables: readonly NamedVariable[], multipliers: ReadonlyMap<string, tf.Tensor>) {
    this.options = options;
    const m = new Map<tf.Variable, tf.Tensor>();
    for (const v of variables) {
      const mult = multipliers.get(v.name);
      if (mult) m.set(v.variable, mult);
    }
    this.#multipliers = m;
  }

  /** Applies one update; `grads` maps each trained variable to its gradient. */
  apply(grads: ReadonlyMap<tf.Variable, tf.Tensor>): void {
    if (this.options.momentum > 0 && tf.getKernel(SGD_STEP, tf.getBackend()) !== undefined) {
      this.#applyFused(grads);
      return;
    }
    const { learningRate, momentum, weightDecay } = this.options;
    tf.tidy(() => {
      for (const [variable, grad] of grads) {
        const mult = this.#multipliers.get(variable);
        let g = mult ? tf.mul(grad, mult) : grad;
        if (weightDecay > 0) g = tf.add(g, tf.mul(variable, weightDecay));
        let step = g;
        if (momentum > 0) {
          const v = this.#velocityOf(variable);
          v.assign(tf.add(tf.mul(v, momentum), g));
          step = v;
        }
        variable.assign(tf.sub(variable, tf.mul(step, learningRate)));
      }
    });
  }

  /** One fused kernel per variable; it updates the velocity in place. */
  #applyFused(grads: ReadonlyMap<tf.Variable, tf.Tensor>): void {
    const attrs: SgdStepAttrs = this.options;
    for (const [variable, grad] of grads) {
      const mult = this.#multipliers.get(variable);
      const inputs: Record<string, tf.Tensor> = { x: variable, grad, velocity: this.#velocityOf(variable) };
      if (mult) inputs.multiplier = mult;
      const next = tf.engine().runKernel(SGD_STEP, inputs, { ...attrs }) as tf.Tensor;
      variable.assign(next);
      next.dispose();
    }
  }

  /** The momentum of each variable (zeros before its first update), for local SGD's averaging. */
  velocities(variables: readonly tf.Variable[]): tf.Variable[] {
    return variables.map((v) => this.#velocityOf(v));
  }

  #velocityOf(variable: tf.Variable): tf.Variable {
    let v = this.#velocity.get(variable);
    if (!v) {
      // The tidy frees the zeros' own handle; the variable keeps their data.
      v = tf.tidy(() => tf.variable(tf.zerosLike(variable), false));
      this.#velocity.set(variable, v);
    }
    return v;
  }

  /**
   * The momentum of `variables` (the trained ones, in order) as arrays, or undefined when
   * there is none yet (no step since the last reset). A model pool parks it with its peer.
   */
  velocity(variables: readonly tf.Variable[]): Float32Array[] | undefined {
    if (this.#velocity.size === 0) return undefined;
    return variables.map((v) => {
      const held = this.#velocity.get(v);
      // A variable not stepped yet has zero momentum (the state #velocityOf would create).
      return held === undefined ? new Float32Array(v.size) : (held.dataSync() as Float32Array);
    });
  }

  /** Replaces the momentum with `values` (velocity's order), or forgets it (undefined). */
  setVelocity(variables: readonly tf.Variable[], values: readonly Float32Array[] | undefined): void {
    this.reset();
    if (values === undefined) return;
    if (values.length !== variables.length)
      throw new Error(`velocity: ${values.length} arrays for ${variables.length} variables`);
    for (const [i, variable] of variables.entries()) {
      const a = values[i];
      if (a.length !== variable.size)
        throw new Error(`velocity of ${variable.name}: ${a.length} values for ${variable.size}`);
      // tf.variable keeps its initial tensor's data; the tidy frees only the handle.
      const v = tf.tidy(() => tf.variable(tf.tensor(a, variable.shape), false));
      this.#velocity.set(variable, v);
    }
  }

  /** Forgets momentum (after a merge replaced the weights, old velocity points elsewhere). */
  reset(): void {
    for (const v of this.#velocity.values()) v.dispose();
    this.#velocity.clear();
  }

  dispose(): void {
    this.reset();
  }
}
