/**
 * Token buckets keyed by peer id, plus one shared bucket over all peers: a request is
 * allowed only when both have a token. Bounded memory: at most `maxKeys` buckets (the
 * least recently used is dropped, which only ever makes a forgotten peer's bucket full
 * again, and the shared bucket still bounds the total). Environment-neutral, no timers.
 */
export interface RateLimit {
  /** Tokens a peer starts with and can save up. */
  readonly burst: number;
  /** Tokens a peer regains per second. */
  readonly perSecond: number;
  /** The shared bucket over all peers: burst and refill. */
  readonly totalBurst: number;
  readonly totalPerSecond: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  readonly limit: RateLimit;
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();
  readonly #total: Bucket;

  constructor(limit: RateLimit, options: { maxKeys?: number; now?: () => number } = {}) {
    this.limit = limit;
    this.#maxKeys = options.maxKeys ?? 4096;
    this.#now = options.now ?? (() => performance.now());
    this.#total = { tokens: limit.totalBurst, at: this.#now() };
  }

  /** Takes a token for `key` if both its bucket and the shared one have one. */
  take(key: string): boolean {
    const now = this.#now();
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: this.limit.burst, at: now };
      if (this.#buckets.size >= this.#maxKeys) this.#buckets.delete(this.#buckets.keys().next().value as string);
    } else {
      this.#buckets.delete(key);
    }
    this.#buckets.set(key, bucket);
    refill(bucket, now, this.limit.burst, this.limit.perSecond);
    refill(this.#total, now, this.limit.totalBurst, this.limit.totalPerSecond);
    if (bucket.tokens < 1 || this.#total.tokens < 1) return false;
    bucket.tokens -= 1;
    this.#total.tokens -= 1;
    return true;
  }
}

function refill(b: Bucket, now: number, burst: number, perSecond: number): void {
  b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * perSecond);
  b.at = now;
}
