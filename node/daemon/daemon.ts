/**
 * The daemon's composition root: data directory and identity, HTTP endpoints, local data,
 * model and trainer (resumed from the newest valid checkpoint), libp2p node (optionally a
 * relay and WebSockets/WebRTC-Direct endpoint for browsers), and the Peer round loop.
 * Runs until `stop` aborts, then shuts down in order: Peer.stop() (abandons the current
 * step), final checkpoint, leave gossip and stop libp2p, close HTTP.
 */
import path from 'node:path';
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { Multiaddr } from '@multiformats/multiaddr';
import { exportModelFile, type LayersModelFiles } from '../../src/model/export.ts';
import { HEAD_KERNEL } from '../../src/model/model.ts';
import { prepareModel } from '../../src/model/tfjs-model.ts';
import { sameArchitecture, type Weights } from '../../src/model/weights.ts';
import { createLibp2pGossip, type Libp2pGossip } from '../../src/net/libp2p-gossip.ts';
import { Redialer } from '../../src/net/redial.ts';
import { createPeer, taskModelLayout } from '../../src/peer/create-peer.ts';
import type { Peer } from '../../src/peer/peer.ts';
import { encodeTaskSpec, type TaskSpec, taskSpecRecord } from '../../src/peer/task.ts';
import { describeTaskMismatch } from '../../src/peer/task-mismatch.ts';
import { type BackendChoice, initBackend } from '../../src/train/backend.ts';
import { type TrainingThreads, trainingThreads } from '../data-parallel/parallel-training.ts';
import { loadModelFile } from '../model-store.ts';
import { createNodeLibp2p, type MeshflNode } from '../node-factory.ts';
import type { DaemonConfig } from './config.ts';
import { type LoadedData, loadPeerData, resolveSource } from './data.ts';
import { bindErrorCode, ListenError } from './errors.ts';
import { PeerPresence } from './health.ts';
import { type RunningHttpServer, startHttpServer } from './http.ts';
import { fetchJoinedTask } from './join.ts';
import type { Logger } from './logger.ts';
import { DaemonMetrics, type MetricsSnapshot } from './metrics.ts';
import { NeighbourBook } from './neighbours.ts';
import { RejectLog } from './reject-log.ts';
import { DataStore, StoreError } from './store.ts';
import { configTask, DAEMON_TASK_KEYS, joinedTask } from './task.ts';

/** Where the browser engineer's build lands; served at / when present. */
export const STATIC_ROOT = path.resolve(import.meta.dirname, '../../browser/dist');
/** Default libp2p listen addresses (all interfaces: peers on other hosts must reach us). */
export const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4002/ws'];
export const DEFAULT_WEBRTC_DIRECT_LISTEN = '/ip4/0.0.0.0/udp/4003/webrtc-direct';
/** How often the connected neighbours' addresses are saved to peers.json (when changed). */
const NEIGHBOURS_SAVE_MS = 5_000;
/** A new neighbour's addresses are known once identify ran: save them this long after it connects. */
const NEIGHBOUR_IDENTIFY_MS = 1_000;
/** Seqs reserved by one durable write of the high-water mark (peer.seq). */
export const SEQ_RESERVE_BLOCK = 16;
/** Transports a browser can dial directly. */
const BROWSER_DIALABLE = /\/(ws|wss|tls\/ws|webrtc-direct)(\/|$)/;

interface DaemonState {
  peerId: string | undefined;
  phase: 'starting' | 'running' | 'stopping';
  /** The task, once known (from the config, or fetched from the joined peer): served at /task. */
  task: TaskSpec | undefined;
  peer: Peer | undefined;
  node: MeshflNode | undefined;
  gossip: Libp2pGossip | undefined;
  lastCheckpoint: { file: string; round: number } | undefined;
  resumedFrom: { file: string; round: number } | undefined;
  readonly startedAt: number;
}

/**
 * The merged model for GET /export/*: the newest checkpoint as LayersModel files, built
 * once per checkpoint file (a checkpoint of a round is written once, under its own name).
 */
class CheckpointExporter {
  #cached: { file: string; files: Promise<LayersModelFiles> } | undefined;

  files(checkpoint: string | undefined): Promise<LayersModelFiles | undefined> {
    if (checkpoint === undefined) return Promise.resolve(undefined);
    if (this.#cached?.file !== checkpoint) {
      const files = exportModelFile(loadModelFile(checkpoint));
      this.#cached = { file: checkpoint, files };
      // A failed export is not cached: the next request tries again.
      files.catch(() => {
        if (this.#cached?.files === files) this.#cached = undefined;
      });
    }
    return this.#cached.files;
  }
}

/** Runs the daemon until `stop` aborts; resolves to the process exit code. Throws operator errors. */
export async function runDaemon(config: DaemonConfig, logger: Logger, stop: AbortSignal): Promise<number> {
  const closers: Array<{ what: string; close: () => Promise<void> }> = [];
  const state: DaemonState = {
    peerId: undefined,
    phase: 'starting',
    task: undefined,
    peer: undefined,
    node: undefined,
    gossip: undefined,
    lastCheckpoint: undefined,
    resumedFrom: undefined,
    startedAt: Date.now(),
  };
  const metrics = new DaemonMetrics(() => liveMetrics(state));
  const presence = new PeerPresence(config.http.notReadyAfterNoPeersMs);
  const exporter = new CheckpointExporter();
  try {
    const store = new DataStore(config.dataDir, config.checkpoints.keep);
    const unlock = store.lock();
    // First in, so closed last: the directory stays ours until the final checkpoint is written.
    closers.push({ what: 'data directory lock', close: async () => unlock() });
    const identity = await store.identity();
    state.peerId = peerIdFromPrivateKey(identity.key).toString();
    logger.setContext({ peer: state.peerId });
    logger.info(identity.created ? 'created a new peer identity' : 'loaded the peer identity', {
      dataDir: store.dir,
      peerId: state.peerId,
    });

    const http = await startHttpServer({
      host: config.http.host,
      port: config.http.port,
      token: config.http.token,
      exportOrigins: config.http.exportOrigins,
      staticRoot: STATIC_ROOT,
      logger,
      handlers: {
        health: () => health(state, presence),
        metrics: () => metrics.exposition(),
        status: () => status(state, config, metrics, presence),
        task: () => (state.task === undefined ? undefined : encodeTaskSpec(state.task)),
        exportModel: () => exporter.files(state.lastCheckpoint?.file ?? state.resumedFrom?.file),
      },
    });
    closers.push({ what: 'http', close: () => http.close() });
    logger.info('http listening', { url: httpUrl(http), auth: config.http.token !== undefined });
    if (stop.aborted) return 0;

    // A task of this config is known before the network starts; a joined one after.
    let data: LoadedData | undefined;
    if (config.task.kind === 'config') {
      data = loadData(resolveSource(config.dataset, undefined), logger);
      state.task = configTask(config.task.input, data);
    }
    const backend = await initBackend(config.resources.backend);

    const node = await startNode(config, identity.key);
    state.node = node;
    const gossip: Libp2pGossip = await createLibp2pGossip(node);
    state.gossip = gossip;
    closers.push({ what: 'libp2p', close: () => gossip.stop() });
    // Healing: neighbours persisted by earlier runs and the bootstrap list are redialed
    // (with backoff) whenever fewer than mesh.minPeers peers are connected.
    const known = store.knownPeers();
    if (known.problem !== undefined) logger.warn('ignoring the known peers file', { problem: known.problem });
    const neighbours = new NeighbourBook(store, node, gossip, logger, known.peers);
    const redialer = new Redialer(node, {
      minPeers: config.mesh.minPeers,
      bootstrap: config.bootstrap,
      known: () => neighbours.known(),
      maxBackoffMs: config.mesh.redialMaxBackoffMs,
    });
    redialer.start();
    const saveNeighbours = setInterval(() => void neighbours.refresh(), NEIGHBOURS_SAVE_MS);
    const onNeighbour = (): void => neighbours.refreshSoon(NEIGHBOUR_IDENTIFY_MS);
    gossip.addEventListener('peer:connect', onNeighbour);
    closers.push({
      what: 'redialer',
      close: async () => {
        clearInterval(saveNeighbours);
        gossip.removeEventListener('peer:connect', onNeighbour);
        await redialer.stop();
        await neighbours.close();
      },
    });
    logger.info('healing', {
      minPeers: config.mesh.minPeers,
      knownPeers: neighbours.size,
      bootstrap: config.bootstrap.length,
    });
    const addrs = node.getMultiaddrs().map((a: Multiaddr) => a.toString());
    logger.info('libp2p listening', { multiaddrs: addrs, backend });
    if (config.relay) logger.info('browsers can dial', { multiaddrs: browserMultiaddrs(node, config) });

    if (config.task.kind === 'join') {
      const { address, choices } = config.task;
      logger.info('fetching the task of the joined peer', { address });
      const theirs = await fetchJoinedTask(gossip, address, stop, logger);
      data = loadData(resolveSource(config.dataset, theirs), logger);
      state.task = joinedTask(theirs, choices, data);
      logger.info('joined the task', { address, task: taskSpecRecord(state.task), ownSettings: choices });
    }
    if (stop.aborted || state.task === undefined || data === undefined) return 0;
    const task = state.task;

    await prepareModel(task.model);
    const layout = taskModelLayout(task);
    const backbone = loadBackbone(config, layout);
    const { checkpoint, skipped } = store.newestCheckpoint(state.peerId, task.taskId, (m) =>
      sameArchitecture(m.weights, layout) ? undefined : 'does not fit the configured model',
    );
    for (const s of skipped) {
      // Out of the way: an unusable file must not take a `keep` slot or shadow a fresh run's checkpoints.
      let to: string | undefined;
      try {
        to = store.quarantine(s.file);
      } catch (err) {
        logger.warn('cannot quarantine a checkpoint', {
          file: s.file,
          error: err instanceof Error ? err : String(err),
        });
      }
      logger.warn('skipping an unusable checkpoint', { file: s.file, reason: s.reason, quarantined: to });
    }
    // Seqs never go backwards for this identity: past every seq a checkpoint or the
    // high-water mark says we may have published (neighbours ignore seqs they have seen).
    const mark = store.seqMark(state.peerId);
    if (mark.problem !== undefined) logger.warn('ignoring the seq high-water mark', { problem: mark.problem });
    const afterSeq = Math.max(checkpoint ? checkpoint.meta.seq + config.checkpoints.every : 0, mark.seq);
    let resume: { round: number; seq: number } | undefined;
    if (checkpoint) {
      resume = { round: checkpoint.meta.round, seq: afterSeq };
      state.resumedFrom = { file: checkpoint.file, round: checkpoint.meta.round };
      logger.info('resumed from checkpoint', {
        file: checkpoint.file,
        round: resume.round,
        seq: checkpoint.meta.seq,
        resumeAfterSeq: afterSeq,
      });
    } else {
      if (afterSeq > 0) resume = { round: 0, seq: afterSeq };
      logger.info('starting from the initial model', {
        reason: skipped.length > 0 ? `no usable checkpoint (${skipped.length} quarantined)` : 'no checkpoint',
        resumeAfterSeq: afterSeq,
      });
    }
    let reservedSeq = afterSeq;
    if (stop.aborted) return 0;

    // Local training on resources.threads threads (worker replicas when more than 1).
    let threads: TrainingThreads | undefined;
    const peer = await createPeer(task, {
      training: async (trainer, options) => {
        const started = await trainingThreads(trainer, options, {
          threads: config.resources.threads,
          syncEvery: config.resources.syncEvery,
          backend: backend as BackendChoice,
        });
        threads = started;
        closers.push({ what: 'training threads', close: () => started.close() });
        return started.training;
      },
      gossip,
      data,
      seed: config.seed,
      backend: false,
      trainer: { momentum: config.optimizer.momentum, trainable: config.trainable },
      // A checkpoint holds every layer; a backbone all but the head.
      weights: checkpoint?.model.weights ?? backbone,
      local: config.round.localEpochs,
      minFreshUpdates: config.round.minFreshUpdates,
      neighbours: config.round.neighbours,
      gossipSteps: config.round.gossipSteps,
      shunAfter: config.round.shunAfter,
      shunRounds: config.round.shunRounds,
      deadline: config.round.deadline,
      staleAfterRounds: config.round.staleAfterRounds,
      evaluateEvery: config.round.evaluateEvery,
      resume,
      reserveSeq: (seq) => {
        if (seq <= reservedSeq) return;
        // One durable write per SEQ_RESERVE_BLOCK updates: a crash skips at most that many seqs.
        const mark = seq - 1 + SEQ_RESERVE_BLOCK;
        store.saveSeqMark(state.peerId as string, mark);
        reservedSeq = mark;
      },
      wireBounds: {
        valueBound: config.validation.valueBound > 0 ? config.validation.valueBound : Number.POSITIVE_INFINITY,
        norms:
          config.validation.normFactor > 0
            ? {
                factor: config.validation.normFactor,
                deltaFactor: config.validation.deltaNormFactor,
                warmup: config.validation.normWarmup,
              }
            : false,
      },
    });
    closers.push({
      what: 'trainer',
      close: async () => {
        // A daemon runs one peer: its model stays resident (no model pool).
        peer.trainer.release();
      },
    });
    state.peer = peer;
    const trainer = peer.trainer;
    const saveCheckpoint = (why: string): void => {
      const meta = {
        round: peer.round,
        seq: peer.seq,
        peerId: state.peerId as string,
        taskId: task.taskId,
        savedAt: new Date().toISOString(),
      };
      try {
        const file = store.saveCheckpoint(
          {
            spec: task.model,
            inputShape: trainer.model.inputShape,
            numClasses: trainer.model.numClasses,
            weights: trainer.getWeights(),
          },
          meta,
        );
        state.lastCheckpoint = { file, round: meta.round };
        metrics.onCheckpointWritten();
        logger.debug('checkpoint written', { file, why, seq: meta.seq });
      } catch (err) {
        metrics.onError();
        logger.error('checkpoint write failed', { why, error: err instanceof Error ? err : String(err) });
      }
    };
    wirePeerEvents(peer, gossip, metrics, presence, logger, config, saveCheckpoint);
    await peer.start();
    state.phase = 'running';
    logger.info('peer started', {
      taskId: task.taskId,
      fingerprint: peer.schema.fingerprint,
      round: peer.round,
      task: taskSpecRecord(task),
      local: config.round.localEpochs ?? { steps: task.localSteps },
      threads: threads?.replicas ?? 1,
    });

    const outcome = await untilStopped(peer.run(), stop);
    state.phase = 'stopping';
    if (outcome.kind === 'failed') {
      logger.error('round loop failed', { error: outcome.error });
      await peer.stop().catch(() => undefined);
      return 1;
    }
    logger.info('stopping: abandoning the current step');
    await peer.stop();
    saveCheckpoint('shutdown');
    logger.info('final checkpoint written', { file: state.lastCheckpoint?.file, round: peer.round });
    return 0;
  } finally {
    state.phase = 'stopping';
    for (const c of closers.reverse()) {
      try {
        await c.close();
      } catch (err) {
        logger.warn(`closing ${c.what} failed`, { error: err instanceof Error ? err : String(err) });
      }
    }
  }
}

function loadData(source: Parameters<typeof loadPeerData>[0], logger: Logger): LoadedData {
  const data = loadPeerData(source);
  logger.info('data loaded', {
    source: source.kind,
    shard: `${source.shard.index}/${source.shard.of}`,
    train: data.train.y.length,
    validation: data.validation.y.length,
    evaluation: data.evaluation.y.length,
    familiarClasses: data.familiarClasses,
    publicValidation: data.publicValidation,
  });
  if (typeof data.publicValidation !== 'number') {
    logger.warn("no public validation set: Bristle scores neighbours on this peer's own classes only", {
      reason: data.publicValidation.off,
    });
  }
  return data;
}

/** The backbone layers of `config.backbone` (every layer but the head), checked against the task's model. */
function loadBackbone(config: DaemonConfig, layout: Weights): Weights | undefined {
  if (config.backbone === undefined) return undefined;
  let file: ReturnType<typeof loadModelFile>;
  try {
    file = loadModelFile(config.backbone);
  } catch (err) {
    throw new StoreError(`backbone: ${err instanceof Error ? err.message : String(err)}`);
  }
  const ownBackbone = layout.filter((l) => l.name !== HEAD_KERNEL);
  const fileBackbone = file.weights.filter((l) => l.name !== HEAD_KERNEL);
  if (!sameArchitecture(ownBackbone, fileBackbone)) {
    throw new StoreError(`backbone ${config.backbone}: does not fit the configured model and data`);
  }
  return fileBackbone;
}

type LoopOutcome = { kind: 'stopped' } | { kind: 'failed'; error: Error };

/** Waits for the stop signal; a round loop that ends by itself is a failure (it runs forever). */
function untilStopped(running: Promise<void>, stop: AbortSignal): Promise<LoopOutcome> {
  return new Promise((resolve) => {
    const onAbort = (): void => resolve({ kind: 'stopped' });
    if (stop.aborted) onAbort();
    stop.addEventListener('abort', onAbort, { once: true });
    running.then(
      () => {
        stop.removeEventListener('abort', onAbort);
        resolve(
          stop.aborted ? { kind: 'stopped' } : { kind: 'failed', error: new Error('round loop ended unexpectedly') },
        );
      },
      (err: unknown) => {
        stop.removeEventListener('abort', onAbort);
        resolve(
          stop.aborted
            ? { kind: 'stopped' }
            : { kind: 'failed', error: err instanceof Error ? err : new Error(String(err)) },
        );
      },
    );
  });
}

async function startNode(config: DaemonConfig, privateKey: PrivateKey): Promise<MeshflNode> {
  const listen = config.listen ?? [...DEFAULT_LISTEN, ...(config.relay ? [DEFAULT_WEBRTC_DIRECT_LISTEN] : [])];
  const loopbackOnly = listen.every((a) => a.startsWith('/ip4/127.') || a.startsWith('/ip6/::1/'));
  try {
    return await createNodeLibp2p({
      privateKey,
      listen: [...listen],
      bootstrap: [...config.bootstrap],
      mdns: config.mdns,
      webRTCDirect: config.relay,
      webRTC: config.relay,
      relayServer: config.relay,
      // Several daemons on one host (tests, a lab box) must not rate-limit each other.
      loopback: loopbackOnly,
    });
  } catch (err) {
    const code = bindErrorCode(err);
    const detail = err instanceof Error ? err.message.split('\n')[0] : String(err);
    if (code) {
      throw new ListenError(
        `listen ${listen.join(', ')}: cannot listen (${code}${code === 'EADDRINUSE' ? ': port already in use' : ''})`,
      );
    }
    if (err instanceof Error && /listen|address/i.test(err.message))
      throw new ListenError(`listen ${listen.join(', ')}: ${detail}`);
    throw err;
  }
}

function wirePeerEvents(
  peer: Peer,
  gossip: Libp2pGossip,
  metrics: DaemonMetrics,
  presence: PeerPresence,
  logger: Logger,
  config: DaemonConfig,
  saveCheckpoint: (why: string) => void,
): void {
  peer.addEventListener('round:start', (e) => logger.setContext({ round: e.detail.round }));
  peer.addEventListener('round:end', (e) => {
    const r = e.detail;
    metrics.onRound(r);
    logger.info('round done', {
      closedBy: r.closedBy,
      // With several gossip steps, what closed each step's wait.
      ...(r.stepsClosedBy.length > 1 ? { stepsClosedBy: r.stepsClosedBy } : {}),
      candidates: r.candidates,
      // After a restart: neighbour models merged before training (caught up).
      ...(r.caughtUp === undefined ? {} : { caughtUp: r.caughtUp }),
      trainLoss: round4(r.trainLoss),
      localAccuracy: r.local ? round4(r.local.overall) : undefined,
      mergedAccuracy: r.merged ? round4(r.merged.overall) : undefined,
      ownShare: r.merge ? round4(r.merge.ownShare) : undefined,
      trainMs: Math.round(r.trainMs),
      waitMs: Math.round(r.waitMs),
      mergeMs: Math.round(r.mergeMs),
      bytesSent: r.bytesSent,
      bytesReceived: r.bytesReceived,
    });
    // Written synchronously before the next round publishes: at most `every` seqs go unrecorded.
    if ((r.round + 1) % config.checkpoints.every === 0) saveCheckpoint('round');
  });
  peer.addEventListener('update:accepted', () => {
    metrics.onUpdateAccepted();
  });
  const rejectLog = new RejectLog(logger);
  peer.addEventListener('update:rejected', (e) => {
    metrics.onRejected(e.detail.reason, e.detail.stage);
    rejectLog.note(e.detail.from, e.detail.stage, e.detail.reason, e.detail.detail);
  });
  peer.addEventListener('update:ignored', (e) => {
    // Late or duplicate seqs are ordinary on a mesh: counted, not warned about.
    metrics.onRejected(e.detail.reason, e.detail.stage);
    logger.debug('update ignored', { from: e.detail.from, reason: e.detail.reason });
  });
  gossip.addEventListener('rejected', (e) => {
    const r = e.detail;
    metrics.onRejected(r.reason, r.stage, r.count);
    rejectLog.note(r.peer, r.stage, r.reason, r.detail, r.count);
  });
  peer.addEventListener('peer:shunned', (e) => {
    const { peer: from, round, until } = e.detail;
    logger.warn('sender shunned', { peer: from, round, until: Number.isFinite(until) ? until : 'for good' });
  });
  peer.addEventListener('peer:readmitted', (e) => {
    logger.info('sender readmitted', { peer: e.detail.peer, round: e.detail.round });
  });
  peer.addEventListener('snapshot:fetched', (e) => {
    metrics.onSnapshotFetched();
    logger.debug('snapshot fetched', { from: e.detail.from, seq: e.detail.seq });
  });
  peer.addEventListener('task:mismatch', (e) => {
    // Described again in this daemon's config keys ("seed", "round.localSteps", ...).
    const { from, theirs } = e.detail;
    const mismatch = describeTaskMismatch(peer.task, theirs, {
      peer: from,
      self: 'this daemon',
      keys: DAEMON_TASK_KEYS,
    });
    logger.warn('task mismatch', {
      peer: from,
      summary: e.detail.mismatch.blocking ? mismatch.summary : e.detail.mismatch.summary,
      differences: mismatch.differences,
      theirTask: taskSpecRecord(theirs),
    });
  });
  peer.addEventListener('peer:connect', (e) => {
    presence.observe(gossip.peers().length);
    logger.info('peer connected', { remote: e.detail, peers: gossip.peers().length });
  });
  peer.addEventListener('peer:disconnect', (e) => {
    presence.observe(gossip.peers().length);
    logger.info('peer disconnected', { remote: e.detail, peers: gossip.peers().length });
  });
  peer.addEventListener('error', (e) => {
    metrics.onError();
    logger.warn('peer error', { error: e.detail });
  });
}

function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}

function httpUrl(http: RunningHttpServer): string {
  const host = http.host.includes(':') ? `[${http.host}]` : http.host;
  return `http://${host}:${http.port}`;
}

function connectedPeers(state: DaemonState): string[] {
  return state.node?.getPeers().map((p) => p.toString()) ?? [];
}

function health(state: DaemonState, presence: PeerPresence): { ready: boolean; body: Record<string, unknown> } {
  const peers = connectedPeers(state).length;
  presence.observe(peers);
  const ready = state.phase === 'running' && presence.ready();
  return {
    ready,
    body: {
      status: ready ? 'ready' : 'not-ready',
      live: true,
      phase: state.phase,
      peers,
      noPeersForSeconds: Math.round(presence.aloneForMs() / 100) / 10,
      notReadyAfterNoPeersSeconds: presence.notReadyAfterMs / 1000,
      round: state.peer?.round,
    },
  };
}

/** What /metrics reads from the running peer at scrape time. */
function liveMetrics(state: DaemonState): MetricsSnapshot {
  const peers = connectedPeers(state);
  const gossip = state.gossip;
  return {
    peers: peers.length,
    bytesIn: state.peer?.bytesReceived ?? 0,
    bytesOut: state.peer?.bytesSent ?? 0,
    scores: gossip === undefined ? undefined : new Map(peers.map((p) => [p, gossip.score(p)])),
    fetch: gossip?.fetchStats(),
  };
}

function browserMultiaddrs(node: MeshflNode, config: DaemonConfig): string[] {
  const own = node.getMultiaddrs().map((a) => a.toString());
  const peerId = node.peerId.toString();
  const announced = config.announce.map((a) => (a.includes('/p2p/') ? a : `${a}/p2p/${peerId}`));
  return [...announced, ...own.filter((a) => BROWSER_DIALABLE.test(a))];
}

function status(
  state: DaemonState,
  config: DaemonConfig,
  metrics: DaemonMetrics,
  presence: PeerPresence,
): Record<string, unknown> {
  const last = metrics.lastRound;
  const peers = connectedPeers(state);
  presence.observe(peers.length);
  return {
    peerId: state.peerId,
    taskId: state.task?.taskId ?? null,
    /** The wire fingerprint: peers exchange updates only when theirs is the same (GET /task has the whole task). */
    fingerprint: state.peer?.schema.fingerprint ?? null,
    phase: state.phase,
    round: state.peer?.round ?? state.resumedFrom?.round ?? 0,
    roundsSinceStart: metrics.rounds,
    seq: state.peer?.seq ?? null,
    accuracy: last?.merged?.overall ?? null,
    localAccuracy: last?.local?.overall ?? null,
    loss: last?.merged?.loss ?? null,
    peers,
    neighbours: state.peer?.neighbours() ?? [],
    heard: state.peer?.heard() ?? [],
    lastMerge:
      last === undefined
        ? null
        : { round: last.round, ownShare: last.merge?.ownShare ?? 1, used: last.merge?.used ?? [] },
    multiaddrs: state.node?.getMultiaddrs().map((a) => a.toString()) ?? [],
    browserMultiaddrs: config.relay && state.node ? browserMultiaddrs(state.node, config) : [],
    relay: config.relay,
    resumedFrom: state.resumedFrom ?? null,
    lastCheckpoint: state.lastCheckpoint ?? null,
    uptimeSeconds: Math.round((Date.now() - state.startedAt) / 1000),
  };
}
