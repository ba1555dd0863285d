/**
 * Recent announced payloads, keyed by sha256 hex, bounded by total bytes and by entries;
 * least recently used entries go first. Serves `/meshfl/1/payload` requests.
 */
export interface PayloadCacheInit {
  maxBytes: number;
  maxEntries: number;
}

export class PayloadCache {
  #maxBytes: number;
  readonly #maxEntries: number;
  readonly #entries = new Map<string, Uint8Array>();
  #total = 0;

  constructor(init: PayloadCacheInit) {
    this.#maxBytes = init.maxBytes;
    this.#maxEntries = init.maxEntries;
  }

  get maxBytes(): number {
    return this.#maxBytes;
  }

  /** Changes the byte budget, evicting least recently used entries to fit. */
  setMaxBytes(maxBytes: number): void {
    this.#maxBytes = maxBytes;
    this.#evict();
  }

  get bytes(): number {
    return this.#total;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): Uint8Array | undefined {
    const value = this.#entries.get(key);
    if (value != null) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  /** Store a payload; one larger than the whole budget is not kept. */
  put(key: string, value: Uint8Array): void {
    const old = this.#entries.get(key);
    if (old != null) {
      this.#entries.delete(key);
      this.#total -= old.byteLength;
    }
    if (value.byteLength > this.#maxBytes) return;
    this.#entries.set(key, value);
    this.#total += value.byteLength;
    this.#evict();
  }

  #evict(): void {
    for (const [k, v] of this.#entries) {
      if (this.#total <= this.#maxBytes && this.#entries.size <= this.#maxEntries) break;
      this.#entries.delete(k);
      this.#total -= v.byteLength;
    }
  }

  clear(): void {
    this.#entries.clear();
    this.#total = 0;
  }
}
