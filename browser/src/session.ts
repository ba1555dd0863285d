/**
 * One browser peer's life: load data and the tfjs backend, reach the daemon, run the
 * Peer's rounds (start / pause), leave. Owns every async path it starts (the round loop,
 * the neighbour dialer, the refresh timer) and reports failures into the store.
 */

import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { createLibp2pGossip, type Libp2pGossip } from '../../src/net/libp2p-gossip.ts';
import type { RoundSummary } from '../../src/peer/events.ts';
import type { Peer, PeerData } from '../../src/peer/peer.ts';
import { type BackendChoice, initBackend } from '../../src/train/backend.ts';
import { connectionViews } from './connections.ts';
import { LEAVE_TIMEOUT_MS, MAX_ERRORS_SHOWN, MAX_REJECTED_SHOWN, REFRESH_INTERVAL_MS, WASM_DIR } from './constants.ts';
import { DaemonLink } from './daemon-link.ts';
import {
  assertBrowserSupport,
  connectDaemon,
  createPageNode,
  dialDaemon,
  NeighbourDialer,
  parseDaemonAddr,
} from './network.ts';
import { TrainingSpeed } from './speed.ts';
import type { NeighbourView, Store } from './state.ts';
import type { TaskConfig } from './task.ts';
import { createTaskPeer } from './task-peer.ts';

export interface SessionInit {
  readonly store: Store;
  readonly task: TaskConfig;
  readonly daemonAddr: string;
  /** The daemon's current address when it may have moved (re-read from its `/status`), if known. */
  readonly resolveDaemonAddr?: (signal: AbortSignal) => Promise<string | undefined>;
  readonly backend: BackendChoice;
  /** Resolves the peer's data (built-in shard or the user's files). */
  readonly loadData: (signal: AbortSignal) => Promise<PeerData>;
  readonly seed: number;
  /** D or 'all' (`?neighbours=`), and gossip steps per round (`?gossipSteps=`); default the Peer's. */
  readonly neighbours?: number | 'all';
  readonly gossipSteps?: number;
  readonly allowInsecureLoopback: boolean;
  readonly baseUrl: string;
}

interface Joined {
  readonly gossip: Libp2pGossip;
  readonly peer: Peer;
  readonly dialer: NeighbourDialer;
  readonly link: DaemonLink;
  readonly unsubscribe: () => void;
  readonly refresh: ReturnType<typeof setInterval>;
}

/** Threads of the wasm backend (other backends: undefined). */
function backendThreads(backend: string): number | undefined {
  return backend === 'wasm' ? getThreadsCount() : undefined;
}

export class Session {
  readonly #init: SessionInit;
  readonly #abort = new AbortController();
  readonly #updates = new Map<string, number>();
  #joined: Joined | undefined;
  #loop: Promise<void> | undefined;
  #wantRunning = false;
  #lastShares = new Map<string, number>();
  /** Merge rejections per neighbour, by reason (shown in the neighbour table). */
  readonly #mergeRejections = new Map<string, Record<string, number>>();
  readonly #speed: TrainingSpeed;

  constructor(init: SessionInit) {
    this.#init = init;
    this.#speed = new TrainingSpeed(init.task.localSteps * init.task.batchSize);
  }

  get #store(): Store {
    return this.#init.store;
  }

  /** Loads, connects and subscribes; resolves in phase 'ready' or 'failed'. */
  async join(): Promise<void> {
    const { task, store } = this.#init;
    const signal = this.#abort.signal;
    try {
      assertBrowserSupport();
      const daemon = parseDaemonAddr(this.#init.daemonAddr);
      store.update({ phase: { kind: 'loading', what: 'tfjs backend' }, daemon: daemon.toString() });
      const backend = await initBackend(this.#init.backend, {
        wasmPaths: new URL(`${WASM_DIR}/`, this.#init.baseUrl).href,
      });
      store.update({ backend, threads: backendThreads(backend), phase: { kind: 'loading', what: 'data' } });
      const data = await this.#init.loadData(signal);
      store.update({ phase: { kind: 'connecting', attempt: 1 } });
      const node = await createPageNode({ allowInsecureLoopback: this.#init.allowInsecureLoopback });
      const gossip = await createLibp2pGossip(node);
      store.update({ peerId: gossip.id });
      try {
        await connectDaemon(node, daemon, signal, (attempt) =>
          store.update({ phase: { kind: 'connecting', attempt } }),
        );
      } catch (err) {
        await gossip.stop();
        throw err;
      }
      const { neighbours, gossipSteps } = this.#init;
      const peer = await createTaskPeer({
        task,
        data,
        gossip,
        seed: this.#init.seed,
        ...(neighbours === undefined ? {} : { neighbours }),
        ...(gossipSteps === undefined ? {} : { gossipSteps }),
      });
      this.#listen(peer);
      await peer.start();
      const resolve = this.#init.resolveDaemonAddr;
      const link = new DaemonLink({
        node,
        addr: daemon,
        resolve: async (s) => {
          const text = await resolve?.(s);
          return text === undefined ? undefined : parseDaemonAddr(text);
        },
        dial: (addr, s) => dialDaemon(node, addr, s),
        onChange: (state) => store.update({ link: state }),
      });
      const dialer = new NeighbourDialer(node, () => link.addr);
      const unsubscribe = gossip.subscribe(peer.topic, (m) => dialer.seen(m.from));
      const refresh = setInterval(() => this.#refresh(), REFRESH_INTERVAL_MS);
      this.#joined = { gossip, peer, dialer, link, unsubscribe, refresh };
      link.start();
      this.#refresh();
      store.update({ phase: { kind: 'ready' } });
    } catch (err) {
      this.#fail(err);
    }
  }

  /** Starts (or resumes) the round loop. */
  start(): void {
    const joined = this.#joined;
    if (!joined || this.#wantRunning) return;
    this.#wantRunning = true;
    this.#store.update({ phase: { kind: 'running' } });
    if (this.#loop) return; // a pause in progress: the loop simply continues
    this.#loop = this.#runLoop(joined.peer).finally(() => {
      this.#loop = undefined;
    });
  }

  /** Finishes the current round, then waits (still receiving updates and serving snapshots). */
  async pause(): Promise<void> {
    if (!this.#wantRunning) return;
    this.#wantRunning = false;
    this.#store.update({ phase: { kind: 'pausing' } });
    await this.#loop;
    if (!this.#wantRunning && this.#store.state.phase.kind === 'pausing')
      this.#store.update({ phase: { kind: 'paused' } });
  }

  /** Stops the peer, the dialer and the node. Safe to call in any phase. */
  async leave(): Promise<void> {
    this.#wantRunning = false;
    this.#abort.abort();
    const joined = this.#joined;
    this.#joined = undefined;
    if (!joined) {
      if (this.#store.state.phase.kind !== 'failed') this.#store.update({ phase: { kind: 'left' } });
      return;
    }
    this.#store.update({ phase: { kind: 'leaving' } });
    clearInterval(joined.refresh);
    const stopping = (async () => {
      await joined.peer.stop();
      await this.#loop?.catch(() => {});
      joined.unsubscribe();
      await joined.link.stop();
      await joined.dialer.stop();
      await joined.gossip.stop();
    })();
    try {
      await Promise.race([
        stopping,
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error(`leaving took over ${LEAVE_TIMEOUT_MS} ms`)), LEAVE_TIMEOUT_MS),
        ),
      ]);
      this.#store.update({ phase: { kind: 'left' }, connections: [], link: undefined });
    } catch (err) {
      this.#fail(err);
    }
  }

  async #runLoop(peer: Peer): Promise<void> {
    try {
      while (this.#wantRunning && !this.#abort.signal.aborted) await peer.runRound();
    } catch (err) {
      if (!this.#abort.signal.aborted) this.#fail(err);
    }
  }

  #listen(peer: Peer): void {
    const store = this.#store;
    peer.addEventListener('round:end', (e) => this.#onRound(e.detail));
    peer.addEventListener('merge:report', (e) => {
      for (const r of e.detail.report.rejected) {
        const byReason = this.#mergeRejections.get(r.peer) ?? {};
        byReason[r.reason] = (byReason[r.reason] ?? 0) + 1;
        this.#mergeRejections.set(r.peer, byReason);
      }
    });
    peer.addEventListener('update:accepted', (e) => {
      this.#updates.set(e.detail.from, (this.#updates.get(e.detail.from) ?? 0) + 1);
      store.update((s) => ({ updatesAccepted: s.updatesAccepted + 1 }));
    });
    peer.addEventListener('update:rejected', (e) => {
      const entry = { ...e.detail, at: new Date().toISOString() };
      store.update((s) => ({ rejected: [entry, ...s.rejected].slice(0, MAX_REJECTED_SHOWN) }));
    });
    peer.addEventListener('task:mismatch', (e) => {
      const message = `${new Date().toISOString().slice(11, 19)} ${e.detail.mismatch.summary}`;
      store.update((s) => ({ errors: [message, ...s.errors].slice(0, MAX_ERRORS_SHOWN) }));
    });
    peer.addEventListener('error', (e) => {
      const message = `${new Date().toISOString().slice(11, 19)} ${e.detail.message}`;
      store.update((s) => ({ errors: [message, ...s.errors].slice(0, MAX_ERRORS_SHOWN) }));
    });
  }

  #onRound(summary: RoundSummary): void {
    this.#speed.push(summary);
    this.#lastShares = new Map((summary.merge?.used ?? []).map((u) => [u.peer, u.share]));
    this.#store.update((s) => ({
      round: summary.round + 1,
      history: [
        ...s.history,
        {
          round: summary.round,
          local: summary.local?.overall,
          merged: summary.merged?.overall,
          closedBy: summary.closedBy,
          candidates: summary.candidates,
        },
      ],
      perClass: summary.merged?.perClass ?? s.perClass,
      ownShare: summary.merge?.ownShare,
      bytesIn: summary.totalBytesReceived,
      bytesOut: summary.totalBytesSent,
      samplesPerSecond: this.#speed.samplesPerSecond(),
    }));
    this.#refresh();
  }

  #refresh(): void {
    const joined = this.#joined;
    if (!joined) return;
    const ids = new Set([...joined.peer.neighbours(), ...this.#updates.keys(), ...joined.dialer.states.keys()]);
    const neighbours: NeighbourView[] = [...ids].sort().map((peer) => {
      const shunnedUntil = joined.peer.shunnedUntil(peer);
      return {
        peer,
        share: this.#lastShares.get(peer),
        updates: this.#updates.get(peer) ?? 0,
        dial: joined.dialer.states.get(peer),
        mergeRejections: { ...this.#mergeRejections.get(peer) },
        ...(shunnedUntil === undefined ? {} : { shunnedUntil }),
      };
    });
    this.#store.update({
      connections: connectionViews(joined.gossip.node),
      neighbours,
      bytesIn: Math.max(this.#store.state.bytesIn, joined.peer.bytesReceived),
      bytesOut: Math.max(this.#store.state.bytesOut, joined.peer.bytesSent),
    });
  }

  #fail(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    console.error('meshfl:', err);
    this.#store.update({ phase: { kind: 'failed', error: message } });
  }
}
