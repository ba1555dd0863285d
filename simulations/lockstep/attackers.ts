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
 */
import type { Attack, AttackSpec } from '../../src/attacks/index.ts';
import { createAttack } from '../../src/attacks/index.ts';
import type { Dataset } from '../../src/data/dataset.ts';
import type { Rng } from '../../src/data/rng.ts';
import type { Weights } from '../../src/model/weights.ts';
import type { TrainAmount } from '../../src/train/trainer.ts';
import type { SimPeer } from './peers.ts';

/**
 * The attack, with ALIE's `n` and `f` filled in from the run (n = all peers, f = attackers)
 * unless the spec sets n, f or z itself.
 */
export function attackForRun(spec: AttackSpec, peers: number, attackers: number): Attack {
  const { name, options = {} } = typeof spec === 'string' ? { name: spec } : spec;
  const givesAlieSize = 'n' in options || 'f' in options || 'z' in options;
  if (name === 'alie' && !givesAlieSize) return createAttack({ name, options: { ...options, n: peers, f: attackers } });
  return createAttack({ name, options });
}

/** Datasets of attackers that train on flipped labels (shares the features, copies labels). */
export function poisonedData(attack: Attack, data: Dataset): Dataset {
  return attack.kind === 'labels' ? { ...data, y: attack.flip(data.y, data.numClasses) } : data;
}

export interface AttackRound {
  readonly attack: Attack;
  readonly attackers: readonly SimPeer[];
  /** Training data per attacker index (flipped labels for data attacks). */
  readonly data: ReadonlyMap<number, Dataset>;
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
  if (r.attack.kind === 'labels') {
    for (const a of r.attackers) sent.set(a.index, trainFrom(a, r.start, r.data.get(a.index) as Dataset, r.local));
    return sent;
  }
  const own = trainFrom(lead, r.start, r.data.get(lead.index) as Dataset, r.local);
  const malicious = r.attack.craft({
    own,
    reference: r.start,
    honest: r.honest,
    outputLayer: lead.trainer.model.outputLayer,
    rng: r.rng,
  });
  for (const a of r.attackers) sent.set(a.index, malicious);
  return sent;
}

function trainFrom(peer: SimPeer, start: Weights, data: Dataset, local: TrainAmount): Weights {
  peer.trainer.setWeights(start);
  peer.trainer.train(data, local);
  return peer.trainer.getWeights();
}
