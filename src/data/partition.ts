/**
 * Seeded partitioners: which samples of a data set each peer holds. Every peer's share is
 * split into a training part and a small validation part (Bristle's per-peer validation
 * set, about `validationPerClass` samples of each class it holds), and its familiar
 * classes are the classes of its training part. Shares of different peers never overlap.
 * See ALGORITHMS.md §1 and src/data/README.md.
 */
import type { Dataset } from './dataset.ts';
import type { PartitionSpec, ShardLayout } from './partition-spec.ts';
import { createRng, type Rng } from './rng.ts';

export interface PartitionOptions {
  /** Number of peers (>= 1, at most the number of samples). */
  readonly peers: number;
  readonly seed: number;
  /** Validation samples taken per class a peer holds, capped at half that class's share. Default 10. */
  readonly validationPerClass?: number;
  /** A class is familiar when the peer has at least this many training samples of it. Default 1. */
  readonly minFamiliarCount?: number;
}

export interface PeerPartition {
  /** Sample indices into the data set, ascending. */
  readonly train: Uint32Array;
  /** Sample indices into the data set, ascending, disjoint from `train`. */
  readonly validation: Uint32Array;
  /** Classes with at least `minFamiliarCount` training samples, ascending. */
  readonly familiarClasses: number[];
}

export const PARTITION_DEFAULTS = {
  validationPerClass: 10,
  minFamiliarCount: 1,
  /** Per-peer minimum for dirichlet splits; NIID-Bench (Li et al. 2022) also uses 10. */
  dirichletMinSamples: 10,
  shardLayout: 'consecutive' as ShardLayout,
} as const;

type Labels = Pick<Dataset, 'y' | 'numClasses'>;

/** Splits `data` across peers as `spec` says; the same seed always gives the same result. */
export function partitionDataset(data: Labels, spec: PartitionSpec, options: PartitionOptions): PeerPartition[] {
  const { peers, seed } = options;
  const validationPerClass = options.validationPerClass ?? PARTITION_DEFAULTS.validationPerClass;
  const minFamiliarCount = options.minFamiliarCount ?? PARTITION_DEFAULTS.minFamiliarCount;
  if (!(Number.isInteger(peers) && peers >= 1))
    throw new RangeError(`partition: peers must be an integer >= 1, got ${peers}`);
  if (peers > data.y.length) throw new RangeError(`partition: ${peers} peers but only ${data.y.length} samples`);
  if (!(Number.isInteger(validationPerClass) && validationPerClass >= 0)) {
    throw new RangeError(`partition: validationPerClass must be an integer >= 0, got ${validationPerClass}`);
  }
  if (!(Number.isInteger(minFamiliarCount) && minFamiliarCount >= 1)) {
    throw new RangeError(`partition: minFamiliarCount must be an integer >= 1, got ${minFamiliarCount}`);
  }
  for (let i = 0; i < data.y.length; i++) {
    if (data.y[i] >= data.numClasses) {
      throw new RangeError(`partition: label ${data.y[i]} at sample ${i} >= numClasses ${data.numClasses}`);
    }
  }
  const rng = createRng(seed);
  const shares = splitShares(data, spec, peers, rng.fork('shares'));
  return shares.map((share, p) => {
    const { train, validation } = splitValidation(share, data.y, validationPerClass, rng.fork(`validation-${p}`));
    const counts = countClasses(data.y, train, data.numClasses);
    const familiarClasses = counts.flatMap((n, c) => (n >= minFamiliarCount ? [c] : []));
    return { train, validation, familiarClasses };
  });
}

function splitShares(data: Labels, spec: PartitionSpec, peers: number, rng: Rng): number[][] {
  switch (spec.kind) {
    case 'iid':
      return splitIid(data.y.length, peers, rng);
    case 'dirichlet':
      return splitDirichlet(data, peers, spec.alpha, spec.minSamples ?? PARTITION_DEFAULTS.dirichletMinSamples, rng);
    case 'shards':
      return splitShards(data, peers, spec.classesPerPeer, spec.layout ?? PARTITION_DEFAULTS.shardLayout, rng);
    default: {
      const unreachable: never = spec;
      throw new TypeError(`partition: unknown spec ${JSON.stringify(unreachable)}`);
    }
  }
}

/** A random permutation of all samples cut into `peers` near-equal contiguous pieces. */
export function splitIid(sampleCount: number, peers: number, rng: Rng): number[][] {
  return chunks(rng.shuffle(range(sampleCount)), peers);
}

/**
 * For each class, proportions across peers ~ Dirichlet(alpha) (normalised Gamma(alpha)
 * draws) and the class's shuffled samples are cut at those proportions.
 * Minimum guarantee: while some peer holds fewer than `minSamples`, the poorest peer
 * receives samples from the richest peer, all of the donor's most common class, so
 * the recipient stays skewed and the donor never drops below `minSamples` itself.
 * This always terminates and needs peers * minSamples <= samples.
 */
export function splitDirichlet(data: Labels, peers: number, alpha: number, minSamples: number, rng: Rng): number[][] {
  if (!(alpha > 0 && Number.isFinite(alpha))) throw new RangeError(`dirichlet: alpha must be > 0, got ${alpha}`);
  if (peers * minSamples > data.y.length) {
    throw new RangeError(
      `dirichlet: ${peers} peers x minSamples ${minSamples} exceeds the ${data.y.length} samples available`,
    );
  }
  // buckets[peer][class] = indices
  const buckets = Array.from({ length: peers }, () => Array.from({ length: data.numClasses }, (): number[] => []));
  indicesByClass(data).forEach((indices, c) => {
    rng.shuffle(indices);
    const proportions = dirichlet(alpha, peers, rng);
    let start = 0;
    let cumulative = 0;
    for (let p = 0; p < peers; p++) {
      cumulative += proportions[p];
      const end = p === peers - 1 ? indices.length : Math.round(cumulative * indices.length);
      buckets[p][c] = indices.slice(start, Math.max(start, end));
      start = Math.max(start, end);
    }
  });
  topUp(buckets, minSamples);
  return buckets.map((perClass) => perClass.flat());
}

/** One Dirichlet(alpha, ..., alpha) draw of length n. */
function dirichlet(alpha: number, n: number, rng: Rng): number[] {
  const draws = Array.from({ length: n }, () => rng.gamma(alpha));
  const sum = draws.reduce((a, b) => a + b, 0);
  if (sum > 0 && Number.isFinite(sum)) return draws.map((g) => g / sum);
  // Every draw underflowed (alpha ~ 0.01 or less): the Dirichlet limit is one-hot.
  const onehot = new Array<number>(n).fill(0);
  onehot[rng.int(n)] = 1;
  return onehot;
}

function topUp(buckets: number[][][], minSamples: number): void {
  const size = (p: number): number => buckets[p].reduce((a, b) => a + b.length, 0);
  for (;;) {
    const sizes = buckets.map((_, p) => size(p));
    const poorest = argBest(sizes, (a, b) => a < b);
    const richest = argBest(sizes, (a, b) => a > b);
    const need = minSamples - sizes[poorest];
    if (need <= 0) return;
    const donor = buckets[richest];
    const cls = argBest(
      donor.map((b) => b.length),
      (a, b) => a > b,
    );
    const give = Math.min(need, sizes[richest] - minSamples, donor[cls].length);
    const moved = donor[cls].splice(-give, give);
    buckets[poorest][cls].push(...moved);
  }
}

/**
 * Pathological non-iid: each peer holds exactly `classesPerPeer` classes. Layout
 * 'consecutive' (Bristle): peer p holds classes p, p+1, ... mod K; 'random': a random set
 * per peer. A class's samples are split evenly among the peers holding it; classes no peer
 * holds are left out.
 */
export function splitShards(
  data: Labels,
  peers: number,
  classesPerPeer: number,
  layout: ShardLayout,
  rng: Rng,
): number[][] {
  const classSets = shardClasses(data.numClasses, peers, classesPerPeer, layout, rng.fork('classes'));
  const shares = Array.from({ length: peers }, (): number[] => []);
  indicesByClass(data).forEach((indices, c) => {
    const holders = classSets.flatMap((set, p) => (set.includes(c) ? [p] : []));
    if (holders.length === 0) return;
    chunks(rng.shuffle(indices), holders.length).forEach((piece, h) => {
      shares[holders[h]].push(...piece);
    });
  });
  return shares;
}

/** The classes each peer holds under a shard layout, ascending. */
export function shardClasses(
  numClasses: number,
  peers: number,
  classesPerPeer: number,
  layout: ShardLayout,
  rng: Rng,
): number[][] {
  if (!(Number.isInteger(classesPerPeer) && classesPerPeer >= 1 && classesPerPeer <= numClasses)) {
    throw new RangeError(`shards: classesPerPeer must be an integer in [1, ${numClasses}], got ${classesPerPeer}`);
  }
  return Array.from({ length: peers }, (_, p) => {
    const classes =
      layout === 'consecutive'
        ? Array.from({ length: classesPerPeer }, (_, j) => (p + j) % numClasses)
        : rng.shuffle(range(numClasses)).slice(0, classesPerPeer);
    return classes.sort((a, b) => a - b);
  });
}

/**
 * Takes min(validationPerClass, floor(n_c / 2)) random samples of each class c out of a
 * share for validation (at most half, so a rare class still trains); the rest is train.
 */
export function splitValidation(
  share: readonly number[],
  labels: Uint8Array,
  validationPerClass: number,
  rng: Rng,
): { train: Uint32Array; validation: Uint32Array } {
  const byClass = new Map<number, number[]>();
  for (const i of [...share].sort((a, b) => a - b)) {
    const c = labels[i];
    const list = byClass.get(c);
    if (list) list.push(i);
    else byClass.set(c, [i]);
  }
  const train: number[] = [];
  const validation: number[] = [];
  for (const c of [...byClass.keys()].sort((a, b) => a - b)) {
    const indices = rng.shuffle(byClass.get(c) as number[]);
    const take = Math.min(validationPerClass, Math.floor(indices.length / 2));
    validation.push(...indices.slice(0, take));
    train.push(...indices.slice(take));
  }
  return { train: sortedU32(train), validation: sortedU32(validation) };
}

/** Number of samples of each class among `indices`. */
export function countClasses(labels: Uint8Array, indices: ArrayLike<number>, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < indices.length; i++) {
    const c = labels[indices[i]];
    counts[c] = counts[c] + 1;
  }
  return counts;
}

function indicesByClass(data: Labels): number[][] {
  const lists = Array.from({ length: data.numClasses }, (): number[] => []);
  data.y.forEach((c, i) => {
    lists[c].push(i);
  });
  return lists;
}

/** `items` cut into n contiguous pieces whose lengths differ by at most one. */
function chunks<T>(items: T[], n: number): T[][] {
  return Array.from({ length: n }, (_, i) =>
    items.slice(Math.floor((i * items.length) / n), Math.floor(((i + 1) * items.length) / n)),
  );
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function sortedU32(values: number[]): Uint32Array {
  return Uint32Array.from(values).sort();
}

function argBest(values: number[], better: (a: number, b: number) => boolean): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (better(values[i], values[best])) best = i;
  return best;
}
