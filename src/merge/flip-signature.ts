/**
 * Flip signature (bristle+ldawa option `flip`): where a model moved V's outputs, by true
 * class. An honest peer trains on correct labels, so the output it pushes hardest is pushed
 * hardest on the inputs of that same class; a label flipper trains class c's inputs towards
 * another output f, so its largest push sits off the diagonal (inputs of c, output f). An
 * honest one-class specialist and a flipper look alike in what they predict (both favour
 * one output everywhere); they differ in which inputs carry the push.
 *
 * The push is measured in logits against the model the round started from, so it does not
 * saturate the way probabilities do: S[y][o] = mean over V's samples of class y of
 * (Δz_o − mean over outputs of Δz), then centred over the present classes y per output o
 * (what a model adds to output o on every input is a bias, not a class's push). The
 * signature is (max off-diagonal S − max diagonal S) / rms(S): above 0 the largest push is
 * off the diagonal. Measured on merges of 20 peers, Dirichlet(0.1), label flip (seeds 1-2):
 * docs/ALGORITHMS.md "Flip signature".
 *
 * Pure math on per-sample logits: no tfjs, no libp2p.
 */
import { median } from './influence.ts';

/**
 * The centred class-by-output push matrix S (flat [numClasses x numClasses], row = true
 * class, column = output) and which classes V holds. Rows of absent classes are 0.
 */
export function classPush(
  logits: Float32Array,
  reference: Float32Array,
  labels: ArrayLike<number>,
  numClasses: number,
): { readonly push: Float64Array; readonly present: readonly boolean[] } {
  const K = numClasses;
  const n = labels.length;
  if (logits.length !== n * K || reference.length !== n * K)
    throw new Error(`logits must hold ${n} x ${K} values (got ${logits.length} and ${reference.length})`);
  const push = new Float64Array(K * K);
  const count = new Float64Array(K);
  const delta = new Float64Array(K);
  for (let i = 0; i < n; i++) {
    const y = labels[i] as number;
    if (!(y >= 0 && y < K)) continue;
    let mean = 0;
    for (let o = 0; o < K; o++) {
      delta[o] = (logits[i * K + o] as number) - (reference[i * K + o] as number);
      mean += delta[o] as number;
    }
    mean /= K;
    for (let o = 0; o < K; o++) push[y * K + o] += (delta[o] as number) - mean;
    count[y] += 1;
  }
  const present = Array.from(count, (c) => c > 0);
  const rows = present.filter(Boolean).length;
  for (let y = 0; y < K; y++) if (present[y]) for (let o = 0; o < K; o++) push[y * K + o] /= count[y] as number;
  for (let o = 0; o < K; o++) {
    let mean = 0;
    for (let y = 0; y < K; y++) if (present[y]) mean += push[y * K + o] as number;
    mean /= rows || 1;
    for (let y = 0; y < K; y++) if (present[y]) push[y * K + o] -= mean;
  }
  return { push, present };
}

/**
 * What stage 3c reads of classPush's matrix over the present classes, in units of its rms:
 * `signature` = max off-diagonal − max diagonal (> 0 when a model's largest push moves some
 * class's inputs to another output); `target` = the push of that largest off-diagonal
 * entry's output on its own class's inputs (S[o][o] for the entry S[y][o]). An honest
 * specialist of class o whose push on o is largest on other classes' inputs (ref already
 * predicts o's inputs as o) still pushes o's own inputs towards o; a flipper onto o trained
 * other inputs to o, not o's, so its target push is low. NaN when it cannot be told (fewer
 * than two classes in V, non-finite logits, or no push at all; `target` also when V has no
 * sample of the output's class).
 */
export function flipScores(
  logits: Float32Array,
  reference: Float32Array,
  labels: ArrayLike<number>,
  numClasses: number,
): { readonly signature: number; readonly target: number } {
  const K = numClasses;
  const { push, present } = classPush(logits, reference, labels, K);
  let squares = 0;
  let cells = 0;
  let maxOff = Number.NEGATIVE_INFINITY;
  let offOutput = -1;
  let maxDiagonal = Number.NEGATIVE_INFINITY;
  for (let y = 0; y < K; y++) {
    if (!present[y]) continue;
    for (let o = 0; o < K; o++) {
      const s = push[y * K + o] as number;
      squares += s * s;
      cells++;
      if (o === y) maxDiagonal = Math.max(maxDiagonal, s);
      else if (s > maxOff) {
        maxOff = s;
        offOutput = o;
      }
    }
  }
  const rms = Math.sqrt(squares / Math.max(cells, 1));
  if (cells < 2 * K || !(rms > 0) || !Number.isFinite(rms)) return { signature: Number.NaN, target: Number.NaN };
  const target = offOutput >= 0 && present[offOutput] ? (push[offOutput * K + offOutput] as number) / rms : Number.NaN;
  return { signature: (maxOff - maxDiagonal) / rms, target };
}

/** flipScores' signature alone. */
export function flipSignature(
  logits: Float32Array,
  reference: Float32Array,
  labels: ArrayLike<number>,
  numClasses: number,
): number {
  return flipScores(logits, reference, labels, numClasses).signature;
}

/**
 * The last few flip signatures of each sender (bristle+ldawa `flipWho` 'recent'): a sender
 * with a good record is judged by their median, so an honest specialist that crosses the
 * bar once is spared while a flipper that earned its record before it was first flagged is
 * not. Bounded: the least recently judged senders are forgotten first.
 */
export class SignatureMemory {
  readonly #recent = new Map<string, number[]>();
  readonly #keep: number;
  readonly #capacity: number;

  constructor(keep: number, capacity = 4096) {
    this.#keep = keep;
    this.#capacity = capacity;
  }

  /** Records a finite signature and returns the median of the sender's last `keep` (this one included). */
  add(peer: string, signature: number): number {
    if (!Number.isFinite(signature)) return Number.NaN;
    const recent = this.#recent.get(peer) ?? [];
    this.#recent.delete(peer);
    recent.push(signature);
    if (recent.length > this.#keep) recent.shift();
    this.#recent.set(peer, recent);
    if (this.#recent.size > this.#capacity) this.#recent.delete(this.#recent.keys().next().value as string);
    return median(recent);
  }
}
