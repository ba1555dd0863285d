/**
 * Readiness: a daemon that has had no connected peer for `notReadyAfterMs` is not ready
 * (it trains alone and merges nothing). Liveness is answering at all.
 */
export class PeerPresence {
  readonly notReadyAfterMs: number;
  readonly #now: () => number;
  /** When the peer count last dropped to zero (start time at first); undefined while peers are connected. */
  #alone: number | undefined;

  constructor(notReadyAfterMs: number, now: () => number = () => Date.now()) {
    this.notReadyAfterMs = notReadyAfterMs;
    this.#now = now;
    this.#alone = now();
  }

  /** Records the current number of connected peers. */
  observe(peers: number): void {
    if (peers > 0) this.#alone = undefined;
    else if (this.#alone === undefined) this.#alone = this.#now();
  }

  /** Milliseconds without any connected peer (0 while connected). */
  aloneForMs(): number {
    return this.#alone === undefined ? 0 : this.#now() - this.#alone;
  }

  ready(): boolean {
    return this.#alone === undefined || this.aloneForMs() < this.notReadyAfterMs;
  }
}
