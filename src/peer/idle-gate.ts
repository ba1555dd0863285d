/**
 * A WaitGate (deadline.ts) for peers that all run in one process on the in-process bus
 * (simulations): a wait gives up only when every running peer of the process is waiting,
 * that is when no update can come any more, never on the wall clock. Which waits close,
 * and where in the order of events, then follows from the program alone: a seeded run
 * gives the same numbers twice whatever the machine's load (test/simulations/determinism).
 *
 * On the in-process bus everything between two peers' steps runs as promise jobs and
 * zero-delay timers, so a peer that is not waiting is training, evaluating or merging and
 * will publish again; waits that every running peer is in at once can only be waits for
 * peers that ended their rounds or left (Peer.neighbourFinished usually closes those
 * first). The peer that has waited longest gives up first (one per idle turn): it merges
 * and publishes, which may be what the others wait for.
 *
 * Not for transports with real I/O (libp2p): a message can be in flight while every peer
 * waits, and giving up then would be early.
 */
import type { WaitGate } from './deadline.ts';

export class IdleGate implements WaitGate {
  /** Peers running rounds (between start and end). */
  readonly #running = new Set<string>();
  /** Waiting peers and how to close their waits, longest-waiting first. */
  readonly #waiting = new Map<string, () => void>();
  #check: ReturnType<typeof setTimeout> | undefined;
  #gaveUp = 0;

  /** `peer` starts running rounds: while it runs, the others may be waiting for it. */
  start(peer: string): void {
    this.#running.add(peer);
  }

  /** `peer` ended its rounds or left: nobody's wait is held open for it. */
  end(peer: string): void {
    this.#running.delete(peer);
    this.#waiting.delete(peer);
    this.#schedule();
  }

  wait(peer: string, giveUp: () => void): () => void {
    this.#running.add(peer);
    this.#waiting.set(peer, giveUp);
    this.#schedule();
    return () => {
      if (this.#waiting.get(peer) === giveUp) this.#waiting.delete(peer);
    };
  }

  /** Waits closed because the process was idle. */
  get gaveUp(): number {
    return this.#gaveUp;
  }

  /** Cancels a pending check (the run is over). */
  close(): void {
    clearTimeout(this.#check);
    this.#check = undefined;
  }

  #idle(): boolean {
    if (this.#waiting.size === 0) return false;
    for (const peer of this.#running) if (!this.#waiting.has(peer)) return false;
    return true;
  }

  /**
   * Checks on a later turn of the event loop, after every pending promise job (deliveries,
   * pushes, their wake-ups) has run: idle only if still everyone waits then.
   */
  #schedule(): void {
    if (this.#check !== undefined || !this.#idle()) return;
    this.#check = setTimeout(() => {
      this.#check = undefined;
      if (!this.#idle()) return;
      const first = this.#waiting.entries().next().value;
      if (first === undefined) return;
      const [peer, giveUp] = first;
      this.#waiting.delete(peer);
      this.#gaveUp++;
      giveUp();
    }, 0);
  }
}
