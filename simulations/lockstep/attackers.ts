/**
 * What the attackers of a lockstep run send each round (ALGORITHMS.md §6).
 *
 * Attackers are omniscient colluders: every round each one starts from the mean of the
 * honest peers' current models (the strongest start: its model stays close to what the
 * honest peers hold) and does not merge.
 *  - Data attacks (label flipping): each attacker trains on its own partition with
 *    flipped labels and sends its own model.
 *  - Model attacks (ALIE, IPM, sign flip, Gaussian, scaling, free-rider, ...): the lead
 *    attacker trains honestly on its partition (`own`, with the start as `reference`),
 *    crafts one malicious model from that and this round's honest models, and every
 *    attacker sends that same model (collusion; randomised attacks draw from one rng).
 *  - Model attacks marked `perColluder` (adaptive-alie, public-set): every attacker trains
 *    on its own partition (flipped labels if the attack says so) and crafts its own model,
 *    with its own rng (forked from the round's by colluder index), so the copies differ.
 * Attackers know their training data's always-zero inputs (dead-input-blowup) and, when
 * the run has one, the task's public validation set (public-set).
 */
import type { Attack, AttackSpec, PublicSetAccess } from '../../src/attacks/index.ts';
import { createAttack, deadInputMask, trainingLabels } from '../../src/attacks/index.ts';
import type { Dataset } from '../../src/data/dataset.ts';
import type { Rng } from '../../src/data/rng.ts';
import type { Weights } from '../../src/model/weights.ts';
import type { TrainAmount } from '../../src/train/trainer.ts';
import type { SimPeer } from './peers.ts';

/** Attacks whose n and f (the run's peers and attackers) fill in ALIE's z. */
const ALIE_LIKE = new Set(['alie', 'adaptive-alie']);

/**
 * The attack, with ALIE's `n` and `f` filled in from the run (n = all peers, f = attackers)
 * unless the spec sets n, f or z itself.
 */
export function attackForRun(spec: AttackSpec, peers: number, attackers: number): Attack {
  const { name, options = {} } = typeof spec === 'string' ? { name: spec } : spec;
  const givesAlieSize = 'n' in options || 'f' in options || 'z' in options;
  if (ALIE_LIKE.has(name) && !givesAlieSize) {
    return createAttack({ name, options: { ...options, n: peers, f: attackers } });
  }
  return createAttack({ name, options });
}

/** Datasets of attackers that train on flipped labels (shares the features, copies labels). */
export function poisonedData(attack: Attack, data: Dataset): Dataset {
  const y = trainingLabels(attack, data.y, data.numClasses);
  return y === data.y ? data : { ...data, y };
}

/** What an attacker knows besides its training data. */
export interface AttackerKnowledge {
  /** deadInputMask of its (unpoisoned) training features. */
  readonly deadInputs: Uint8Array;
  /** Present when the run has a public validation set. */
  readonly publicSet?: PublicSetAccess;
}

/** An attacker's view of the task's public validation set, through its own trainer. */
export function publicSetAccess(peer: SimPeer, publicSet: Dataset): PublicSetAccess {
  return {
    f1: (w) => peer.trainer.evaluateWeights(w, publicSet).f1,
    fineTune: (w, steps) => {
      peer.trainer.setWeights(w);
      peer.trainer.train(publicSet, { steps });
      return peer.trainer.getWeights();
    },
  };
}

export function attackerKnowledge(peer: SimPeer, publicSet: Dataset | undefined): AttackerKnowledge {
  return {
    deadInputs: deadInputMask(peer.train),
    ...(publicSet ? { publicSet: publicSetAccess(peer, publicSet) } : {}),
  };
}

export interface AttackRound {
  readonly attack: Attack;
  readonly attackers: readonly SimPeer[];
  /** Training data per attacker index (flipped labels for data attacks). */
  readonly data: ReadonlyMap<number, Dataset>;
  /** What each attacker knows, by attacker index. */
  readonly knowledge: ReadonlyMap<number, AttackerKnowledge>;
  /** Mean of the honest peers' current models: where every attacker starts. */
  readonly start: Weights;
  /** Models the honest peers send this round. */
  readonly honest: readonly Weights[];
  readonly local: TrainAmount;
  readonly rng: Rng;
}

/** The model each attacker sends this round, by peer index. */
export function attackerModels(r: AttackRound): Map<number, Weights> {
  const sent = new Map<number, Weights>();
  const lead = r.attackers[0];
  if (lead === undefined) return sent;
  const { attack } = r;
  if (attack.kind === 'labels') {
    for (const a of r.attackers) sent.set(a.index, trainFrom(a, r.start, r.data.get(a.index) as Dataset, r.local));
    return sent;
  }
  const craftFor = (a: SimPeer, colluder: number | undefined, rng: Rng): Weights => {
    const known = r.knowledge.get(a.index);
    return attack.craft({
      own: trainFrom(a, r.start, r.data.get(a.index) as Dataset, r.local),
      reference: r.start,
      honest: r.honest,
      outputLayer: a.trainer.model.outputLayer,
      rng,
      ...(colluder === undefined ? {} : { colluder }),
      ...(known?.deadInputs ? { deadInputs: known.deadInputs } : {}),
      ...(known?.publicSet ? { publicSet: known.publicSet } : {}),
    });
  };
  if (attack.perColluder === true) {
    r.attackers.forEach((a, k) => {
      sent.set(a.index, craftFor(a, k, r.rng.fork(`colluder-${k}`)));
    });
    return sent;
  }
  const malicious = craftFor(lead, undefined, r.rng);
  for (const a of r.attackers) sent.set(a.index, malicious);
  return sent;
}

function trainFrom(peer: SimPeer, start: Weights, data: Dataset, local: TrainAmount): Weights {
  peer.trainer.setWeights(start);
  peer.trainer.train(data, local);
  return peer.trainer.getWeights();
}
