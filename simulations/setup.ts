/**
 * What every strategy of a scenario shares, built once: one copy of the data set, the
 * per-peer splits, the shared evaluation subset, which peers attack and which churn, the
 * model's input shape and (head mode) the backbone. Same seed -> same everything, so the
 * strategies compare side by side.
 */

import { loadDataset } from '../node/datasets.ts';
import { loadModelFile } from '../node/model-store.ts';
import { createAttack } from '../src/attacks/registry.ts';
import { type Attack, trainingLabels } from '../src/attacks/types.ts';
import { type Dataset, subset } from '../src/data/dataset.ts';
import { partitionDataset } from '../src/data/partition.ts';
import { publicValidationSet, withPublicValidation } from '../src/data/public-validation.ts';
import { createRng, type Rng } from '../src/data/rng.ts';
import { HEAD_KERNEL } from '../src/model/model.ts';
import type { Weights } from '../src/model/weights.ts';
import { parseTaskSpec, type TaskSpec } from '../src/peer/task.ts';
import type { Scenario } from './scenario.ts';

export interface PeerSetup {
  readonly index: number;
  readonly train: Dataset;
  readonly validation: Dataset;
  readonly familiarClasses: readonly number[];
  /** Samples at the end of `validation` that are the task's public set. */
  readonly validationPublic: number;
  readonly attacker: boolean;
  /** Round at which it starts (0, or the round of its churn join). */
  readonly joinRound: number;
  /** Rounds it runs before leaving (the scenario's rounds unless it churns out). */
  readonly leaveRound: number;
}

export interface SimulationSetup {
  readonly scenario: Scenario;
  readonly peers: readonly PeerSetup[];
  readonly evaluation: Dataset;
  /**
   * The scenario's task (every peer's model, seed, codec, training settings); strategies
   * differ per run, so its strategy is only the default of honest peers.
   */
  readonly task: TaskSpec;
  readonly attack: Attack | undefined;
  /** The task's public validation set (publicValidationPerClass > 0), in every peer's merge validation. */
  readonly publicValidation: Dataset | undefined;
  /** Backbone layers from the scenario's backbone file (head mode). */
  readonly backbone: Weights | undefined;
}

function shuffled(n: number, rng: Rng): Uint32Array {
  const a = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

function pick(from: number[], count: number, rng: Rng): number[] {
  const pool = [...from];
  const out: number[] = [];
  while (out.length < count && pool.length > 0) out.push(pool.splice(rng.int(pool.length), 1)[0]);
  return out.sort((a, b) => a - b);
}

export function buildSetup(scenario: Scenario): SimulationSetup {
  const rng = createRng(scenario.seed);
  const { train, test } = loadDataset(scenario.dataset);
  const joins = scenario.churn.filter((c) => c.kind === 'join');
  const total = scenario.peers + joins.reduce((n, c) => n + c.count, 0);
  const pool =
    scenario.samplesPerPeer === undefined
      ? train
      : subset(
          train,
          shuffled(train.y.length, rng.fork('pool')).subarray(
            0,
            Math.min(train.y.length, total * scenario.samplesPerPeer),
          ),
        );
  const parts = partitionDataset(pool, scenario.partition, {
    peers: total,
    seed: scenario.seed,
    validationPerClass: scenario.validationPerClass,
  });
  const evaluationIndices = shuffled(test.y.length, rng.fork('evaluation')).subarray(
    0,
    Math.min(test.y.length, scenario.testSubset),
  );
  const evaluation = subset(test, evaluationIndices);
  // The task's public validation set: the same few samples of every class for all peers,
  // never among the samples accuracy is reported on.
  const publicValidation =
    scenario.publicValidationPerClass > 0
      ? publicValidationSet(test, {
          perClass: scenario.publicValidationPerClass,
          seed: scenario.seed,
          exclude: new Set(evaluationIndices),
        })
      : undefined;

  const initial = Array.from({ length: scenario.peers }, (_, i) => i);
  const attackers = new Set(pick(initial, scenario.byzantine?.count ?? 0, rng.fork('attackers')));
  const attack = scenario.byzantine ? createAttack(scenario.byzantine.attack) : undefined;
  const leaveRound = new Map<number, number>();
  let candidates = initial.filter((i) => !attackers.has(i));
  for (const [k, c] of scenario.churn.entries()) {
    if (c.kind !== 'leave') continue;
    for (const i of pick(candidates, c.count, rng.fork(`leave-${k}`))) leaveRound.set(i, c.round);
    candidates = candidates.filter((i) => !leaveRound.has(i));
  }
  const joinRounds = joins.flatMap((c) => Array.from({ length: c.count }, () => c.round));

  const peers = parts.map((part, index): PeerSetup => {
    const attacker = attackers.has(index);
    let trainData = subset(pool, part.train);
    if (attacker && attack) trainData = { ...trainData, y: trainingLabels(attack, trainData.y, trainData.numClasses) };
    const own = subset(pool, part.validation);
    const merge = publicValidation
      ? withPublicValidation(own, publicValidation)
      : { validation: own, familiarClasses: part.familiarClasses };
    return {
      index,
      train: trainData,
      validation: merge.validation,
      familiarClasses: merge.familiarClasses,
      validationPublic: publicValidation ? publicValidation.y.length : 0,
      attacker,
      joinRound: index < scenario.peers ? 0 : joinRounds[index - scenario.peers],
      leaveRound: leaveRound.get(index) ?? scenario.rounds,
    };
  });
  let backbone: Weights | undefined;
  if (scenario.backbone !== undefined) {
    const file = loadModelFile(scenario.backbone);
    backbone = file.weights.filter((l) => l.name !== HEAD_KERNEL);
  }
  return { scenario, peers, evaluation, task: scenarioTask(scenario), attack, publicValidation, backbone };
}

/**
 * The task every peer of a scenario takes part in: task id `sim-<name>`, the scenario's
 * model, seed (common initial model), codec and training settings. Epochs per round
 * (localEpochs) are the runner's choice, outside the task; so is the keyframe default.
 */
export function scenarioTask(scenario: Scenario): TaskSpec {
  return parseTaskSpec({
    taskId: `sim-${scenario.name}`,
    model: scenario.model,
    modelSeed: scenario.seed,
    codec: scenario.codec,
    batchSize: scenario.batchSize,
    learningRate: scenario.learningRate,
    ...('steps' in scenario.local ? { localSteps: scenario.local.steps } : {}),
    dataset: scenario.dataset,
  });
}
