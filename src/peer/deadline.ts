/**
 * Adaptive round deadline: how long a peer waits for neighbour updates after it has
 * published its own. Learned from observed arrival delays (time from our publish to each
 * fresh neighbour update), so fast meshes close rounds quickly and slow ones are not cut
 * short, bounded so a dead neighbourhood never stalls a peer.
 */
export interface DeadlineOptions {
  /** Deadline before any arrival was observed, ms. Default 2000. */
  readonly initialMs: number;
  /** Lower bound, ms. Default 50. */
  readonly minMs: number;
  /** Upper bound, ms. Default 30000. */
  readonly maxMs: number;
  /** Deadline = factor x the high quantile of recent arrival delays. Default 1.5. */
  readonly factor: number;
  /** Quantile of recent delays the deadline follows. Default 0.9. */
  readonly quantile: number;
  /** How many recent delays are remembered. Default 64. */
  readonly window: number;
}

export const DEFAULT_DEADLINE: DeadlineOptions = {
  initialMs: 2000,
  minMs: 50,
  maxMs: 30000,
  factor: 1.5,
  quantile: 0.9,
  window: 64,
};

export function validateDeadline(o: Partial<DeadlineOptions>, what = 'deadline'): DeadlineOptions {
  const d = { ...DEFAULT_DEADLINE, ...o };
  if (!(d.minMs >= 0 && d.minMs <= d.maxMs)) throw new Error(`${what}: need 0 <= minMs <= maxMs`);
  if (!(d.initialMs >= d.minMs && d.initialMs <= d.maxMs))
    throw new Error(`${what}.initialMs must be in [minMs, maxMs]`);
  if (!(d.factor >= 1)) throw new Error(`${what}.factor must be >= 1`);
  if (!(d.quantile > 0 && d.quantile <= 1)) throw new Error(`${what}.quantile must be in (0, 1]`);
  if (!(Number.isInteger(d.window) && d.window >= 1)) throw new Error(`${what}.window must be an integer >= 1`);
  return d;
}

export class AdaptiveDeadline {
  readonly options: DeadlineOptions;
  readonly #delays: number[] = [];

  constructor(options: Partial<DeadlineOptions> = {}) {
    this.options = validateDeadline(options);
  }

  observe(delayMs: number): void {
    if (!Number.isFinite(delayMs) || delayMs < 0) return;
    this.#delays.push(delayMs);
    if (this.#delays.length > this.options.window) this.#delays.shift();
  }

  /** Current deadline in ms. */
  current(): number {
    const { initialMs, minMs, maxMs, factor, quantile } = this.options;
    if (this.#delays.length === 0) return initialMs;
    const sorted = [...this.#delays].sort((a, b) => a - b);
    const q = sorted[Math.min(sorted.length - 1, Math.floor(quantile * sorted.length))];
    return Math.min(maxMs, Math.max(minMs, q * factor));
  }
}

/**
 * Decides when a wait for neighbour updates gives up, instead of the adaptive wall-clock
 * deadline (PeerOptions.waitGate). `wait` is called when the peer starts waiting; the gate
 * calls `giveUp` to close the wait as its deadline would (reported as 'deadline'). The
 * peer calls the function `wait` returns when the wait ends, however it ended.
 */
export interface WaitGate {
  wait(peer: string, giveUp: () => void): () => void;
}
