/**
 * Seeded pseudo-random numbers. Every simulation, partition and attack draws from one
 * of these so that a run with a seed gives the same numbers twice.
 * Generator: sfc32 seeded through splitmix32 (fast, 128-bit state, good statistics).
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal (Box-Muller). */
  normal(): number;
  /** Gamma(shape, 1) (Marsaglia-Tsang), used for Dirichlet draws. */
  gamma(shape: number): number;
  /** In-place Fisher-Yates shuffle; returns the same array. */
  shuffle<T>(items: T[]): T[];
  /** An independent generator derived from this generator's seed and a label: the same
   * seed and label always give the same stream, whatever was drawn before. */
  fork(label: string | number): Rng;
  /** Where the generator stands: restoreRng(state()) continues the same stream. */
  state(): RngState;
}

/** A generator's position (Rng.state): its seed (for fork), sfc32's four words and Box-Muller's spare. */
export interface RngState {
  readonly seed: number;
  readonly words: readonly [number, number, number, number];
  readonly spare: number | null;
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

function hashLabel(label: string | number): number {
  const text = String(label);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new RangeError(`rng seed must be a finite number, got ${seed}`);
  const init = splitmix32(Math.floor(seed) ^ 0x5bd1e995);
  const rng = sfc32(seed, [init(), init(), init(), init()], undefined);
  for (let i = 0; i < 12; i++) rng.next();
  return rng;
}

/** What is wrong with `v` as an RngState (undefined: nothing). */
export function rngStateProblem(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null) return 'rng state must be an object';
  const s = v as Record<string, unknown>;
  const u32 = (x: unknown): boolean => Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 0xffffffff;
  if (!(typeof s.seed === 'number' && Number.isFinite(s.seed))) return 'rng state: seed must be a finite number';
  if (!(Array.isArray(s.words) && s.words.length === 4 && s.words.every(u32)))
    return 'rng state: words must be four uint32';
  if (!(s.spare === null || (typeof s.spare === 'number' && Number.isFinite(s.spare))))
    return 'rng state: spare must be a finite number or null';
  return undefined;
}

/** The generator at `state` (from Rng.state(), possibly of another thread); throws on a malformed one. */
export function restoreRng(state: RngState): Rng {
  const problem = rngStateProblem(state);
  if (problem !== undefined) throw new RangeError(problem);
  return sfc32(state.seed, state.words, state.spare ?? undefined);
}

function sfc32(seed: number, start: RngState['words'], spareAtStart: number | undefined): Rng {
  let [a, b, c, d] = start;
  const u32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  let spare = spareAtStart;
  const rng: Rng = {
    next: () => u32() / 4294967296,
    int: (n) => {
      if (!(n >= 1)) throw new RangeError(`rng.int needs n >= 1, got ${n}`);
      return Math.floor((u32() / 4294967296) * n);
    },
    normal: () => {
      if (spare !== undefined) {
        const v = spare;
        spare = undefined;
        return v;
      }
      let u = 0;
      while (u === 0) u = rng.next();
      const v = rng.next();
      const r = Math.sqrt(-2 * Math.log(u));
      spare = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    },
    gamma: (shape) => {
      if (!(shape > 0)) throw new RangeError(`gamma shape must be > 0, got ${shape}`);
      if (shape < 1) {
        // Boost: Gamma(a) = Gamma(a+1) * U^(1/a)
        let u = 0;
        while (u === 0) u = rng.next();
        return rng.gamma(shape + 1) * u ** (1 / shape);
      }
      const d3 = shape - 1 / 3;
      const c3 = 1 / Math.sqrt(9 * d3);
      for (;;) {
        let x: number;
        let v: number;
        do {
          x = rng.normal();
          v = 1 + c3 * x;
        } while (v <= 0);
        v = v * v * v;
        const u = rng.next();
        if (u < 1 - 0.0331 * x ** 4) return d3 * v;
        if (Math.log(u) < 0.5 * x * x + d3 * (1 - v + Math.log(v))) return d3 * v;
      }
    },
    shuffle: (items) => {
      for (let i = items.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        const t = items[i];
        items[i] = items[j];
        items[j] = t;
      }
      return items;
    },
    fork: (label) => createRng((Math.imul(Math.floor(seed) >>> 0, 0x9e3779b1) ^ hashLabel(label)) >>> 0),
    state: () => ({ seed, words: [a >>> 0, b >>> 0, c >>> 0, d >>> 0], spare: spare ?? null }),
  };
  return rng;
}
