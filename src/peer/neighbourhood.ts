/**
 * Neighbour-bounded dissemination for one Peer (docs/PROTOCOL.md "Neighbours"): the peer
 * takes updates from at most D neighbours, chosen by a PeerSampler (src/net/peer-sampling.ts),
 * and pushes its own updates only to the peers that follow it. Everything travels over
 * the Gossip interface's request/response exchanges, so the in-process Bus and libp2p
 * behave alike:
 *
 * - `/meshfl/1/sample` (src/wire/sampling.ts): one exchange per round with a neighbour
 *   (each side sends its neighbours and itself), and follow / unfollow. A follow is
 *   answered with the followed peer's snapshot (its public copy, an fp32 keyframe, or zero
 *   bytes), so a new neighbour's deltas apply at once.
 * - `/meshfl/1/push`: the request is one update message, sent by its author to each
 *   follower; the answer is empty, or an error naming why it was refused.
 * - `leave` (on `/meshfl/1/sample`): a peer that ended its run tells its followers its last
 *   published seq (and tells each later follower right after answering its follow), so
 *   they stop waiting for updates that will not come. Taken only from a peer this one
 *   follows, and only about that peer itself.
 *
 * Followees follow the sampler's view at a pace independent of N (src/peer/follow-plan.ts):
 * free places are filled at once, but a followee is replaced at most once every
 * `swapEvery` rounds, since each new followee costs a snapshot in and one out.
 *
 * Limits: a push is accepted only from a peer this one follows, at most
 * PUSHES_PER_ROUND per sender per round, no larger than the task's largest update; a
 * peer has at most `maxFollowers` followers (further follows are refused); inbound
 * exchanges are limited by the sampler; follow answers (snapshots) share the Peer's
 * snapshot rate limit.
 */
import { FetchError } from '../net/errors.ts';
import type { Gossip } from '../net/gossip.ts';
import { DEFAULT_RESET_EVERY, PeerSampler } from '../net/peer-sampling.ts';
import { PUSH_PROTOCOL, SAMPLE_PROTOCOL } from '../wire/constants.ts';
import {
  ADDRESS_PATTERN,
  checkSampleMessage,
  encodeSampleMessage,
  MAX_SAMPLE_MESSAGE_BYTES,
  type SampleEntry,
  type SampleKind,
} from '../wire/sampling.ts';
import type { TaskSchema } from '../wire/schema.ts';
import { planFollows } from './follow-plan.ts';

/** Pushes accepted from one neighbour per round of ours (a faster neighbour may send two). */
export const PUSHES_PER_ROUND = 4;
/** Default cap on followers, as a multiple of D (followers are D on average). */
export const FOLLOWERS_FACTOR = 3;
/** Time for one exchange or unfollow. */
export const SAMPLE_TIMEOUT_MS = 10_000;
/**
 * Time for one push (the whole update travels), for a push request to arrive whole at its
 * receiver, and for a follow (answered with an fp32 snapshot). With 10 s for a follow and
 * the transport's 5 s for a request to arrive, a 30-peer libp2p run on a loaded machine
 * lost 57 of 446 follows to timeouts and 136 of 481 pushes to timeouts or cut streams
 * (docs/PERFORMANCE.md), and each lost follow was retried, another snapshot.
 */
export const PUSH_TIMEOUT_MS = 30_000;
/**
 * After a failed follow, connected peers are offered and follows synced again after this
 * long: a peer that does not serve the protocol yet (still starting) is retried within the
 * round instead of at the next one, which a round waiting for every neighbour needs.
 */
export const FOLLOW_RETRY_MS = 2_000;
/**
 * Default: one followee may be replaced every this many rounds, at any N (follow-plan.ts).
 * Each replacement costs a snapshot in and one out (about 4 int8 deltas each).
 */
export const SWAP_EVERY = 2;
/**
 * Time to deliver one leave. A peer that stops sends its leaves before it closes (stop()
 * waits up to this long); after a run's end they go in the background.
 */
export const LEAVE_TIMEOUT_MS = 2_000;
/** A follower whose pushes failed (timed out, cut) this many times in a row is dropped. */
export const MAX_MISSED_PUSHES = 2;
/** The refusal that tells a pusher to drop this follower. */
const NOT_FOLLOWING = 'not-following';
/** Peers whose addresses are remembered to pass on in exchanges. */
const ADDRESS_BOOK_SIZE = 256;

export interface NeighbourhoodInit {
  readonly gossip: Gossip;
  readonly schema: TaskSchema;
  /** D. */
  readonly neighbours: number;
  readonly seed: number;
  /** Largest update a push may carry (the task's maxUpdateSize). */
  readonly maxUpdateBytes: number;
  readonly maxFollowers?: number;
  readonly resetEvery?: number;
  /** One followee may be replaced every this many rounds (default SWAP_EVERY); filling a free place is not limited. */
  readonly swapEvery?: number;
  /** Pushes taken from one neighbour per round of ours; default PUSHES_PER_ROUND. */
  readonly pushesPerRound?: number;
  /** Validate and apply a pushed update; returns the refusal reason, or undefined when it was taken. */
  readonly onUpdate: (from: string, bytes: Uint8Array) => string | undefined;
  /** A follow was answered with this snapshot (non-empty). */
  readonly onSnapshot: (from: string, bytes: Uint8Array) => void;
  /** `peer` is no longer a neighbour: drop what is held of it. */
  readonly onDropped: (peer: string) => void;
  /**
   * A followed peer announced that it ended its run and `lastSeq` is the last update it
   * published (a `leave`): nothing more comes from it.
   */
  readonly onLeave?: (peer: string, lastSeq: number) => void;
  /**
   * The follow of `peer` is over (answered, after onSnapshot; or failed): pushes that
   * arrived meanwhile can be applied now (see `followPending`).
   */
  readonly onFollowSettled?: (peer: string) => void;
  /** Our snapshot for a new follower, or undefined (nothing published, or rate-limited). */
  readonly snapshotFor: (follower: string) => Uint8Array | undefined;
  /**
   * Our snapshot at the seq being pushed (an fp32 keyframe of our public copy), sent
   * instead of the delta to a follower whose last push failed; undefined: send the delta.
   */
  readonly resync?: () => Uint8Array | undefined;
  /** Refused control traffic (bad sampling messages), reported like rejected updates. */
  readonly onRefused: (from: string, reason: string, detail: string) => void;
  readonly onError: (err: unknown, context: string) => void;
  /** Bytes of control traffic and pushes, both directions, as counted here. */
  readonly onBytes: (sent: number, received: number) => void;
}

export class Neighbourhood {
  readonly sampler: PeerSampler;
  readonly #init: NeighbourhoodInit;
  readonly #gossip: Gossip;
  readonly #maxFollowers: number;
  /** Peers we asked to follow (they push to us): the only senders we take pushes from. */
  readonly #following = new Set<string>();
  /** Peers that follow us (we push to them). */
  readonly #followers = new Set<string>();
  /**
   * Followers whose last push failed (timed out, cut), with how many in a row: the next
   * push to one is our snapshot, a keyframe, since it missed a delta.
   */
  readonly #missed = new Map<string, number>();
  readonly #pushes = new Map<string, number>();
  readonly #addresses = new Map<string, readonly string[]>();
  /**
   * Follows sent and not answered yet; `dropped`: the peer was dropped meanwhile (an
   * unfollow may follow this follow); `again`: and followed again, so once this follow is
   * over another is sent.
   */
  readonly #pendingFollows = new Map<string, { dropped: boolean; again: boolean }>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  readonly #swapEvery: number;
  /** Followees that may still be replaced this round. */
  #swaps = 0;
  #exchanging = false;
  #retry: ReturnType<typeof setTimeout> | undefined;
  /** Our last seq once we have left (ended our run): each later follower is told so too. */
  #left: number | undefined;

  constructor(init: NeighbourhoodInit) {
    this.#init = init;
    this.#gossip = init.gossip;
    this.#maxFollowers = init.maxFollowers ?? FOLLOWERS_FACTOR * init.neighbours;
    this.#swapEvery = init.swapEvery ?? SWAP_EVERY;
    if (!(Number.isInteger(this.#swapEvery) && this.#swapEvery >= 1)) {
      throw new RangeError(`swapEvery must be an integer >= 1, got ${this.#swapEvery}`);
    }
    this.sampler = new PeerSampler({
      self: init.gossip.id,
      neighbours: init.neighbours,
      resetEvery: init.resetEvery ?? DEFAULT_RESET_EVERY,
      seed: init.seed,
    });
  }

  async start(): Promise<void> {
    const gossip = this.#gossip;
    await gossip.handle(SAMPLE_PROTOCOL, (from, request) => this.#serveSample(from, request), {
      maxRequestBytes: MAX_SAMPLE_MESSAGE_BYTES,
      stage: 'sample',
    });
    await gossip.handle(PUSH_PROTOCOL, async (from, request) => this.#servePush(from, request), {
      maxRequestBytes: this.#init.maxUpdateBytes,
      readTimeout: PUSH_TIMEOUT_MS,
      stage: 'validation',
    });
    this.sampler.introduce(gossip.peers());
    gossip.addEventListener('peer:connect', this.#onConnect);
  }

  /** Peers whose updates we take (at most D). */
  neighbours(): string[] {
    return [...this.#following];
  }

  isNeighbour(peer: string): boolean {
    return this.#following.has(peer);
  }

  /**
   * A follow of `peer` is on its way and its answer (a snapshot) has not arrived: a push of
   * `peer` may arrive before it (a delta on a base we do not hold yet), since the followee
   * takes us as a follower when it answers, and its next push travels on another stream,
   * smaller than the snapshot. Such a push is for the caller to hold until onFollowSettled,
   * not a gap to fetch another snapshot for.
   */
  followPending(peer: string): boolean {
    return this.#pendingFollows.has(peer);
  }

  followers(): string[] {
    return [...this.#followers];
  }

  /**
   * Round start: reseed a slot when due, follow the new neighbours (replacing at most one
   * followee every `swapEvery` rounds), follow again those in `silent` (not heard from
   * lately: they may have dropped us), exchange with one.
   */
  tick(round: number, silent: (peer: string) => boolean = () => false): void {
    this.sampler.tick(round);
    this.#pushes.clear();
    this.#swaps = round > 0 && round % this.#swapEvery === 0 ? 1 : 0;
    if (this.sampler.neighbours().length < this.sampler.size) this.sampler.introduce(this.#gossip.peers());
    this.#syncFollows(silent);
    this.#exchange();
  }

  /** `peer`'s shun is over: the sampler may take it again once it is seen again. */
  readmit(peer: string): void {
    this.sampler.readmit(peer);
  }

  /**
   * Stops taking updates from `peer` until `readmit(peer)` (src/peer/shunning.ts): it leaves the
   * sampler, is unfollowed at once, and another peer takes its slot now rather than at the
   * next round (a shunned neighbour is not a swap, so it does not use up the round's).
   */
  shun(peer: string): void {
    this.sampler.shun(peer);
    if (this.#following.has(peer)) this.#unfollow(peer);
    this.#syncFollows(() => false);
  }

  /**
   * Sends `bytes` (one update) to every follower in the background; returns how many (the
   * caller counts their bytes, as it counts a publication's recipients).
   */
  push(bytes: Uint8Array): number {
    const followers = [...this.#followers];
    const resync = this.#missed.size > 0 ? this.#init.resync?.() : undefined;
    for (const peer of followers) {
      // A follower that missed our last push gets our snapshot at this seq (a keyframe), not
      // a delta on a base it does not hold.
      const payload = resync !== undefined && this.#missed.has(peer) ? resync : bytes;
      if (payload !== bytes) this.#init.onBytes(payload.byteLength - bytes.byteLength, 0);
      this.#background(async () => {
        try {
          await this.#gossip.fetch(peer, PUSH_PROTOCOL, payload, {
            signal: this.#signal(PUSH_TIMEOUT_MS),
            maxResponseBytes: 1024,
          });
          this.#missed.delete(peer);
        } catch (err) {
          if (this.#abort.signal.aborted) return;
          if (!(err instanceof FetchError)) throw err;
          if (err.code === 'remote-error') {
            // It no longer follows us: it follows again if it picks us again. (A refused
            // update keeps the follower: the refusal is its business.)
            if (err.message.includes(NOT_FOLLOWING)) this.#dropFollower(peer);
            return;
          }
          // Gone, or failed twice in a row: dropped; it follows again if it picks us again.
          // A push that timed out or was cut once keeps the follower, and its next push is
          // our snapshot. (Dropping it at once left it waiting for us at every gossip step
          // until it noticed our silence, staleAfterRounds later: at 100 libp2p peers most
          // steps that closed on the deadline waited for such a followee.)
          const failures = (this.#missed.get(peer) ?? 0) + 1;
          if (err.code === 'unreachable' || failures >= MAX_MISSED_PUSHES) this.#dropFollower(peer);
          else if (this.#followers.has(peer)) this.#missed.set(peer, failures);
        }
      });
    }
    return followers.length;
  }

  /** Resolves once every request this neighbourhood has in flight (pushes, follows, leaves) is over. */
  async settled(): Promise<void> {
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }

  #dropFollower(peer: string): void {
    this.#followers.delete(peer);
    this.#missed.delete(peer);
  }

  /**
   * This peer ended its run: `lastSeq` is the last update it published. Tells every
   * follower (resolves when each was told or LEAVE_TIMEOUT_MS passed); a follow that
   * arrives later is answered as always and then told too. `resume()` undoes it.
   */
  async leave(lastSeq: number): Promise<void> {
    if (this.#abort.signal.aborted) return;
    this.#left = lastSeq;
    await Promise.allSettled([...this.#followers].map((peer) => this.#sendLeave(peer, lastSeq)));
  }

  /** Rounds run again after a leave: later followers are no longer told we left. */
  resume(): void {
    this.#left = undefined;
  }

  get left(): boolean {
    return this.#left !== undefined;
  }

  #sendLeave(peer: string, lastSeq: number): Promise<void> {
    const task = this.#gossip
      .fetch(peer, SAMPLE_PROTOCOL, this.#message('leave', [], lastSeq), {
        signal: this.#signal(LEAVE_TIMEOUT_MS),
        maxResponseBytes: 1024,
      })
      .then(
        (answer) => this.#init.onBytes(0, answer.byteLength),
        () => {
          // best effort: a follower that misses it waits for its deadline, as before
        },
      );
    this.#tasks.add(task);
    void task.finally(() => this.#tasks.delete(task));
    return task;
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    clearTimeout(this.#retry);
    this.#gossip.removeEventListener('peer:connect', this.#onConnect);
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }

  readonly #onConnect = (e: CustomEvent<string>): void => {
    this.sampler.introduce([e.detail]);
  };

  #signal(ms: number): AbortSignal {
    return AbortSignal.any([this.#abort.signal, AbortSignal.timeout(ms)]);
  }

  #background(work: () => Promise<void>): void {
    if (this.#abort.signal.aborted) return;
    const task = work().catch((err: unknown) => {
      if (!this.#abort.signal.aborted) this.#init.onError(err, 'neighbourhood');
    });
    this.#tasks.add(task);
    void task.finally(() => this.#tasks.delete(task));
  }

  #message(kind: SampleKind, entries: readonly SampleEntry[] = [], lastSeq?: number): Uint8Array {
    const { taskId, fingerprint } = this.#init.schema;
    const bytes = encodeSampleMessage({
      kind,
      taskId,
      fingerprint,
      entries,
      ...(lastSeq === undefined ? {} : { lastSeq }),
    });
    if (kind === 'leave') this.#init.onBytes(bytes.byteLength, 0);
    return bytes;
  }

  /**
   * This peer and the sampler's entries, each with up to 4 addresses. A peer known from a
   * connection (its overlay neighbours, its followers) has no sampled addresses: the
   * transport's are sent, else a receiver that picks it could not dial it (measured at 30
   * libp2p peers: 218 of 284 follows of unconnected peers failed as unreachable).
   */
  async #entries(): Promise<SampleEntry[]> {
    const own = (await this.#gossip.addresses?.()) ?? [];
    const out: SampleEntry[] = [];
    for (const id of this.sampler.entries()) {
      let addresses = id === this.#gossip.id ? own : this.#addresses.get(id);
      if (addresses === undefined && this.#gossip.peerAddresses !== undefined) {
        // Only what the sampling message can carry (a transport may know other kinds).
        addresses = (await this.#gossip.peerAddresses(id)).filter((a) => ADDRESS_PATTERN.test(a));
        if (addresses.length > 0) this.#learn([{ id, addresses }]);
      }
      out.push({ id, addresses: (addresses ?? []).slice(0, 4) });
    }
    return out;
  }

  /**
   * Remembers where entries can be reached. The transport is told only when this peer
   * follows one of them (#follow): telling it every entry of every exchange meant a
   * peer-store write per id per exchange (the peer store took 9% of a 20-peer libp2p run,
   * docs/PERFORMANCE.md), for ids that are mostly never dialled.
   */
  #learn(entries: readonly SampleEntry[]): void {
    for (const e of entries) {
      if (e.addresses.length === 0 || e.id === this.#gossip.id) continue;
      this.#addresses.delete(e.id);
      this.#addresses.set(e.id, e.addresses);
      if (this.#addresses.size > ADDRESS_BOOK_SIZE)
        this.#addresses.delete(this.#addresses.keys().next().value as string);
    }
  }

  /**
   * Follows the sampler's neighbours and unfollows the peers it dropped, at the pace of
   * follow-plan.ts: free places are filled at once, followees replaced within the budget.
   */
  #syncFollows(silent: (peer: string) => boolean): void {
    for (const peer of this.#following) if (silent(peer)) this.#follow(peer);
    const plan = planFollows([...this.#following], this.sampler.neighbours(), this.#swaps);
    this.#swaps -= plan.unfollow.length;
    for (const peer of plan.unfollow) this.#unfollow(peer);
    for (const peer of plan.follow) this.#follow(peer);
  }

  /** Stops following `peer` and tells it so (in the background). */
  #unfollow(peer: string): void {
    this.#drop(peer);
    this.#background(async () => {
      await this.#send(peer, this.#message('unfollow')).catch(() => {
        // best effort: its next push is refused and it drops us then
      });
    });
  }

  #follow(peer: string): void {
    this.#following.add(peer);
    // One follow at a time per peer: a second would cost the followee another snapshot.
    const pending = this.#pendingFollows.get(peer);
    if (pending !== undefined) {
      if (pending.dropped) pending.again = true;
      return;
    }
    const state = { dropped: false, again: false };
    this.#pendingFollows.set(peer, state);
    this.#background(async () => {
      try {
        const addresses = this.#addresses.get(peer);
        if (addresses !== undefined) await this.#gossip.learnAddresses?.(peer, addresses);
        const snapshot = await this.#send(peer, this.#message('follow'), PUSH_TIMEOUT_MS);
        if (snapshot.byteLength > 0 && this.#following.has(peer)) this.#init.onSnapshot(peer, snapshot);
      } catch (err) {
        if (this.#abort.signal.aborted) return;
        // Unreachable or full: take another neighbour, and try this one again shortly.
        this.sampler.forget(peer);
        this.#drop(peer);
        this.#scheduleRetry();
        if (!(err instanceof FetchError)) throw err;
      } finally {
        this.#pendingFollows.delete(peer);
        if (!this.#abort.signal.aborted) {
          this.#init.onFollowSettled?.(peer);
          if (state.again && this.#following.has(peer)) this.#follow(peer);
        }
      }
    });
  }

  #scheduleRetry(): void {
    if (this.#retry !== undefined || this.#abort.signal.aborted) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (this.#abort.signal.aborted) return;
      this.sampler.pardon();
      this.sampler.introduce(this.#gossip.peers());
      this.#syncFollows(() => false);
    }, FOLLOW_RETRY_MS);
  }

  #drop(peer: string): void {
    if (!this.#following.delete(peer)) return;
    const pending = this.#pendingFollows.get(peer);
    if (pending !== undefined) pending.dropped = true;
    this.#init.onDropped(peer);
  }

  /** One exchange per round with a random neighbour (none while the last is running). */
  #exchange(): void {
    const partner = this.sampler.partner();
    if (partner === undefined || this.#exchanging) return;
    this.#exchanging = true;
    this.#background(async () => {
      try {
        const answer = await this.#send(partner, this.#message('exchange', await this.#entries()));
        const check = checkSampleMessage(answer, this.#init.schema);
        if (!check.ok || check.message.kind !== 'answer') {
          const reason = check.ok ? 'bad-kind' : check.reason;
          this.#init.onRefused(
            partner,
            reason,
            check.ok ? `expected an answer, got ${check.message.kind}` : check.detail,
          );
          this.sampler.forget(partner);
          this.#drop(partner);
          return;
        }
        this.#learn(check.message.entries);
        this.sampler.acceptResponse(
          partner,
          check.message.entries.map((e) => e.id),
        );
      } catch (err) {
        if (!(err instanceof FetchError)) throw err;
        if (err.code === 'unreachable') {
          // Gone: a followee that is unreachable leaves a free place, filled at the next sync.
          this.sampler.forget(partner);
          this.#drop(partner);
        }
      } finally {
        this.#exchanging = false;
      }
    });
  }

  async #send(peer: string, request: Uint8Array, timeoutMs = SAMPLE_TIMEOUT_MS): Promise<Uint8Array> {
    const answer = await this.#gossip.fetch(peer, SAMPLE_PROTOCOL, request, {
      signal: this.#signal(timeoutMs),
      maxResponseBytes: Math.max(MAX_SAMPLE_MESSAGE_BYTES, this.#init.maxUpdateBytes),
    });
    this.#init.onBytes(request.byteLength, answer.byteLength);
    return answer;
  }

  async #serveSample(from: string, request: Uint8Array): Promise<Uint8Array> {
    const check = checkSampleMessage(request, this.#init.schema);
    if (!check.ok) {
      this.#init.onRefused(from, check.reason, check.detail);
      throw new Error(`bad sampling message: ${check.reason}`);
    }
    const m = check.message;
    this.#init.onBytes(0, request.byteLength);
    switch (m.kind) {
      case 'exchange': {
        if (!this.sampler.acceptInbound(from)) throw new Error('busy: one exchange per peer per round');
        // Of an inbound exchange only its sender is taken (peer-sampling.ts), and its addresses.
        this.#learn(m.entries.filter((e) => e.id === from));
        return this.#message('answer', await this.#entries());
      }
      case 'follow': {
        if (!this.#followers.has(from) && this.#followers.size >= this.#maxFollowers) {
          throw new Error(`followers-full: ${this.#maxFollowers} followers`);
        }
        this.#followers.add(from);
        this.#missed.delete(from); // the answer is our snapshot
        const snapshot = this.#init.snapshotFor(from) ?? new Uint8Array(0);
        this.#init.onBytes(snapshot.byteLength, 0);
        // Ended our run: the new follower would wait for updates that will not come.
        if (this.#left !== undefined) void this.#sendLeave(from, this.#left);
        return snapshot;
      }
      case 'unfollow':
        this.#dropFollower(from);
        return new Uint8Array(0);
      case 'leave':
        // Only about its sender (the transport authenticates `from`), and only from a peer
        // we follow: all a lie can do is what going silent does (we stop waiting for it).
        if (this.#following.has(from) && m.lastSeq !== undefined) this.#init.onLeave?.(from, m.lastSeq);
        return new Uint8Array(0);
      case 'answer':
        this.#init.onRefused(from, 'bad-kind', 'an answer sent as a request');
        throw new Error('bad sampling message: an answer is not a request');
      default: {
        const never: never = m.kind;
        throw new Error(`unknown sampling kind ${String(never)}`);
      }
    }
  }

  #servePush(from: string, request: Uint8Array): Uint8Array {
    if (!this.#following.has(from)) throw new Error(`${NOT_FOLLOWING}: not a neighbour of this peer`);
    const count = (this.#pushes.get(from) ?? 0) + 1;
    this.#pushes.set(from, count);
    const cap = this.#init.pushesPerRound ?? PUSHES_PER_ROUND;
    if (count > cap) throw new Error(`rate-limited: more than ${cap} pushes this round`);
    this.#init.onBytes(0, request.byteLength);
    const refused = this.#init.onUpdate(from, request);
    if (refused !== undefined) throw new Error(`refused: ${refused}`);
    return new Uint8Array(0);
  }
}
