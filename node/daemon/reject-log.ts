/**
 * Rate-limited warn lines about refused traffic, naming the peer: the first refusal from a
 * peer is logged at once, later ones at most once per `intervalMs` per peer as a summary
 * (`suppressed` counts by stage/reason since the last line). Bounded in both directions a
 * hostile peer could push: peers remembered (oldest forgotten first) and lines per
 * interval overall (many fresh peer ids cannot flood the log either).
 */
import type { Logger } from './logger.ts';

export interface RejectLogOptions {
  /** At most one line per peer per this many ms. Default 60 s. */
  readonly intervalMs?: number;
  /** At most this many lines per interval in total. Default 20. */
  readonly maxLinesPerInterval?: number;
  /** Peers remembered. Default 1024. */
  readonly maxPeers?: number;
  readonly now?: () => number;
}

interface PeerEntry {
  lastLogged: number;
  suppressed: Map<string, number>;
}

export class RejectLog {
  readonly #logger: Logger;
  readonly #interval: number;
  readonly #maxLines: number;
  readonly #maxPeers: number;
  readonly #now: () => number;
  readonly #peers = new Map<string, PeerEntry>();
  #windowStart = Number.NEGATIVE_INFINITY;
  #linesInWindow = 0;
  /** Lines not written because of the overall cap. */
  dropped = 0;

  constructor(logger: Logger, options: RejectLogOptions = {}) {
    this.#logger = logger;
    this.#interval = options.intervalMs ?? 60_000;
    this.#maxLines = options.maxLinesPerInterval ?? 20;
    this.#maxPeers = options.maxPeers ?? 1024;
    this.#now = options.now ?? Date.now;
  }

  note(peer: string | undefined, stage: string, reason: string, detail?: string, count = 1): void {
    const id = peer ?? 'unknown';
    const now = this.#now();
    let entry = this.#peers.get(id);
    const key = `${stage}/${reason}`;
    if (entry !== undefined && now - entry.lastLogged < this.#interval) {
      entry.suppressed.set(key, (entry.suppressed.get(key) ?? 0) + count);
      return;
    }
    if (now - this.#windowStart >= this.#interval) {
      this.#windowStart = now;
      this.#linesInWindow = 0;
    }
    if (this.#linesInWindow >= this.#maxLines) {
      this.dropped++;
      return;
    }
    this.#linesInWindow++;
    const suppressed =
      entry === undefined || entry.suppressed.size === 0 ? undefined : Object.fromEntries(entry.suppressed);
    this.#logger.warn('traffic rejected', { peer: id, stage, reason, count, detail, suppressed });
    if (entry === undefined) {
      entry = { lastLogged: now, suppressed: new Map() };
      if (this.#peers.size >= this.#maxPeers) this.#peers.delete(this.#peers.keys().next().value as string);
    } else {
      this.#peers.delete(id);
      entry.lastLogged = now;
      entry.suppressed = new Map();
    }
    this.#peers.set(id, entry);
  }
}
