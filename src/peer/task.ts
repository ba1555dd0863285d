/**
 * TaskSpec: everything a participant of a federated task needs to build the identical
 * model and speak the same update format. One definition for the daemon, the browser page,
 * simulations and library users; served by daemons (`GET /task`, `/meshfl/1/task`) so a
 * page or a joining peer builds the task it is told instead of carrying its own copy.
 *
 * Parsed with valibot at every boundary (config file, HTTP, a peer's answer); the parsed
 * value carries typed specs (ModelSpec, CodecSpec), never strings to parse again. Its one
 * text form, `encodeTaskSpec`, is JSON with a fixed key order: equal tasks encode to equal
 * bytes, and every key is written, so a receiver never fills in its own defaults.
 *
 * Only part of a task must match for peers to exchange updates (the wire fingerprint,
 * src/wire/schema.ts: task id, architecture, model seed, codec family); batch size,
 * learning rate, local steps, keyframe interval and strategy travel here as the task's
 * recommendation, and each device may choose its own.
 *
 * @example
 * ```ts
 * const task = parseTaskSpec({ taskId: 'digits', model: { kind: 'mlp', hidden: [64] }, dataset: 'mnist' })
 * const same = parseTaskSpec(JSON.parse(encodeTaskSpec(task)))   // deep-equal to task
 * ```
 */
import * as v from 'valibot';
import { domainIssue, parseStep } from '../config/read.ts';
import { DATASET_FAMILIES, DATASET_SHAPES, type DatasetFamily, isDatasetName } from '../data/families.ts';
import { MAX_MESSAGE_BYTES } from '../limits.ts';
import { isOracle, ORACLE_SIMULATION_ONLY } from '../merge/oracle.ts';
import { createStrategy, DEFAULT_STRATEGY, type StrategySpec } from '../merge/registry.ts';
import { type ModelSpec, parameterCountOf, parseModelSpec } from '../model/spec.ts';
import { outputUnits, tfjsInputShape, topologyDigest } from '../model/tfjs-topology.ts';
import { sizeOfShape, type Weights } from '../model/weights.ts';
import { type CodecSpec, formatCodec, parseCodec } from '../wire/codec-spec.ts';
import { DEFAULT_KEYFRAME_INTERVAL, TASK_ID_PATTERN, TASK_ID_RULE, TOPK_PPM_SCALE } from '../wire/constants.ts';
import { type TaskSchema, taskSchema } from '../wire/schema.ts';

export interface TaskSpec {
  /** Peers exchange updates only within one task; names the gossip topic. */
  readonly taskId: string;
  readonly model: ModelSpec;
  /** Seed of the common initial model: every peer of the task starts from the same weights. */
  readonly modelSeed: number;
  /** Codec of the deltas; its family must match across the task (codecFamily). */
  readonly codec: CodecSpec;
  /** Merge strategy the task recommends (a device may merge by another rule). */
  readonly strategy: StrategySpec;
  readonly batchSize: number;
  /** SGD learning rate. */
  readonly learningRate: number;
  /** Local training steps per round. */
  readonly localSteps: number;
  /** A full model (keyframe) every this many updates. */
  readonly keyframeInterval: number;
  /** The task's data: a named data set, or "custom" (participants' own files). */
  readonly dataset: DatasetFamily;
  /** Shape of one sample, e.g. [28, 28, 1]. */
  readonly inputShape: readonly number[];
  readonly classes: number;
}

/** The default task: what `meshfl daemon` runs with no task keys in its config. */
export const TASK_DEFAULTS = {
  taskId: 'mnist',
  model: 'mlp',
  modelSeed: 1,
  codec: 'int8',
  strategy: DEFAULT_STRATEGY,
  batchSize: 32,
  learningRate: 0.05,
  localSteps: 50,
  keyframeInterval: DEFAULT_KEYFRAME_INTERVAL,
  dataset: 'mnist',
} as const;

/**
 * Largest canonical encoding of a TaskSpec (256 KiB): a task with a built-in model is a few
 * hundred bytes, one with a tfjs topology about 1 KiB per layer; a peer's answer on
 * `/meshfl/1/task` is refused above this.
 */
export const MAX_TASK_SPEC_BYTES = 256 * 1024;

/**
 * Largest model a task may name: an fp32 keyframe of it must fit one message (64 MiB,
 * src/limits.ts), and a peer that joins a task allocates it before anything else.
 */
export const MAX_TASK_PARAMETERS = Math.floor(MAX_MESSAGE_BYTES / Float32Array.BYTES_PER_ELEMENT);

export const MAX_BATCH_SIZE = 65_536;
export const MAX_LOCAL_STEPS = 1_000_000;
export const MAX_KEYFRAME_INTERVAL = 1_000_000;
export const MIN_LEARNING_RATE = 1e-9;
export const MAX_LEARNING_RATE = 99;
const MAX_SHAPE_DIMS = 4;
const MAX_DIM = 65_536;
const MAX_CLASSES = 256;
const VALUE_CODECS: readonly unknown[] = ['fp32', 'fp16', 'int8'];

/** One problem with a task, at a key path ("model.hidden", "codec"). */
export interface TaskSpecIssue {
  readonly key: string;
  readonly problem: string;
}

/** A task that does not parse; `issues` names every bad key. */
export class TaskSpecError extends Error {
  override readonly name = 'TaskSpecError';
  readonly issues: readonly TaskSpecIssue[];

  constructor(issues: readonly TaskSpecIssue[]) {
    super(issues.map((i) => (i.key === '' ? i.problem : `${i.key}: ${i.problem}`)).join('; '));
    this.issues = issues;
  }
}

export type TaskSpecParse =
  | { readonly ok: true; readonly task: TaskSpec }
  | { readonly ok: false; readonly issues: readonly TaskSpecIssue[] };

function int(min: number, max: number, what: string) {
  return v.pipe(
    v.number(`must be a number (${what})`),
    v.integer(`must be an integer (${what})`),
    v.minValue(min, `must be at least ${min} (${what})`),
    v.maxValue(max, `must be at most ${max} (${what})`),
  );
}

function parseCodecValue(value: unknown): CodecSpec {
  if (typeof value === 'string') return parseCodec(value);
  // The parsed form, as a TaskSpec value holds it: checked through its text form.
  if (typeof value === 'object' && value !== null) {
    const { kind, values, ppm } = value as Record<string, unknown>;
    const dense = typeof values === 'string' && VALUE_CODECS.includes(values);
    if (kind === 'dense' && dense) return parseCodec(values);
    if (kind === 'topk' && dense && typeof ppm === 'number')
      return parseCodec(`topk:${ppm / TOPK_PPM_SCALE}+${values}`);
  }
  throw new RangeError(`must be a codec like "int8" or "topk:0.1+int8", got ${JSON.stringify(value)}`);
}

function parseStrategyValue(value: unknown): StrategySpec {
  let spec: StrategySpec;
  if (typeof value === 'string') spec = value;
  else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const { name, options, ...rest } = value as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length > 0) throw new RangeError(`unknown key "${extra[0]}" (allowed: name, options)`);
    if (typeof name !== 'string') throw new RangeError('name must be a strategy name');
    if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
      throw new RangeError('options must be an object');
    }
    const plain = plainJson(options ?? {}, 'options') as Record<string, unknown>;
    spec = Object.keys(plain).length === 0 ? name : { name, options: plain };
  } else {
    throw new RangeError(`must be a strategy name or { name, options }, got ${JSON.stringify(value)}`);
  }
  // Ground truth (who attacks) exists only in simulations; a task travels between real peers.
  if (isOracle(spec)) throw new RangeError(ORACLE_SIMULATION_ONLY);
  createStrategy(spec); // validates the name and options; the peer builds its own later
  return spec;
}

/** A deep copy of JSON data (finite numbers, strings, booleans, null, arrays, objects); throws on anything else. */
function plainJson(value: unknown, where: string): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new RangeError(`${where}: ${value} is not a finite number`);
    return value;
  }
  if (Array.isArray(value)) return value.map((x, i) => plainJson(x, `${where}[${i}]`));
  if (typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, x]) => [k, plainJson(x, `${where}.${k}`)]));
  }
  throw new RangeError(`${where}: ${typeof value} is not JSON data`);
}

const SHAPE = v.pipe(
  v.array(int(1, MAX_DIM, 'a sample dimension'), 'must be a list of sample dimensions like [28, 28, 1]'),
  v.minLength(1, 'must name at least one dimension'),
  v.maxLength(MAX_SHAPE_DIMS, `must have at most ${MAX_SHAPE_DIMS} dimensions`),
);

const TASK_INPUT = v.strictObject(
  {
    taskId: v.optional(
      v.pipe(v.string('must be a string'), v.regex(TASK_ID_PATTERN, `must be ${TASK_ID_RULE}`)),
      TASK_DEFAULTS.taskId,
    ),
    model: v.optional(
      v.pipe(
        v.unknown(),
        parseStep((x) => parseModelSpec(x, 'model')),
      ),
      TASK_DEFAULTS.model,
    ),
    modelSeed: v.optional(int(0, Number.MAX_SAFE_INTEGER, 'the seed of the initial model'), TASK_DEFAULTS.modelSeed),
    codec: v.optional(v.pipe(v.unknown(), parseStep(parseCodecValue)), TASK_DEFAULTS.codec),
    strategy: v.optional(v.pipe(v.unknown(), parseStep(parseStrategyValue)), TASK_DEFAULTS.strategy),
    batchSize: v.optional(int(1, MAX_BATCH_SIZE, 'samples per mini-batch'), TASK_DEFAULTS.batchSize),
    learningRate: v.optional(
      v.pipe(
        v.number('must be a number'),
        v.finite('must be a finite number'),
        v.minValue(MIN_LEARNING_RATE, `must be at least ${MIN_LEARNING_RATE}`),
        v.maxValue(MAX_LEARNING_RATE, `must be at most ${MAX_LEARNING_RATE}`),
      ),
      TASK_DEFAULTS.learningRate,
    ),
    localSteps: v.optional(int(1, MAX_LOCAL_STEPS, 'training steps per round'), TASK_DEFAULTS.localSteps),
    keyframeInterval: v.optional(
      int(1, MAX_KEYFRAME_INTERVAL, 'updates between full models'),
      TASK_DEFAULTS.keyframeInterval,
    ),
    dataset: v.optional(
      v.picklist(DATASET_FAMILIES, `must be one of ${DATASET_FAMILIES.join(', ')}`),
      TASK_DEFAULTS.dataset,
    ),
    inputShape: v.optional(SHAPE),
    classes: v.optional(int(2, MAX_CLASSES, 'the number of classes')),
  },
  'a task must be an object of keys',
);

type TaskInput = v.InferOutput<typeof TASK_INPUT>;

/** The checks across keys: shape and classes from the data set, what the model needs of them. */
function complete(input: TaskInput): TaskSpecParse {
  const issues: TaskSpecIssue[] = [];
  const family = isDatasetName(input.dataset) ? DATASET_SHAPES[input.dataset] : undefined;
  // A tfjs model names its own sample shape and classes: a custom data set need not repeat them.
  const tfjs = input.model.kind === 'tfjs' ? input.model : undefined;
  const inputShape = input.inputShape ?? family?.inputShape ?? (tfjs && tfjsInputShape(tfjs));
  const classes = input.classes ?? family?.classes ?? (tfjs && outputUnits(tfjs));
  if (inputShape === undefined) issues.push({ key: 'inputShape', problem: 'required for a "custom" data set' });
  if (classes === undefined) issues.push({ key: 'classes', problem: 'required for a "custom" data set' });
  if (family !== undefined && inputShape !== undefined && inputShape.join('x') !== family.inputShape.join('x')) {
    issues.push({
      key: 'inputShape',
      problem: `${input.dataset} samples are ${family.inputShape.join('x')}, not ${inputShape.join('x')} (or use dataset "custom")`,
    });
  }
  if (family !== undefined && classes !== undefined && classes !== family.classes) {
    issues.push({
      key: 'classes',
      problem: `${input.dataset} has ${family.classes} classes, not ${classes} (or use dataset "custom")`,
    });
  }
  if (input.model.kind === 'tfjs' && inputShape !== undefined) {
    const wants = tfjsInputShape(input.model);
    if (wants.join('x') !== inputShape.join('x')) {
      issues.push({
        key: 'inputShape',
        problem: `the tfjs model takes [${wants.join(', ')}], not [${inputShape.join(', ')}]`,
      });
    }
  }
  if (input.model.kind === 'tfjs' && classes !== undefined) {
    const units = outputUnits(input.model);
    if (units !== classes) {
      issues.push({
        key: 'model',
        problem: `output layer "${input.model.outputLayer}" has ${units} units, not ${classes} classes`,
      });
    }
  }
  if (input.model.kind === 'cnn' && inputShape !== undefined && inputShape.length !== 3) {
    issues.push({
      key: 'inputShape',
      problem: `a cnn needs [height, width, channels], got [${inputShape.join(', ')}]`,
    });
  }
  if (issues.length === 0 && inputShape !== undefined && classes !== undefined) {
    const parameters = parameterCountOf(input.model, inputShape, classes);
    if (parameters > MAX_TASK_PARAMETERS) {
      issues.push({ key: 'model', problem: `${parameters} parameters, at most ${MAX_TASK_PARAMETERS}` });
    }
  }
  if (issues.length > 0 || inputShape === undefined || classes === undefined) return { ok: false, issues };
  const task: TaskSpec = { ...input, inputShape: [...inputShape], classes };
  const bytes = new TextEncoder().encode(encodeTaskSpec(task)).byteLength;
  if (bytes > MAX_TASK_SPEC_BYTES) {
    return { ok: false, issues: [{ key: '', problem: `task encodes to ${bytes} bytes, over ${MAX_TASK_SPEC_BYTES}` }] };
  }
  return { ok: true, task };
}

function issueOf(issue: v.BaseIssue<unknown>): TaskSpecIssue {
  const key = v.getDotPath(issue) ?? '';
  if (issue.type === 'strict_object' && issue.expected === 'never') {
    return { key, problem: `unknown key (allowed: ${Object.keys(TASK_INPUT.entries).join(', ')})` };
  }
  // Domain parsers name the deeper key themselves: "model.hidden must be ...".
  if (issue.type === 'raw_transform') return domainIssue(key, issue.message);
  return { key, problem: `${issue.message}, got ${issue.received}` };
}

/** Parses untrusted input (a config section, a peer's answer); defaults fill absent keys. Never throws. */
export function safeParseTaskSpec(input: unknown): TaskSpecParse {
  const result = v.safeParse(TASK_INPUT, input);
  if (!result.success) return { ok: false, issues: result.issues.map(issueOf) };
  return complete(result.output);
}

/** Parses untrusted input; throws a TaskSpecError naming every bad key. */
export function parseTaskSpec(input: unknown): TaskSpec {
  const result = safeParseTaskSpec(input);
  if (!result.ok) throw new TaskSpecError(result.issues);
  return result.task;
}

/** The task as plain JSON data in canonical key order (the order of TaskSpec's fields). */
export function taskSpecRecord(task: TaskSpec): Record<string, unknown> {
  return {
    taskId: task.taskId,
    model: modelRecord(task.model),
    modelSeed: task.modelSeed,
    codec: formatCodec(task.codec),
    strategy: typeof task.strategy === 'string' ? task.strategy : sortedKeys(task.strategy),
    batchSize: task.batchSize,
    learningRate: task.learningRate,
    localSteps: task.localSteps,
    keyframeInterval: task.keyframeInterval,
    dataset: task.dataset,
    inputShape: [...task.inputShape],
    classes: task.classes,
  };
}

/** The one text form of a task: JSON, fixed key order, no whitespace. */
export function encodeTaskSpec(task: TaskSpec): string {
  return JSON.stringify(taskSpecRecord(task));
}

/** Two tasks are the same task (every field, not only the fingerprinted ones). */
export function sameTask(a: TaskSpec, b: TaskSpec): boolean {
  return encodeTaskSpec(a) === encodeTaskSpec(b);
}

/**
 * Why samples of `featureShape` with `classes` classes cannot train `task`'s model, or
 * undefined when they can. An MLP flattens its input, so only the feature count must
 * match (a CSV of 784 columns trains a 28x28x1 task); a CNN needs the exact shape.
 */
export function dataProblem(
  data: { readonly featureShape: readonly number[]; readonly numClasses: number },
  task: TaskSpec,
): string | undefined {
  const shape = data.featureShape.join('x');
  const want = task.inputShape.join('x');
  const fits =
    shape === want || (task.model.kind === 'mlp' && sizeOfShape(data.featureShape) === sizeOfShape(task.inputShape));
  if (!fits) return `samples are ${shape}, task ${task.taskId} needs ${want}`;
  if (data.numClasses !== task.classes) return `${data.numClasses} classes, task ${task.taskId} has ${task.classes}`;
  return undefined;
}

/**
 * The wire schema of `task` for a peer exchanging the layers of `layout` (its trainable
 * layers): the fingerprint covers the task id, that layout, the model seed and the codec
 * family, and nothing else of the task.
 */
export function taskWireSchema(task: TaskSpec, layout: Weights): TaskSchema {
  return taskSchema({
    taskId: task.taskId,
    layout,
    modelSeed: task.modelSeed,
    codec: task.codec,
    // Names and shapes do not pin a tfjs topology (activations, connections): its digest does.
    ...(task.model.kind === 'tfjs' ? { architecture: topologyDigest(task.model) } : {}),
  });
}

/** Two model specs name the same model (every field). */
export function sameModel(a: ModelSpec, b: ModelSpec): boolean {
  return JSON.stringify(modelRecord(a)) === JSON.stringify(modelRecord(b));
}

function modelRecord(model: ModelSpec): Record<string, unknown> {
  switch (model.kind) {
    case 'mlp':
      return { kind: 'mlp', hidden: [...model.hidden] };
    case 'cnn':
      return {
        kind: 'cnn',
        stages: model.stages.map((s) => [...s]),
        dense: model.dense,
        reparam: model.reparam,
        ...(model.batchNormStats === undefined ? {} : { batchNormStats: model.batchNormStats }),
      };
    case 'tfjs':
      // The topology's keys were sorted when it was parsed.
      return {
        kind: 'tfjs',
        topology: model.topology,
        outputLayer: model.outputLayer,
        batchNormStats: model.batchNormStats,
      };
    default: {
      const never: never = model;
      throw new Error(`unknown model ${JSON.stringify(never)}`);
    }
  }
}

/** Objects with keys sorted at every depth (strategy options have no natural order). */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(record)
        .sort()
        .map((k) => [k, sortedKeys(record[k])]),
    );
  }
  return value;
}

/** The default task (TASK_DEFAULTS, parsed). */
export const DEFAULT_TASK: TaskSpec = parseTaskSpec({});
