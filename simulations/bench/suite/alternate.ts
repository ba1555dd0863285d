/**
 * Timing an operation against a baseline measured alternately in the same process
 * (baseline, operation, baseline, operation, ...). On a shared machine the load changes
 * from one second to the next, so a baseline measured once, at another moment, is not
 * comparable; each round's ratio compares two samples taken back to back, and the median
 * ratio is reported.
 *
 * The baseline of the codec and merge benches is `memcpy`: `dst.set(src)` into buffers
 * allocated once, before timing (allocating inside the loop measures the allocator).
 */
import { performance } from 'node:perf_hooks';

export interface AlternateOptions {
  /** Most rounds (one baseline sample and one operation sample each). */
  readonly rounds: number;
  /**
   * Each sample repeats its function until it lasts this long (calibrated once per function),
   * so fast functions are not timed at timer resolution. 0: one call per sample, no calibration run.
   */
  readonly minSampleMs: number;
  /** Stop after the round in which the operation's samples reach this total (default: run all rounds). */
  readonly minTotalMs?: number;
}

export interface Alternated {
  /** Median milliseconds per call of the operation. */
  readonly ms: number;
  /** Median milliseconds per call of the baseline. */
  readonly baselineMs: number;
  /** Median over rounds of baseline ms / operation ms: the operation's speed as a fraction of the baseline's. */
  readonly ofBaseline: number;
  readonly rounds: number;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Calls per sample so that one sample lasts at least minSampleMs (doubles from 1). */
function callsPerSample(fn: () => void, minSampleMs: number): number {
  if (minSampleMs <= 0) return 1;
  let calls = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) fn();
    if (performance.now() - t0 >= minSampleMs) return calls;
    calls *= 2;
  }
}

function sampleMs(fn: () => void, calls: number): number {
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) fn();
  return (performance.now() - t0) / calls;
}

export function alternate(baseline: () => void, op: () => void, options: AlternateOptions): Alternated {
  const baselineCalls = callsPerSample(baseline, options.minSampleMs);
  const opCalls = callsPerSample(op, options.minSampleMs);
  const base: number[] = [];
  const times: number[] = [];
  const ratios: number[] = [];
  let total = 0;
  while (times.length < options.rounds) {
    const b = sampleMs(baseline, baselineCalls);
    const t = sampleMs(op, opCalls);
    base.push(b);
    times.push(t);
    ratios.push(b / t);
    total += t * opCalls;
    if (options.minTotalMs !== undefined && total >= options.minTotalMs) break;
  }
  return { ms: median(times), baselineMs: median(base), ofBaseline: median(ratios), rounds: times.length };
}

/** A memcpy of every layer of `models` into destinations allocated here, once. */
export function memcpyOf(models: readonly (readonly { readonly values: Float32Array }[])[]): () => void {
  const first = models[0] ?? [];
  const destinations = first.map((l) => new Float32Array(l.values.length));
  return () => {
    for (const m of models) {
      for (let i = 0; i < m.length; i++)
        (destinations[i] as Float32Array).set((m[i] as { values: Float32Array }).values);
    }
  };
}
