/**
 * Model specifications: plain data that names an architecture. Validated when parsed from
 * config or files; builders in this folder turn a spec into tfjs variables.
 */
import { type BatchNormStats, parseTfjsSpec, type TfjsSpec, tfjsParameterCount } from './tfjs-topology.ts';

export type { BatchNormStats, TfjsSpec };

export type ModelSpec =
  | {
      readonly kind: 'mlp';
      /** Hidden layer widths, e.g. [128, 64]. */
      readonly hidden: readonly number[];
    }
  | {
      readonly kind: 'cnn';
      /** Output channels of each 3x3 conv per stage; a 2x2 max-pool closes each stage. */
      readonly stages: readonly (readonly number[])[];
      /** Width of the dense layer after the conv stages (0 = none). */
      readonly dense: number;
      /**
       * How the convs are trained: plain SGD ("none"), gradient re-parameterization of one
       * 3x3 conv (RepOpt), or RepVGG blocks (3x3 + 1x1 + identity branches, each with
       * BatchNorm) trained and merged as branches and exported fused.
       */
      readonly reparam: 'repopt' | 'none' | 'repvgg';
      /** RepVGG only: BatchNorm moving statistics merged like weights, or kept local (FedBN). */
      readonly batchNormStats?: BatchNormStats;
    }
  | TfjsSpec;

export type MlpSpec = Extract<ModelSpec, { kind: 'mlp' }>;
export type CnnSpec = Extract<ModelSpec, { kind: 'cnn' }>;

/** Names `defaultSpec` knows. */
export const MODEL_NAMES = ['mlp', 'cnn', 'cnn-plain', 'cnn-repvgg'] as const;

export const DEFAULT_MLP: MlpSpec = { kind: 'mlp', hidden: [256, 128] };
export const DEFAULT_CNN: CnnSpec = { kind: 'cnn', stages: [[16], [32, 32]], dense: 64, reparam: 'repopt' };

export function defaultSpec(kind: string): ModelSpec {
  switch (kind) {
    case 'mlp':
      return DEFAULT_MLP;
    case 'cnn':
      return DEFAULT_CNN;
    case 'cnn-plain':
      return { ...DEFAULT_CNN, reparam: 'none' };
    case 'cnn-repvgg':
      return { ...DEFAULT_CNN, reparam: 'repvgg', batchNormStats: 'merge' };
    default:
      throw new Error(`unknown model "${kind}" (known: ${MODEL_NAMES.join(', ')})`);
  }
}

/**
 * Parameters of the model `buildModel(spec, inputShape, classes)` builds, computed from the
 * spec alone (no tfjs): lets a task received from a peer be bounded before anything is
 * allocated. test/peer/task-spec.test.ts checks it against buildModel.
 */
export function parameterCountOf(spec: ModelSpec, inputShape: readonly number[], classes: number): number {
  switch (spec.kind) {
    case 'mlp': {
      let width = inputShape.reduce((a, b) => a * b, 1);
      let n = 0;
      for (const h of spec.hidden) {
        n += width * h + h;
        width = h;
      }
      return n + width * classes;
    }
    case 'cnn': {
      let [h, w, c] = [inputShape[0] ?? 1, inputShape[1] ?? 1, inputShape[2] ?? 1];
      let n = 0;
      for (const stage of spec.stages) {
        for (const cout of stage) {
          // RepVGG: 3x3 and 1x1 kernels, 4 BatchNorm vectors per branch (identity when in == out).
          n += spec.reparam === 'repvgg' ? 10 * c * cout + 4 * cout * (c === cout ? 3 : 2) : 9 * c * cout + cout;
          c = cout;
        }
        h = Math.floor(h / 2);
        w = Math.floor(w / 2);
      }
      const flat = h * w * c;
      if (spec.dense > 0) n += flat * spec.dense + spec.dense;
      return n + (spec.dense > 0 ? spec.dense : flat) * classes;
    }
    case 'tfjs':
      return tfjsParameterCount(spec);
    default: {
      const never: never = spec;
      throw new Error(`unknown model spec ${JSON.stringify(never)}`);
    }
  }
}

function positiveInts(value: unknown, what: string): number[] {
  if (!Array.isArray(value) || !value.every((v) => Number.isInteger(v) && v > 0 && v <= 65536)) {
    throw new Error(`${what} must be an array of positive integers`);
  }
  return value as number[];
}

/** Parses an untrusted spec (from config or a file header). */
export function parseModelSpec(value: unknown, what = 'model'): ModelSpec {
  if (typeof value === 'string') return defaultSpec(value);
  if (typeof value !== 'object' || value === null) throw new Error(`${what} must be a name or an object`);
  const v = value as Record<string, unknown>;
  switch (v.kind) {
    case 'mlp':
      return { kind: 'mlp', hidden: positiveInts(v.hidden ?? DEFAULT_MLP.hidden, `${what}.hidden`) };
    case 'cnn': {
      const stagesRaw = v.stages ?? DEFAULT_CNN.stages;
      if (!Array.isArray(stagesRaw) || stagesRaw.length === 0)
        throw new Error(`${what}.stages must be a non-empty array`);
      const stages = stagesRaw.map((s, i) => positiveInts(s, `${what}.stages[${i}]`));
      const dense = v.dense ?? 64;
      if (!Number.isInteger(dense) || (dense as number) < 0) throw new Error(`${what}.dense must be an integer >= 0`);
      const reparam = v.reparam ?? 'repopt';
      if (reparam !== 'repopt' && reparam !== 'none' && reparam !== 'repvgg') {
        throw new Error(`${what}.reparam must be "repopt", "repvgg" or "none"`);
      }
      if (reparam !== 'repvgg') {
        if (v.batchNormStats !== undefined) throw new Error(`${what}.batchNormStats needs reparam "repvgg"`);
        return { kind: 'cnn', stages, dense: dense as number, reparam };
      }
      const stats = v.batchNormStats ?? 'merge';
      if (stats !== 'merge' && stats !== 'local') throw new Error(`${what}.batchNormStats must be "merge" or "local"`);
      return { kind: 'cnn', stages, dense: dense as number, reparam, batchNormStats: stats };
    }
    case 'tfjs':
      return parseTfjsSpec(v, what);
    default:
      throw new Error(`${what}.kind must be "mlp", "cnn" or "tfjs", got ${JSON.stringify(v.kind)}`);
  }
}
