/**
 * The daemon's task (a TaskSpec): spread over its config keys (`taskId`, `model`, `seed`,
 * `codec`, `strategy`, `round.localSteps`, `round.keyframeInterval`,
 * `optimizer.learningRate`, `resources.batchSize`, `dataset.kind`), or, with `join` and no
 * `model` section, fetched from the joined peer, with the device settings this config sets
 * laid over it. Every value is checked by parseTaskSpec; errors name the config key.
 *
 * Loaded by `daemon --check`, so it imports no tfjs and no libp2p.
 */
import type { DatasetFamily } from '../../src/data/families.ts';
import { dataProblem, safeParseTaskSpec, type TaskSpec, taskSpecRecord } from '../../src/peer/task.ts';
import { TASK_SPEC_KEYS, type TaskKeyNames } from '../../src/peer/task-mismatch.ts';
import type { ConfigKeys } from './config-error.ts';
import { DataError } from './data-error.ts';

/** Where each TaskSpec field is set in the daemon's config (for errors and mismatch hints). */
export const DAEMON_TASK_KEYS: TaskKeyNames = {
  ...TASK_SPEC_KEYS,
  modelSeed: 'seed',
  batchSize: 'resources.batchSize',
  learningRate: 'optimizer.learningRate',
  localSteps: 'round.localSteps',
  keyframeInterval: 'round.keyframeInterval',
  dataset: 'dataset.kind',
  inputShape: 'dataset.kind',
  classes: 'dataset.kind',
};

/** Settings each device may choose for itself: a joining daemon keeps these from its own config. */
export type DeviceChoices = Partial<
  Pick<TaskSpec, 'strategy' | 'batchSize' | 'learningRate' | 'localSteps' | 'keyframeInterval'>
>;

const DEVICE_CHOICES = ['strategy', 'batchSize', 'learningRate', 'localSteps', 'keyframeInterval'] as const;

export type TaskSource =
  /**
   * The task this config defines: TaskSpec input, complete except for the sample shape
   * and classes of custom data (IDX, CSV), which come from the loaded data.
   */
  | { readonly kind: 'config'; readonly input: Readonly<Record<string, unknown>> }
  /** The task of the peer at `address` (a multiaddr with /p2p/), with this config's device choices. */
  | { readonly kind: 'join'; readonly address: string; readonly choices: DeviceChoices };

/** The task family of a dataset source kind: the named data sets by name, files as "custom". */
export function datasetFamily(kind: string): DatasetFamily {
  return kind === 'mnist' || kind === 'fashion-mnist' || kind === 'synthetic' ? kind : 'custom';
}

/** A TaskSpec key path ("model.hidden", "modelSeed") as the daemon's config key path. */
function configKey(taskKey: string): string {
  const [field, ...rest] = taskKey.split('.');
  const mapped = DAEMON_TASK_KEYS[field as keyof TaskSpec] ?? taskKey;
  return [mapped, ...rest].join('.');
}

/** Checks TaskSpec input; a problem becomes a ConfigError at the config key it came from. */
function check(keys: ConfigKeys, input: Record<string, unknown>): void {
  // Custom data: a placeholder shape any model accepts, to check the other keys; the real
  // shape comes with the data (configTask), and a CNN's need of 3-D samples is checked then.
  // A tfjs model names its own shape and classes.
  const tfjs = (input.model as { kind?: unknown } | undefined)?.kind === 'tfjs';
  const probe = input.dataset === 'custom' && !tfjs ? { inputShape: [1, 1, 1], classes: 2, ...input } : input;
  const result = safeParseTaskSpec(probe);
  if (result.ok) return;
  const first = result.issues[0];
  if (first === undefined) return;
  keys.fail(configKey(first.key), first.problem);
}

/**
 * Reads the task keys of a config. `values` are the config's task values after the
 * config's own type and range checks (absent keys are undefined).
 */
export function readTaskSource(
  keys: ConfigKeys,
  values: {
    readonly join: string | undefined;
    readonly taskId: string;
    readonly codec: unknown;
    readonly strategy: unknown;
    readonly seed: number;
    readonly localSteps: number;
    readonly keyframeInterval: number;
    readonly learningRate: number;
    readonly batchSize: number;
    readonly datasetKind: string;
  },
): TaskSource {
  const present = (key: string): boolean => keys.present(key);
  if (values.join !== undefined && !present('model')) {
    // The task is the joined peer's: its identity cannot also come from this config.
    for (const key of ['taskId', 'codec']) {
      if (present(key)) {
        keys.fail(
          key,
          'comes from the joined peer (join without a model section): remove it, or give a model section to define the task here',
        );
      }
    }
    const all = {
      strategy: values.strategy,
      batchSize: values.batchSize,
      learningRate: values.learningRate,
      localSteps: values.localSteps,
      keyframeInterval: values.keyframeInterval,
    };
    const choices = Object.fromEntries(
      DEVICE_CHOICES.filter((field) => present(DAEMON_TASK_KEYS[field])).map((field) => [field, all[field]]),
    );
    check(keys, choices);
    const parsed = safeParseTaskSpec(choices);
    const chosen: DeviceChoices = parsed.ok
      ? Object.fromEntries(DEVICE_CHOICES.filter((f) => f in choices).map((f) => [f, parsed.task[f]]))
      : {};
    return { kind: 'join', address: values.join, choices: chosen };
  }
  const input: Record<string, unknown> = {
    taskId: values.taskId,
    ...(present('model') ? { model: keys.value('model') } : {}),
    modelSeed: values.seed,
    codec: values.codec,
    strategy: values.strategy,
    batchSize: values.batchSize,
    learningRate: values.learningRate,
    localSteps: values.localSteps,
    keyframeInterval: values.keyframeInterval,
    dataset: datasetFamily(values.datasetKind),
  };
  check(keys, input);
  return { kind: 'config', input };
}

/**
 * What `--check` prints of the task: the whole TaskSpec (canonical key order) when the
 * config defines it over a named data set; else what is known before the start.
 */
export function checkedTask(source: TaskSource): Record<string, unknown> {
  if (source.kind === 'join') return { join: source.address, ownSettings: source.choices };
  const parsed = source.input.dataset === 'custom' ? undefined : safeParseTaskSpec(source.input);
  if (parsed?.ok) return taskSpecRecord(parsed.task);
  return { ...source.input, inputShape: 'from the data', classes: 'from the data' };
}

/** The samples a daemon loaded: what a custom task takes its shape from, and what must fit any task. */
export interface LoadedShape {
  readonly featureShape: readonly number[];
  readonly numClasses: number;
}

/** The configured task, completed with the loaded data's shape for custom data. Throws DataError on a misfit. */
export function configTask(input: Readonly<Record<string, unknown>>, data: LoadedShape): TaskSpec {
  const custom = input.dataset === 'custom';
  const result = safeParseTaskSpec(
    custom ? { ...input, inputShape: data.featureShape, classes: data.numClasses } : input,
  );
  if (!result.ok) {
    const first = result.issues[0];
    throw new DataError(`dataset: ${first ? `${configKey(first.key)}: ${first.problem}` : 'does not fit the task'}`);
  }
  return fitted(result.task, data, 'dataset');
}

/** The joined peer's task with this daemon's device choices. Throws DataError when the data does not fit it. */
export function joinedTask(theirs: TaskSpec, choices: DeviceChoices, data: LoadedShape): TaskSpec {
  const result = safeParseTaskSpec({ ...taskSpecRecord(theirs), ...choices });
  if (!result.ok)
    throw new DataError(
      `join: the joined task with this config's settings is invalid: ${JSON.stringify(result.issues)}`,
    );
  return fitted(result.task, data, 'dataset (of the joined task)');
}

function fitted(task: TaskSpec, data: LoadedShape, what: string): TaskSpec {
  const problem = dataProblem(data, task);
  if (problem !== undefined) throw new DataError(`${what}: ${problem}`);
  return task;
}
