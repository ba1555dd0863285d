/**
 * Admission for announced-payload fetches (issue 14: four 64 MiB announcements raised RSS
 * by 250 MB). A fetch runs only within every limit at once:
 * - fetches running in total and per propagation source (the peer whose announcement
 *   caused it), and
 * - bytes in flight: the announced sizes of running fetches, reserved until the fetched
 *   bytes have been validated (so the bytes held for unvalidated payloads never exceed
 *   `maxBytes`).
 * Others wait in FIFO order (an entry whose peer is at its own limit does not block the
 * entries behind it) for at most their signal's time; the queue is bounded in total and
 * per peer, and an announcement beyond it is refused ('busy'). Waiting costs only the
 * 37-byte announcement, so honest bursts are delayed, not dropped.
 */

export interface FetchLimits {
  /** Fetches running at once. */
  readonly maxRunning: number;
  /** Fetches running at once for one propagation source. */
  readonly maxRunningPerPeer: number;
  /** Fetches running or waiting for one propagation source. */
  readonly maxQueuedPerPeer: number;
  /** Fetches waiting in total. */
  readonly maxQueued: number;
  /** Sum of the announced sizes of running fetches. */
  readonly maxBytes: number;
}

export interface FetchLimiterStats {
  running: number;
  queued: number;
  bytesInFlight: number;
  /** Largest bytesInFlight ever reached (never above maxBytes). */
  peakBytesInFlight: number;
  /** Fetches refused: queue full, larger than maxBytes, or waited too long. */
  refused: number;
}

export type Release = () => void;

interface Waiter {
  readonly peer: string;
  readonly bytes: number;
  readonly grant: (release: Release) => void;
}

export class FetchLimiter {
  #limits: FetchLimits;
  readonly stats: FetchLimiterStats = { running: 0, queued: 0, bytesInFlight: 0, peakBytesInFlight: 0, refused: 0 };
  readonly #runningPerPeer = new Map<string, number>();
  readonly #queuedPerPeer = new Map<string, number>();
  readonly #queue: Waiter[] = [];

  constructor(limits: FetchLimits) {
    this.#limits = limits;
  }

  get limits(): FetchLimits {
    return this.#limits;
  }

  /** Changes the byte budget (running fetches keep their reservation). */
  setMaxBytes(maxBytes: number): void {
    this.#limits = { ...this.#limits, maxBytes };
    this.#drain();
  }

  /**
   * Resolves to a release function once the fetch may run, or undefined when it is
   * refused: over a queue limit, larger than maxBytes, or `signal` aborted while waiting.
   */
  acquire(peer: string, bytes: number, signal: AbortSignal): Promise<Release | undefined> {
    const l = this.limits;
    const mine = (this.#runningPerPeer.get(peer) ?? 0) + (this.#queuedPerPeer.get(peer) ?? 0);
    if (bytes > l.maxBytes || mine >= l.maxQueuedPerPeer || signal.aborted) {
      this.stats.refused++;
      return Promise.resolve(undefined);
    }
    if (this.#fits(peer, bytes)) return Promise.resolve(this.#start(peer, bytes));
    if (this.#queue.length >= l.maxQueued) {
      this.stats.refused++;
      return Promise.resolve(undefined);
    }
    return new Promise((resolve) => {
      const waiter: Waiter = {
        peer,
        bytes,
        grant: (release) => {
          signal.removeEventListener('abort', onAbort);
          resolve(release);
        },
      };
      const onAbort = (): void => {
        const at = this.#queue.indexOf(waiter);
        if (at < 0) return;
        this.#queue.splice(at, 1);
        this.#dequeued(peer);
        this.stats.refused++;
        resolve(undefined);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(waiter);
      this.stats.queued++;
      this.#queuedPerPeer.set(peer, (this.#queuedPerPeer.get(peer) ?? 0) + 1);
    });
  }

  #fits(peer: string, bytes: number): boolean {
    const l = this.limits;
    return (
      this.stats.running < l.maxRunning &&
      (this.#runningPerPeer.get(peer) ?? 0) < l.maxRunningPerPeer &&
      this.stats.bytesInFlight + bytes <= l.maxBytes
    );
  }

  #start(peer: string, bytes: number): Release {
    this.stats.running++;
    this.stats.bytesInFlight += bytes;
    this.stats.peakBytesInFlight = Math.max(this.stats.peakBytesInFlight, this.stats.bytesInFlight);
    this.#runningPerPeer.set(peer, (this.#runningPerPeer.get(peer) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.stats.running--;
      this.stats.bytesInFlight -= bytes;
      const left = (this.#runningPerPeer.get(peer) ?? 1) - 1;
      if (left > 0) this.#runningPerPeer.set(peer, left);
      else this.#runningPerPeer.delete(peer);
      this.#drain();
    };
  }

  #dequeued(peer: string): void {
    this.stats.queued--;
    const left = (this.#queuedPerPeer.get(peer) ?? 1) - 1;
    if (left > 0) this.#queuedPerPeer.set(peer, left);
    else this.#queuedPerPeer.delete(peer);
  }

  /** Starts every waiting fetch that now fits, oldest first. */
  #drain(): void {
    for (let i = 0; i < this.#queue.length && this.stats.running < this.limits.maxRunning; ) {
      const w = this.#queue[i];
      if (this.#fits(w.peer, w.bytes)) {
        this.#queue.splice(i, 1);
        this.#dequeued(w.peer);
        w.grant(this.#start(w.peer, w.bytes));
      } else {
        i++;
      }
    }
  }
}
