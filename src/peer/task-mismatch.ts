/**
 * What differs between two tasks, and how to fix it, in words an operator can act on:
 * "peer X runs model.hidden [256, 128]; this peer runs [32]: set model.hidden to [256,128]".
 *
 * Gossip carries only the task fingerprint, so a rejected update says nothing more than
 * "wrong-fingerprint"; after one, a peer fetches the sender's TaskSpec (task-exchange.ts)
 * and describes the difference with this pure function. Differences in the fingerprinted
 * part (task id, architecture, model seed, codec family) block the exchange of updates;
 * the others are choices each device may make and are reported as such.
 */
import { topologyDigest } from '../model/tfjs-topology.ts';
import { sizeOfShape } from '../model/weights.ts';
import { codecFamily, formatCodec } from '../wire/codec-spec.ts';
import type { TaskSpec } from './task.ts';

/** Where a task field is set, e.g. "model.hidden"; a front end names its own config keys. */
export type TaskKeyNames = Readonly<Record<keyof TaskSpec, string>>;

/** TaskSpec's own key names (what `parseTaskSpec` reads). */
export const TASK_SPEC_KEYS: TaskKeyNames = {
  taskId: 'taskId',
  model: 'model',
  modelSeed: 'modelSeed',
  codec: 'codec',
  strategy: 'strategy',
  batchSize: 'batchSize',
  learningRate: 'learningRate',
  localSteps: 'localSteps',
  keyframeInterval: 'keyframeInterval',
  dataset: 'dataset',
  inputShape: 'inputShape',
  classes: 'classes',
};

export interface TaskDifference {
  readonly field: keyof TaskSpec;
  /** The key to change here (a sub-key of the field when that is all that differs, e.g. "model.hidden"). */
  readonly key: string;
  /** Part of the fingerprint: no update is exchanged until it matches. */
  readonly blocking: boolean;
  readonly ours: string;
  readonly theirs: string;
  /** JSON of their value at `key`: what to set to join their task. */
  readonly set: string;
}

export interface TaskMismatch {
  /** Blocking differences first, then the device choices. */
  readonly differences: readonly TaskDifference[];
  /** Some difference blocks the exchange of updates. */
  readonly blocking: boolean;
  /** One line for a log or a page. */
  readonly summary: string;
}

export interface DescribeOptions {
  /** How to name the other peer in the summary. Default "the other peer". */
  readonly peer?: string;
  /** How to name this side. Default "this peer". */
  readonly self?: string;
  /** Where this front end sets each field. Default TASK_SPEC_KEYS. */
  readonly keys?: TaskKeyNames;
}

/** Every difference between `ours` and `theirs`, and a one-line summary of how to join theirs. */
export function describeTaskMismatch(ours: TaskSpec, theirs: TaskSpec, options: DescribeOptions = {}): TaskMismatch {
  const keys = options.keys ?? TASK_SPEC_KEYS;
  const peer = options.peer ?? 'the other peer';
  const self = options.self ?? 'this peer';
  const found: TaskDifference[] = [];
  const add = (field: keyof TaskSpec, blocking: boolean, a: string, b: string, set: unknown, sub = ''): void => {
    found.push({ field, key: `${keys[field]}${sub}`, blocking, ours: a, theirs: b, set: JSON.stringify(set) });
  };

  if (ours.taskId !== theirs.taskId) add('taskId', true, ours.taskId, theirs.taskId, theirs.taskId);
  modelDifference(ours, theirs, add);
  if (ours.modelSeed !== theirs.modelSeed) {
    add('modelSeed', true, String(ours.modelSeed), String(theirs.modelSeed), theirs.modelSeed);
  }
  const [codecA, codecB] = [formatCodec(ours.codec), formatCodec(theirs.codec)];
  if (codecA !== codecB) {
    add('codec', codecFamily(ours.codec) !== codecFamily(theirs.codec), codecA, codecB, codecB);
  }
  const shapeA = ours.inputShape.join('x');
  const shapeB = theirs.inputShape.join('x');
  if (shapeA !== shapeB) {
    // An MLP flattens its input: only the number of features reaches the layer shapes.
    const layoutDiffers = ours.model.kind !== 'mlp' || sizeOfShape(ours.inputShape) !== sizeOfShape(theirs.inputShape);
    add('inputShape', layoutDiffers, shapeA, shapeB, theirs.inputShape);
  }
  if (ours.classes !== theirs.classes) {
    add('classes', true, String(ours.classes), String(theirs.classes), theirs.classes);
  }
  if (ours.dataset !== theirs.dataset) add('dataset', false, ours.dataset, theirs.dataset, theirs.dataset);
  const [strategyA, strategyB] = [JSON.stringify(ours.strategy), JSON.stringify(theirs.strategy)];
  if (strategyA !== strategyB) add('strategy', false, strategyText(ours), strategyText(theirs), theirs.strategy);
  for (const field of ['batchSize', 'learningRate', 'localSteps', 'keyframeInterval'] as const) {
    if (ours[field] !== theirs[field]) add(field, false, String(ours[field]), String(theirs[field]), theirs[field]);
  }

  const differences = [...found.filter((d) => d.blocking), ...found.filter((d) => !d.blocking)];
  const blocking = differences.some((d) => d.blocking);
  return { differences, blocking, summary: summarize(differences, blocking, peer, self) };
}

type Add = (field: keyof TaskSpec, blocking: boolean, a: string, b: string, set: unknown, sub?: string) => void;

function modelDifference(ours: TaskSpec, theirs: TaskSpec, add: Add): void {
  const a = ours.model;
  const b = theirs.model;
  if (a.kind === 'mlp' && b.kind === 'mlp') {
    if (a.hidden.join() !== b.hidden.join()) {
      add('model', true, `mlp [${a.hidden.join(', ')}]`, `mlp [${b.hidden.join(', ')}]`, b.hidden, '.hidden');
    }
    return;
  }
  if (a.kind === 'cnn' && b.kind === 'cnn') {
    const parts: Array<[string, unknown, unknown]> = [
      ['stages', a.stages, b.stages],
      ['dense', a.dense, b.dense],
    ];
    const differing = parts.filter(([, x, y]) => JSON.stringify(x) !== JSON.stringify(y));
    if (differing.length === 1) {
      const [sub, x, y] = differing[0];
      add('model', true, `cnn ${sub} ${JSON.stringify(x)}`, `cnn ${sub} ${JSON.stringify(y)}`, y, `.${sub}`);
    } else if (differing.length > 1) {
      add('model', true, modelText(ours), modelText(theirs), theirs.model);
    }
    // RepOpt changes how a CNN trains, not its layers: peers with either still exchange models.
    if (a.reparam !== b.reparam) add('model', false, `cnn ${a.reparam}`, `cnn ${b.reparam}`, b.reparam, '.reparam');
    return;
  }
  add('model', true, modelText(ours), modelText(theirs), theirs.model);
}

function modelText(task: TaskSpec): string {
  const m = task.model;
  switch (m.kind) {
    case 'mlp':
      return `mlp [${m.hidden.join(', ')}]`;
    case 'cnn':
      return `cnn stages ${JSON.stringify(m.stages)} dense ${m.dense} ${m.reparam}${m.batchNormStats ? ` batchNormStats ${m.batchNormStats}` : ''}`;
    case 'tfjs':
      return `tfjs topology ${topologyDigest(m)} output ${m.outputLayer} batchNormStats ${m.batchNormStats}`;
    default: {
      const never: never = m;
      throw new Error(`unknown model ${JSON.stringify(never)}`);
    }
  }
}

function strategyText(task: TaskSpec): string {
  return typeof task.strategy === 'string' ? task.strategy : JSON.stringify(task.strategy);
}

function summarize(differences: readonly TaskDifference[], blocking: boolean, peer: string, self: string): string {
  if (differences.length === 0) return `${peer} runs the same task as ${self}`;
  const line = (d: TaskDifference): string =>
    `${peer} runs ${d.key} ${d.theirs}; ${self} runs ${d.ours}: set ${d.key} to ${d.set}`;
  const blockers = differences.filter((d) => d.blocking);
  if (blocking) {
    const others = differences.length - blockers.length;
    const settings = others === 1 ? '1 device setting differs' : `${others} device settings differ`;
    const rest = others > 0 ? ` (and ${settings}, which is allowed)` : '';
    return `${blockers.map(line).join('; ')}${rest}`;
  }
  return `${peer} runs the same task with other device settings (allowed, updates are exchanged): ${differences
    .map((d) => `${d.key} ${d.theirs} vs ${d.ours}`)
    .join(', ')}`;
}
