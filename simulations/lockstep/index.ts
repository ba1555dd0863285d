/**
 * Lockstep: an algorithm-level federated learning experiment without a network. N peers
 * in one process train, attack and merge in synchronous rounds, exchanging `Weights`
 * directly, so merge rules can be compared under attacks in seconds. The strategy name
 * "oracle" (honest peers merge only honest candidates with mean) is resolved here from the
 * run's ground truth; simulations/lockstep/compare.ts prints and saves comparison tables.
 *
 * @example
 * ```ts
 * import { loadDataset } from '../../node/datasets.ts';
 * import { runLockstep } from './index.ts';
 * const result = await runLockstep({
 *   dataset: loadDataset('mnist'), model: { kind: 'mlp', hidden: [64] }, peers: 10,
 *   partition: { kind: 'shards', classesPerPeer: 4 }, strategy: 'bristle+ldawa',
 *   byzantine: { fraction: 0.3, attack: 'alie' }, rounds: 10, localSteps: 10, seed: 1,
 * }, { onRound: (r) => console.log(r.round, r.honestAccuracy.mean) });
 * ```
 */
export {
  type AttackerKnowledge,
  type AttackRound,
  attackerKnowledge,
  attackerModels,
  attackForRun,
  poisonedData,
  publicSetAccess,
} from './attackers.ts';
export {
  type ByzantineConfig,
  LOCKSTEP_DEFAULTS,
  type LockstepConfig,
  MERGE_VALIDATIONS,
  type MergeValidation,
  type ResolvedConfig,
  resolveConfig,
  type TopologyKind,
} from './config.ts';
export { allClassValidation, buildPeers, chooseAttackers, disposePeers, type SimPeer } from './peers.ts';
export {
  type AccuracySummary,
  type LockstepHooks,
  type LockstepResult,
  lockstepStrategy,
  meanWeights,
  type RoundRecord,
  runLockstep,
  seededSplit,
  seededSubset,
} from './run.ts';
export { fullTopology, randomRegularTopology } from './topology.ts';
