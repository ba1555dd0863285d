/**
 * Mode "lockstep" of the runner (scenario key "mode", docs/SIMULATIONS.md): synchronous
 * rounds of real Peers on the in-process bus, so merge rules compare under attack with
 * the same numbers for the same seed.
 *
 *  - Every peer closes a round on a fresh update from every other peer, with no deadline
 *    (the scenario sets minFreshUpdates = peers - 1; the bus floods every update to all).
 *  - No peer publishes round r + 1 before every peer closed round r (`opened`), so each
 *    merge of round r reads exactly the round-r models (through the task's codec, int8
 *    deltas by default), whatever order the event loop runs peers in.
 *  - Attackers are omniscient colluders (ALGORITHMS.md, "Attacks"): each round every one
 *    starts from the mean of the honest peers' models at the start of the round, trains on
 *    its own share (flipped labels for data attacks) and sends:
 *      data attacks: its own model;
 *      model attacks: one model the lead attacker (lowest index) crafts from its own and
 *        this round's honest models, the same for every attacker (one rng per round);
 *      model attacks marked `perColluder` (adaptive-alie, public-set): its own crafted
 *        model, with its own rng (forked from the round's by colluder index).
 *    They know their training data's always-zero inputs (dead-input-blowup) and, when the
 *    scenario has one, the task's public validation set (public-set).
 *    What an attacker merges is thrown away: it restarts from the honest mean.
 */
import { deadInputMask } from '../src/attacks/dead-input-blowup.ts';
import type { Attack, PublicSetAccess } from '../src/attacks/types.ts';
import type { Dataset } from '../src/data/dataset.ts';
import { createRng } from '../src/data/rng.ts';
import type { Weights } from '../src/model/weights.ts';
import type { PeerTrainer, TrainAmount } from '../src/train/trainer.ts';

/** Element-wise mean of models with one layout (accumulated in float64). */
export function meanWeights(models: readonly Weights[]): Weights {
  const first = models[0];
  if (first === undefined) throw new RangeError('meanWeights: no models');
  return first.map((l, i) => {
    const acc = new Float64Array(l.values.length);
    for (const m of models) {
      const layer = m[i];
      if (layer === undefined || layer.values.length !== acc.length) {
        throw new RangeError(`meanWeights: layer ${l.name} differs between models`);
      }
      const v = layer.values;
      for (let k = 0; k < acc.length; k++) acc[k] = (acc[k] ?? 0) + (v[k] ?? 0);
    }
    return { name: l.name, shape: [...l.shape], values: Float32Array.from(acc, (s) => s / models.length) };
  });
}

/** What the honest peers of one round hold, in honest peer index order. */
export interface HonestRound {
  /** Their exchanged layers at the start of the round (the merge of the round before). */
  readonly starts: readonly Weights[];
  /** The models they publish this round. */
  readonly sent: readonly Weights[];
}

interface Waiter {
  readonly ready: () => boolean;
  readonly resolve: () => void;
}

/**
 * The rounds of one lockstep run: which peers closed which round, and the honest peers'
 * models of each round. Every wait settles when the run is stopped (`abort`): then
 * `opened` resolves and the model getters resolve undefined, so no Peer hangs in stop().
 */
export class LockstepRounds {
  readonly #peers: number;
  readonly #honest: readonly number[];
  readonly #ended = new Map<number, number>();
  readonly #starts = new Map<number, Map<number, Weights>>();
  readonly #sent = new Map<number, Map<number, Weights>>();
  readonly #crafted = new Map<number, Weights>();
  #waiters: Waiter[] = [];
  #aborted = false;

  /** `peers`: every peer of the run; `honest`: the honest ones' indices. */
  constructor(peers: number, honest: readonly number[]) {
    this.#peers = peers;
    this.#honest = [...honest].sort((a, b) => a - b);
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  /** A peer closed `round`. */
  ended(round: number): void {
    this.#ended.set(round, (this.#ended.get(round) ?? 0) + 1);
    // Nothing waits on rounds every peer has passed: forget their models.
    this.#starts.delete(round - 1);
    this.#sent.delete(round - 1);
    this.#crafted.delete(round - 1);
    this.#check();
  }

  /** An honest peer starts `round` holding `weights` (its exchanged layers). */
  started(peer: number, round: number, weights: Weights): void {
    this.#put(this.#starts, peer, round, weights);
  }

  /** An honest peer publishes `weights` in `round`. */
  sent(peer: number, round: number, weights: Weights): void {
    this.#put(this.#sent, peer, round, weights);
  }

  /** Resolves once every peer closed round - 1 (at once for round 0), or the run stops. */
  opened(round: number): Promise<void> {
    return this.#until(() => round === 0 || (this.#ended.get(round - 1) ?? 0) >= this.#peers);
  }

  /** Every honest peer's start and sent model of `round` (undefined: the run stopped). */
  async honestRound(round: number): Promise<HonestRound | undefined> {
    const complete = (m: Map<number, Map<number, Weights>>): boolean =>
      (m.get(round)?.size ?? 0) >= this.#honest.length;
    await this.#until(() => complete(this.#starts) && complete(this.#sent));
    if (this.#aborted) return undefined;
    const pick = (m: Map<number, Map<number, Weights>>): Weights[] => {
      const byPeer = m.get(round) as Map<number, Weights>;
      return this.#honest.map((i) => byPeer.get(i) as Weights);
    };
    return { starts: pick(this.#starts), sent: pick(this.#sent) };
  }

  /** The lead attacker's crafted model of `round`, shared by every colluder. */
  craftedBy(round: number, weights: Weights): void {
    this.#crafted.set(round, weights);
    this.#check();
  }

  /** Waits for the lead's model of `round` (undefined: the run stopped). */
  async crafted(round: number): Promise<Weights | undefined> {
    await this.#until(() => this.#crafted.has(round));
    return this.#crafted.get(round);
  }

  /** Stops the run: every wait, now and later, settles. */
  abort(): void {
    this.#aborted = true;
    this.#check();
  }

  #put(m: Map<number, Map<number, Weights>>, peer: number, round: number, weights: Weights): void {
    let byPeer = m.get(round);
    if (byPeer === undefined) {
      byPeer = new Map();
      m.set(round, byPeer);
    }
    byPeer.set(peer, weights);
    this.#check();
  }

  #until(ready: () => boolean): Promise<void> {
    if (this.#aborted || ready()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ ready, resolve }));
  }

  #check(): void {
    const waiting: Waiter[] = [];
    for (const w of this.#waiters) {
      if (this.#aborted || w.ready()) w.resolve();
      else waiting.push(w);
    }
    this.#waiters = waiting;
  }
}

/** One attacker of a lockstep run. */
export interface LockstepAttacker {
  /** Its peer index. */
  readonly index: number;
  /** Its rank among the attackers (0: the lead). */
  readonly colluder: number;
  readonly trainer: PeerTrainer;
  /** Its training share (labels flipped for data attacks). */
  readonly train: Dataset;
}

export interface LockstepAttackContext {
  readonly attack: Attack;
  readonly rounds: LockstepRounds;
  readonly local: TrainAmount;
  /** The scenario's seed: the attack's rng of round r is fork `attack-<r>` of it. */
  readonly seed: number;
  /** The task's public validation set, when the scenario has one (public-set). */
  readonly publicSet: Dataset | undefined;
}

/** An attacker's view of the public validation set, through its own trainer. */
export function publicSetAccess(trainer: PeerTrainer, publicSet: Dataset): PublicSetAccess {
  const full = (w: Weights): Weights => {
    const byName = new Map(w.map((l) => [l.name, l]));
    return trainer.getWeights().map((l) => byName.get(l.name) ?? l);
  };
  return {
    f1: (w) => trainer.evaluateWeights(full(w), publicSet).f1,
    fineTune: (w, steps) => {
      trainer.setLayers(w);
      trainer.train(publicSet, { steps });
      return exchanged(trainer);
    },
  };
}

function exchanged(trainer: PeerTrainer): Weights {
  const layers = trainer.trainableLayers();
  return trainer.getWeights().filter((l) => layers.has(l.name));
}

/**
 * What attacker `a` publishes in `round` (see the header); `own` when the run stopped.
 * Runs in the attacker's Peer's outgoing hook: its trainer is idle there.
 */
export async function lockstepAttackerModel(
  a: LockstepAttacker,
  round: number,
  own: Weights,
  c: LockstepAttackContext,
): Promise<Weights> {
  const { attack, rounds } = c;
  await rounds.opened(round);
  const honest = await rounds.honestRound(round);
  if (honest === undefined) return own;
  const shared = attack.kind === 'model' && attack.perColluder !== true;
  if (shared && a.colluder > 0) return (await rounds.crafted(round)) ?? own;
  const start = meanWeights(honest.starts);
  a.trainer.setLayers(start);
  a.trainer.train(a.train, c.local);
  const trained = exchanged(a.trainer);
  if (attack.kind === 'labels') return trained;
  const rng = createRng(c.seed).fork(`attack-${round}`);
  const crafted = attack.craft({
    own: trained,
    reference: start,
    honest: honest.sent,
    outputLayer: a.trainer.model.outputLayer,
    rng: shared ? rng : rng.fork(`colluder-${a.colluder}`),
    ...(shared ? {} : { colluder: a.colluder }),
    ...(attack.name === 'dead-input-blowup' ? { deadInputs: deadInputMask(a.train) } : {}),
    ...(c.publicSet === undefined ? {} : { publicSet: publicSetAccess(a.trainer, c.publicSet) }),
  });
  if (shared) rounds.craftedBy(round, crafted);
  return crafted;
}
