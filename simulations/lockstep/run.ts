/**
 * The lockstep round loop. Each round, in order:
 *  1. every honest peer trains locally from its current model;
 *  2. the attackers produce the models they send (./attackers.ts);
 *  3. every honest peer merges its own model with its neighbours' models of this round
 *     (all merges read the same sent models, so peer order does not matter) and keeps
 *     the result; each merge is timed;
 *  4. every honest peer's accuracy is measured on the fixed test subset, and the largest
 *     |w| among the honest models is recorded (blow-up attacks hide from accuracy).
 */

import { type Dataset, subset } from '../../src/data/dataset.ts';
import { publicValidationSet } from '../../src/data/public-validation.ts';
import { createRng } from '../../src/data/rng.ts';
import {
  type Candidate,
  createStrategy,
  type MergeContext,
  type MergeReport,
  type Strategy,
} from '../../src/merge/index.ts';
import { isOracle, oracleStrategy } from '../../src/merge/oracle.ts';
import type { StrategySpec } from '../../src/merge/registry.ts';
import { prepareModel } from '../../src/model/tfjs-model.ts';
import type { Weights } from '../../src/model/weights.ts';
import { initBackend } from '../../src/train/backend.ts';
import { attackerKnowledge, attackerModels, attackForRun, poisonedData } from './attackers.ts';
import { type LockstepConfig, type ResolvedConfig, resolveConfig } from './config.ts';
import { buildPeers, chooseAttackers, disposePeers, type SimPeer } from './peers.ts';
import { fullTopology, randomRegularTopology } from './topology.ts';

export interface AccuracySummary {
  readonly mean: number;
  readonly min: number;
  readonly max: number;
}

export interface RoundRecord {
  /** From 0. */
  readonly round: number;
  /** Honest peers' accuracy on the test subset after this round's merge. */
  readonly honestAccuracy: AccuracySummary;
  /** Mean over honest peers of the total merge share given to attackers' models (0..1). */
  readonly attackerShare: number;
  /** Largest |w| over the honest peers' exchanged weights after this round's merge. */
  readonly honestMaxAbs: number;
}

export interface LockstepResult {
  readonly rounds: readonly RoundRecord[];
  /** The last round (round -1 with the initial accuracy when rounds = 0). */
  readonly final: RoundRecord;
  /** Indices of the attacking peers. */
  readonly attackers: readonly number[];
  /** neighbours[i]: the peers whose models peer i merges. */
  readonly neighbours: readonly (readonly number[])[];
  /** Test samples accuracy is measured on. */
  readonly testSamples: number;
  /**
   * Per round: wall ms of one honest peer's merge, averaged over the honest peers (timing,
   * so kept out of the deterministic RoundRecords).
   */
  readonly mergeMs: readonly number[];
  /** Samples of the public validation set (mergeValidation 'public+own'), else 0. */
  readonly publicValidationSamples: number;
  readonly elapsedMs: number;
}

export interface LockstepHooks {
  /** Called after every round (synchronously, before the next one starts). */
  readonly onRound?: (record: RoundRecord) => void;
  /** Called with every honest peer's merge report (diagnostics: who was used, who rejected). */
  readonly onMerge?: (peer: number, round: number, report: MergeReport) => void;
}

/** A seeded split of sample indices 0..n-1: the first `count` after a shuffle (all when count is 0 or >= n), and the rest. */
export function seededSplit(n: number, count: number, seed: number): { chosen: Uint32Array; rest: Uint32Array } {
  const order = createRng(seed)
    .fork('subset')
    .shuffle(Array.from({ length: n }, (_, i) => i));
  const take = count <= 0 || count >= n ? n : count;
  return { chosen: Uint32Array.from(order.slice(0, take)).sort(), rest: Uint32Array.from(order.slice(take)).sort() };
}

/** `count` samples of `data` picked by a seeded shuffle (all of them when count is 0 or too large). */
export function seededSubset(data: Dataset, count: number, seed: number): Dataset {
  if (count <= 0 || count >= data.y.length) return data;
  return subset(data, seededSplit(data.y.length, count, seed).chosen);
}

/** Element-wise mean of models with one layout. */
export function meanWeights(models: readonly Weights[]): Weights {
  const first = models[0];
  if (first === undefined) throw new RangeError('meanWeights: no models');
  return first.map((l, i) => {
    const acc = new Float64Array(l.values.length);
    for (const m of models) {
      const v = (m[i] as (typeof m)[number]).values;
      for (let k = 0; k < acc.length; k++) acc[k] = (acc[k] as number) + (v[k] as number);
    }
    return { name: l.name, shape: [...l.shape], values: Float32Array.from(acc, (s) => s / models.length) };
  });
}

/** The layers a peer trains and exchanges, as they are now. */
function exchangedWeights(peer: SimPeer): Weights {
  const exchanged = peer.trainer.trainableLayers();
  return peer.trainer.getWeights().filter((l) => exchanged.has(l.name));
}

function summarize(values: readonly number[]): AccuracySummary {
  return {
    mean: values.reduce((s, v) => s + v, 0) / values.length,
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

function neighbourLists(config: ResolvedConfig): number[][] {
  if (config.topology === 'full') return fullTopology(config.peers);
  return randomRegularTopology(config.peers, config.degree as number, createRng(config.seed).fork('topology'));
}

function mergeContext(
  peer: SimPeer,
  round: number,
  reference: Weights,
  report: (r: MergeReport) => void,
): MergeContext {
  const { trainer } = peer;
  const { evaluate, linearInput } = trainer.mergeScoring(peer.validation);
  return {
    evaluate,
    ...(linearInput === undefined ? {} : { linearInput }),
    familiarClasses: peer.familiarClasses,
    numClasses: trainer.model.numClasses,
    outputLayer: trainer.model.outputLayer,
    trainableLayers: trainer.trainableLayers(),
    ownSamples: peer.train.y.length,
    reference,
    round,
    rng: createRng(peer.index).fork(`merge-${round}`),
    report,
  };
}

function maxAbs(w: Weights): number {
  let m = 0;
  for (const l of w) {
    for (const v of l.values) {
      const a = Math.abs(v);
      if (a > m) m = a;
      else if (Number.isNaN(a)) return Number.NaN;
    }
  }
  return m;
}

/**
 * The merge rule of an honest peer: a registered strategy, or the honest-only oracle
 * ("oracle": mean over the candidates ground truth calls honest, src/merge/oracle.ts).
 */
export function lockstepStrategy(spec: StrategySpec, isHonest: (peer: string) => boolean): Strategy {
  if (!isOracle(spec)) return createStrategy(spec);
  return oracleStrategy(isHonest, typeof spec === 'string' ? {} : spec.options);
}

/** Share of a merge that went to attackers' models. */
function shareOf(report: MergeReport | undefined, byzantine: ReadonlySet<string>): number {
  if (report === undefined) return 0;
  return report.used.reduce((s, u) => s + (byzantine.has(u.peer) ? u.share : 0), 0);
}

export async function runLockstep(input: LockstepConfig, hooks: LockstepHooks = {}): Promise<LockstepResult> {
  const config = resolveConfig(input);
  const started = performance.now();
  await initBackend('wasm');
  const attackerIndices = chooseAttackers(config.peers, config.attackers, config.seed);
  const attack =
    config.byzantine && config.attackers > 0
      ? attackForRun(config.byzantine.attack, config.peers, config.attackers)
      : undefined;
  const neighbours = neighbourLists(config);
  const testSplit = seededSplit(config.dataset.test.y.length, config.testSubset, config.seed);
  const test = subset(config.dataset.test, testSplit.chosen);
  // The task's public validation set: the same samples for every peer, outside the accuracy subset.
  const publicSet =
    config.mergeValidation === 'public+own'
      ? publicValidationSet(config.dataset.test, {
          perClass: config.publicValidationPerClass,
          seed: config.seed,
          exclude: new Set(testSplit.chosen),
        })
      : undefined;
  if (attack?.name === 'public-set' && publicSet === undefined) {
    throw new RangeError("lockstep: the public-set attack needs mergeValidation 'public+own' (a public set)");
  }
  await prepareModel(config.model);
  const peers = buildPeers(config, attackerIndices, testSplit.rest, publicSet);
  try {
    const honest = peers.filter((p) => !p.byzantine);
    const attackers = peers.filter((p) => p.byzantine);
    const byzantineIds = new Set(attackers.map((p) => p.id));
    const honestIds = new Set(honest.map((p) => p.id));
    const strategies = new Map<number, Strategy>(
      honest.map((p) => [p.index, lockstepStrategy(config.strategy, (id) => honestIds.has(id))]),
    );
    const attackData = new Map(attackers.map((a) => [a.index, attack ? poisonedData(attack, a.train) : a.train]));
    const knowledge = new Map(attackers.map((a) => [a.index, attackerKnowledge(a, publicSet)]));
    const rounds: RoundRecord[] = [];
    const mergeMs: number[] = [];
    for (let round = 0; round < config.rounds; round++) {
      const start = meanWeights(honest.map((p) => p.trainer.getWeights()));
      const sent = new Map<number, Weights>();
      const references = new Map<number, Weights>();
      for (const p of honest) {
        references.set(p.index, exchangedWeights(p));
        p.trainer.train(p.train, config.local);
        sent.set(p.index, p.trainer.getWeights());
      }
      if (attack !== undefined) {
        const crafted = attackerModels({
          attack,
          attackers,
          data: attackData,
          knowledge,
          start,
          honest: honest.map((p) => sent.get(p.index) as Weights),
          local: config.local,
          rng: createRng(config.seed).fork(`attack-${round}`),
        });
        for (const [index, w] of crafted) sent.set(index, w);
      }
      const shares: number[] = [];
      let mergeTotalMs = 0;
      const merged = honest.map((p) => {
        const candidates: Candidate[] = (neighbours[p.index] as number[]).map((j) => ({
          peer: (peers[j] as SimPeer).id,
          seq: round,
          weights: sent.get(j) as Weights,
          samples: (peers[j] as SimPeer).train.y.length,
        }));
        let report: MergeReport | undefined;
        const strategy = strategies.get(p.index) as Strategy;
        const mergeStart = performance.now();
        const w = strategy(
          sent.get(p.index) as Weights,
          candidates,
          mergeContext(p, round, references.get(p.index) as Weights, (r) => {
            report = r;
          }),
        );
        mergeTotalMs += performance.now() - mergeStart;
        shares.push(shareOf(report, byzantineIds));
        if (report !== undefined) hooks.onMerge?.(p.index, round, report);
        return w;
      });
      mergeMs.push(mergeTotalMs / honest.length);
      honest.forEach((p, k) => {
        const exchanged = p.trainer.trainableLayers();
        p.trainer.setLayers((merged[k] as Weights).filter((l) => exchanged.has(l.name)));
      });
      const record: RoundRecord = {
        round,
        honestAccuracy: summarize(honest.map((p) => p.trainer.evaluate(test).overallAccuracy)),
        attackerShare: shares.reduce((s, v) => s + v, 0) / shares.length,
        honestMaxAbs: Math.max(...honest.map((p) => maxAbs(exchangedWeights(p)))),
      };
      rounds.push(record);
      hooks.onRound?.(record);
    }
    const final = rounds.at(-1) ?? {
      round: -1,
      honestAccuracy: summarize(honest.map((p) => p.trainer.evaluate(test).overallAccuracy)),
      attackerShare: 0,
      honestMaxAbs: Math.max(...honest.map((p) => maxAbs(exchangedWeights(p)))),
    };
    return {
      rounds,
      final,
      attackers: attackerIndices,
      neighbours,
      testSamples: test.y.length,
      mergeMs,
      publicValidationSamples: publicSet?.y.length ?? 0,
      elapsedMs: performance.now() - started,
    };
  } finally {
    disposePeers(peers);
  }
}
