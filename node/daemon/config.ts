/**
 * The daemon's configuration: one validated value built from the config file, then
 * MESHFL_* environment variables, then command-line flags (later wins). Every key and its
 * default is documented in docs/DAEMON.md; keep the two in step.
 *
 * The task keys (taskId, model, seed, codec, strategy, ...) form a TaskSpec (./task.ts);
 * their defaults are TASK_DEFAULTS, the default task of the core.
 *
 * CONFIG_SCHEMA (valibot, src/config/read.ts) reads every key's type, range and allowed
 * values, and is exported as schemas/daemon-config.schema.json; the checks across keys
 * (an index below its count, a token for a public address, the task) follow it in
 * parseDaemonConfig, with errors in the same form.
 */
import * as v from 'valibot';
import {
  checkedBy,
  choice,
  described,
  doc,
  flag,
  int,
  list,
  num,
  parsedBy,
  parseStep,
  read,
  show,
  strict,
  text,
} from '../../src/config/read.ts';
import { CODEC_SHAPE, MODEL_SHAPE, PARTITION_SHAPE, strategyShape } from '../../src/config/shapes.ts';
import { DATASET_NAMES, type DatasetName } from '../../src/data/families.ts';
import { type PartitionSpec, parsePartitionSpec } from '../../src/data/partition-spec.ts';
import { DEFAULT_STRATEGY, strategyNames } from '../../src/merge/registry.ts';
import { DEFAULT_VALUE_BOUND } from '../../src/model/bounds.ts';
import { type DeadlineOptions, validateDeadline } from '../../src/peer/deadline.ts';
import {
  DEFAULT_NEIGHBOURS,
  defaultGossipSteps,
  defaultShunAfter,
  MAX_GOSSIP_STEPS,
} from '../../src/peer/gossip-steps.ts';
import { SHUN_TERM_ROUNDS } from '../../src/peer/shunning.ts';
import {
  MAX_BATCH_SIZE,
  MAX_KEYFRAME_INTERVAL,
  MAX_LEARNING_RATE,
  MAX_LOCAL_STEPS,
  MIN_LEARNING_RATE,
  TASK_DEFAULTS,
} from '../../src/peer/task.ts';
import type { TrainAmount, Trainable } from '../../src/train/trainer.ts';
import { TASK_ID_PATTERN, TASK_ID_RULE } from '../../src/wire/constants.ts';
import { DEFAULT_DELTA_NORM_FACTOR, DEFAULT_NORM_FACTOR, DEFAULT_NORM_WARMUP } from '../../src/wire/norms.ts';
import { DEFAULT_THREADS, MAX_SYNC_EVERY, MAX_THREADS } from '../data-parallel/threads.ts';
import { announceProblem, bootstrapProblem, listenProblem } from './addresses.ts';
import { type ConfigKeys, configError, configKeys, type OverrideSources } from './config-error.ts';
import { readTaskSource, type TaskSource } from './task.ts';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type DatasetSource =
  | {
      readonly kind: DatasetName;
      readonly shard: Shard;
      /** Test samples used to measure accuracy each round (0 = the whole test split). */
      readonly evaluationSamples: number;
    }
  | { readonly kind: 'idx'; readonly dir: string; readonly shard: Shard; readonly evaluationSamples: number }
  | {
      readonly kind: 'csv';
      readonly file: string;
      readonly testFile: string | undefined;
      readonly shard: Shard;
      readonly evaluationSamples: number;
    }
  /** The named data set of the task this daemon joins (join without a dataset.kind). */
  | { readonly kind: 'joined-task'; readonly shard: Shard; readonly evaluationSamples: number };

export interface Shard {
  /** This peer's share, 0-based, < of. */
  readonly index: number;
  readonly of: number;
  readonly partition: PartitionSpec;
  /** Seed of the split: all peers of one task must use the same one. */
  readonly seed: number;
  /** Use only the first this-many training samples before splitting (0 = all). */
  readonly limit: number;
  readonly validationPerClass: number;
  /**
   * Samples per class of the task's public validation set (drawn, seeded, from the test
   * split outside the evaluation samples; the same on every peer) added to the merge
   * validation so Bristle can see neighbours that are better on classes we lack. 0 = off.
   */
  readonly publicValidationPerClass: number;
}

export interface HttpConfig {
  readonly host: string;
  readonly port: number;
  readonly token: string | undefined;
  /** /health turns not-ready after this long without any connected peer. */
  readonly notReadyAfterNoPeersMs: number;
  /** Web origins that may fetch /export/* from a page (CORS); the token is still required. Default none. */
  readonly exportOrigins: readonly string[];
}

export interface DaemonConfig {
  readonly dataDir: string;
  /** The task: defined by this config, or fetched from the peer it joins. */
  readonly task: TaskSource;
  readonly trainable: Trainable;
  readonly backbone: string | undefined;
  readonly dataset: DatasetSource;
  readonly listen: readonly string[] | undefined;
  readonly announce: readonly string[];
  readonly bootstrap: readonly string[];
  readonly mdns: boolean;
  readonly relay: boolean;
  readonly http: HttpConfig;
  readonly round: {
    /** Epochs per round instead of the task's local steps (round.localEpochs), if set. */
    readonly localEpochs: TrainAmount | undefined;
    readonly minFreshUpdates: number;
    /** D: updates from at most this many sampled neighbours, or 'all' (the gossip topic). */
    readonly neighbours: number | 'all';
    /** Gossip (merge) steps per round; default defaultGossipSteps(neighbours): 2 with D, 1 with 'all'. */
    readonly gossipSteps: number;
    /** Shun a sender after this many harm verdicts of its last 2 x shunAfter; default defaultShunAfter(neighbours). */
    readonly shunAfter: number;
    /** Rounds a first shun lasts (doubled per repeat; 0 = for good); default SHUN_TERM_ROUNDS. */
    readonly shunRounds: number;
    readonly deadline: DeadlineOptions;
    readonly staleAfterRounds: number;
    readonly evaluateEvery: number;
  };
  readonly optimizer: { readonly momentum: number };
  readonly checkpoints: { readonly keep: number; readonly every: number };
  /** Healing: redial known peers while fewer than minPeers are connected. */
  readonly mesh: { readonly minPeers: number; readonly redialMaxBackoffMs: number };
  /** Wire bounds on incoming updates (docs/PROTOCOL.md "Validation"); 0 turns a bound off. */
  readonly validation: {
    readonly valueBound: number;
    readonly normFactor: number;
    readonly deltaNormFactor: number;
    readonly normWarmup: number;
  };
  readonly resources: {
    readonly backend: 'wasm' | 'cpu' | 'auto';
    /** Threads training the model (node/data-parallel); unset in the file: DEFAULT_THREADS (1). */
    readonly threads: number;
    /** Steps between the threads' synchronisations; undefined: defaultSyncEvery(the model). */
    readonly syncEvery: number | undefined;
  };
  /** Seed of this daemon's batch order and merge randomness (and, when this config defines the task, of its initial model). */
  readonly seed: number;
  readonly logLevel: LogLevel;
}

export const DEFAULTS = {
  dataDir: './meshfl-data',
  taskId: TASK_DEFAULTS.taskId,
  trainable: 'all' as Trainable,
  datasetKind: TASK_DEFAULTS.dataset,
  evaluationSamples: 1000,
  partition: 'iid',
  validationPerClass: 10,
  publicValidationPerClass: 10,
  strategy: TASK_DEFAULTS.strategy,
  codec: TASK_DEFAULTS.codec,
  mdns: false,
  relay: false,
  httpHost: '127.0.0.1',
  httpPort: 9464,
  notReadyAfterNoPeersSeconds: 60,
  localSteps: TASK_DEFAULTS.localSteps,
  minFreshUpdates: 3,
  staleAfterRounds: 3,
  evaluateEvery: 1,
  keyframeInterval: TASK_DEFAULTS.keyframeInterval,
  learningRate: TASK_DEFAULTS.learningRate,
  momentum: 0.9,
  checkpointsKeep: 3,
  minPeers: 3,
  redialMaxBackoffSeconds: 10,
  valueBound: DEFAULT_VALUE_BOUND,
  normFactor: DEFAULT_NORM_FACTOR,
  deltaNormFactor: DEFAULT_DELTA_NORM_FACTOR,
  normWarmup: DEFAULT_NORM_WARMUP,
  checkpointEvery: 1,
  batchSize: TASK_DEFAULTS.batchSize,
  backend: 'auto' as const,
  seed: TASK_DEFAULTS.modelSeed,
  logLevel: 'info' as LogLevel,
} as const;

const MS_PER_SECOND = 1000;
const MAX_PORT = 65535;
const MAX_SHARDS = 100_000;
const MAX_DEADLINE_MS = 86_400_000;
const BACKENDS = ['wasm', 'cpu', 'auto'] as const;
const DATASET_KINDS = [...DATASET_NAMES, 'idx', 'csv'] as const;

const SHARD = strict(
  {
    index: v.optional(doc("This peer's share, 0 <= index < of.", int(0)), 0),
    of: v.optional(doc('Number of shares the training set is split into (1 = all of it).', int(1, MAX_SHARDS)), 1),
    partition: v.optional(
      parsedBy((x) => parsePartitionSpec(x, 'partition'), PARTITION_SHAPE),
      DEFAULTS.partition,
    ),
    seed: v.optional(doc('Seed of the split: the same on every peer of the task.', int(0)), 0),
    limit: v.optional(doc('Use only the first this-many training samples before splitting (0 = all).', int(0)), 0),
    validationPerClass: v.optional(
      doc('Validation samples per class taken from the share (merge scoring).', int(0, 10_000)),
      DEFAULTS.validationPerClass,
    ),
    publicValidationPerClass: v.optional(
      doc(
        "Samples per class of the task's public validation set added to the merge validation (0 = off).",
        int(0, 10_000),
      ),
      DEFAULTS.publicValidationPerClass,
    ),
  },
  'an object of shard keys',
);

const DATA_COMMON = {
  shard: v.optional(SHARD, {}),
  evaluationSamples: v.optional(
    doc('First this-many test samples measure accuracy each round (0 = all).', int(0)),
    DEFAULTS.evaluationSamples,
  ),
};

/** By kind: the named data sets (kind may be left out), an IDX directory, a CSV file. */
const DATASET = v.variant(
  'kind',
  [
    strict({ kind: v.optional(choice(DATASET_NAMES)), ...DATA_COMMON }, 'an object of dataset keys'),
    strict({ kind: v.literal('idx'), dir: text('a directory path'), ...DATA_COMMON }, 'an object of dataset keys'),
    strict(
      {
        kind: v.literal('csv'),
        file: text('a file path'),
        testFile: v.optional(text('a file path')),
        ...DATA_COMMON,
      },
      'an object of dataset keys',
    ),
  ],
  (issue) =>
    issue.path === undefined
      ? `must be an object of dataset keys, got ${show(issue.input)}`
      : `must be one of ${DATASET_KINDS.join(', ')}, got ${show(issue.input)}`,
);

/** The shape of a web origin, for the JSON Schema; originProblem checks it exactly. */
const ORIGIN_SHAPE = /^https?:\/\/[^/?#\s]+$/;

/**
 * Why `origin` is not one exact web origin (as a browser sends it in `Origin`), or
 * undefined. Exact origins only, no "*": the export is the task's model, so an operator
 * names the pages that may read it.
 */
export function originProblem(origin: string): string | undefined {
  const example = 'an origin like https://example.org or http://localhost:5173 (scheme://host[:port], no path)';
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return `must be ${example}, got "${origin}"`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `must be an http or https origin, got "${origin}"`;
  if (url.origin !== origin) return `must be ${example}, got "${origin}" (as an origin: "${url.origin}")`;
  return undefined;
}

const HTTP = strict({
  address: v.optional(
    v.pipe(
      text('host:port'),
      checkedBy((a: string) =>
        parseHostPort(a) === undefined ? `must be host:port (port 0-${MAX_PORT}), got "${a}"` : undefined,
      ),
    ),
    `${DEFAULTS.httpHost}:${DEFAULTS.httpPort}`,
  ),
  token: v.optional(
    doc(
      'Bearer token for /health, /metrics, /status and /export/*; required off loopback. Prefer MESHFL_HTTP_TOKEN.',
      text('a token'),
    ),
  ),
  notReadyAfterNoPeersSeconds: v.optional(num(0, 86_400 * 365), DEFAULTS.notReadyAfterNoPeersSeconds),
  exportOrigins: v.optional(
    doc(
      'Web origins (scheme://host[:port]) whose pages may fetch /export/* (CORS), e.g. for tf.loadLayersModel; the bearer token is still required. Default: none.',
      list(
        // The regex is for the JSON Schema (editors); originProblem is the exact check and message.
        v.pipe(text('an origin'), checkedBy(originProblem), v.regex(ORIGIN_SHAPE, 'must be an origin')),
        'origins',
      ),
    ),
    [],
  ),
});

const DEADLINE = v.pipe(
  strict({
    initialMs: v.optional(num(0, MAX_DEADLINE_MS)),
    minMs: v.optional(num(0, MAX_DEADLINE_MS)),
    maxMs: v.optional(num(0, MAX_DEADLINE_MS)),
    factor: v.optional(num(0, MAX_DEADLINE_MS)),
    quantile: v.optional(num(0, MAX_DEADLINE_MS)),
    window: v.optional(int(1, 100_000)),
  }),
  parseStep((d: Partial<DeadlineOptions>) => validateDeadline(d, 'deadline')),
);

const ROUND = strict({
  localSteps: v.optional(
    doc('Mini-batch steps of local training per round.', int(1, MAX_LOCAL_STEPS)),
    DEFAULTS.localSteps,
  ),
  localEpochs: v.optional(doc('Instead of localSteps: epochs over the local share per round.', num(0.001, 1000))),
  minFreshUpdates: v.optional(
    doc('A round closes as soon as this many fresh neighbour updates arrived (or at the deadline).', int(0, 10_000)),
    DEFAULTS.minFreshUpdates,
  ),
  neighbours: v.optional(
    doc(
      `Take updates from at most this many neighbours chosen by peer sampling (default ${DEFAULT_NEIGHBOURS}), or "all": every update of the gossip topic. Every peer of a mesh needs the same kind: "all" peers and D-neighbour peers do not exchange updates.`,
      v.union(
        [v.literal('all'), int(1, 10_000)],
        (i) => `must be "all" or an integer in [1, 10000], got ${show(i.input)}`,
      ),
    ),
    DEFAULT_NEIGHBOURS,
  ),
  gossipSteps: v.optional(
    doc(
      `Gossip (merge) steps per round: the merged model is published and merged again this many times in all before the next local training. Default 2 with neighbours D, 1 with "all".`,
      int(1, MAX_GOSSIP_STEPS),
    ),
  ),
  shunAfter: v.optional(
    doc(
      'Stop merging a sender once this many of its last 2 x shunAfter merge verdicts were harm (rejected as harmful, too far, out of bounds or lowering the validation loss of too few classes); with neighbours D another peer takes its slot. 0 = never. Default 2 with neighbours D, 0 with "all".',
      int(0, 64),
    ),
  ),
  shunRounds: v.optional(
    doc(
      'Rounds a shun lasts: after it the sender is merged again on probation (one more harm verdict shuns it again); each further shun of the same sender doubles it. 0 = for good. Default 8.',
      int(0, 1_000_000),
    ),
  ),
  deadline: v.optional(DEADLINE, {}),
  staleAfterRounds: v.optional(
    doc('A neighbour not heard from for this many rounds leaves the merge.', int(1, 1_000_000)),
    DEFAULTS.staleAfterRounds,
  ),
  evaluateEvery: v.optional(
    doc('Measure accuracy every this many rounds (0 = never).', int(0, 1_000_000)),
    DEFAULTS.evaluateEvery,
  ),
  keyframeInterval: v.optional(
    doc('A full-model keyframe every this many updates (deltas in between).', int(1, MAX_KEYFRAME_INTERVAL)),
    DEFAULTS.keyframeInterval,
  ),
});

const VALIDATION = strict({
  valueBound: v.optional(num(0, 3e38), DEFAULTS.valueBound),
  normFactor: v.optional(
    v.pipe(
      num(0, 1e6),
      checkedBy((n: number) => (n > 0 && n <= 1 ? 'must be 0 (off) or above 1' : undefined)),
    ),
    DEFAULTS.normFactor,
  ),
  deltaNormFactor: v.optional(
    v.pipe(
      num(1, 1e9),
      checkedBy((n: number) => (n <= 1 ? 'must be above 1' : undefined)),
    ),
    DEFAULTS.deltaNormFactor,
  ),
  normWarmup: v.optional(int(1, 1_000_000), DEFAULTS.normWarmup),
});

const ADDRESSES = list(text('a multiaddr'), 'multiaddrs');

/** The daemon config file's keys, their types, ranges and defaults (docs/DAEMON.md "Keys"). */
export const CONFIG_SCHEMA = strict(
  {
    /** The JSON Schema an editor checks the file against; ignored here. */
    $schema: v.optional(v.string()),
    dataDir: v.optional(doc('Data directory: peer key and checkpoints.', text('a directory path')), DEFAULTS.dataDir),
    join: v.optional(
      doc(
        "A peer's multiaddr (with /p2p/<id>) to dial; without a model section, this daemon takes part in that peer's task.",
        text('a multiaddr with /p2p/<peer id>'),
      ),
    ),
    taskId: v.optional(
      v.pipe(
        text(TASK_ID_RULE),
        v.regex(TASK_ID_PATTERN, (i) => `must be ${TASK_ID_RULE}, got ${show(i.input)}`),
      ),
      DEFAULTS.taskId,
    ),
    model: v.optional(described(MODEL_SHAPE)),
    trainable: v.optional(
      doc(
        'all: train and exchange every layer; head: freeze the backbone, exchange the output layer.',
        choice(['all', 'head'] as const),
      ),
      DEFAULTS.trainable,
    ),
    backbone: v.optional(
      doc('Model file from meshfl pretrain; required with trainable: head.', text('a model file path')),
    ),
    dataset: v.optional(DATASET, {}),
    strategy: v.optional(described(strategyShape(strategyNames(), DEFAULT_STRATEGY))),
    codec: v.optional(described(CODEC_SHAPE)),
    listen: v.optional(
      doc(
        'libp2p listen multiaddrs (default: TCP 4001 and WebSockets 4002).',
        v.pipe(ADDRESSES, v.minLength(1, 'must name at least one address')),
      ),
    ),
    announce: v.optional(doc('Extra multiaddrs advertised to browsers in /status.', ADDRESSES), []),
    bootstrap: v.optional(
      doc('Multiaddrs (with /p2p/<id>) of peers to dial at start and when healing.', ADDRESSES),
      [],
    ),
    mdns: v.optional(flag('mDNS discovery of peers on the local network.'), DEFAULTS.mdns),
    relay: v.optional(flag('Serve browsers: circuit relay, WebRTC and WebRTC-Direct.'), DEFAULTS.relay),
    mesh: v.optional(
      strict({
        minPeers: v.optional(int(0, 10_000), DEFAULTS.minPeers),
        redialMaxBackoffSeconds: v.optional(num(1, 3600), DEFAULTS.redialMaxBackoffSeconds),
      }),
      {},
    ),
    http: v.optional(HTTP, {}),
    round: v.optional(ROUND, {}),
    optimizer: v.optional(
      strict({
        learningRate: v.optional(num(MIN_LEARNING_RATE, MAX_LEARNING_RATE), DEFAULTS.learningRate),
        momentum: v.optional(num(0, 0.999), DEFAULTS.momentum),
      }),
      {},
    ),
    checkpoints: v.optional(
      strict({
        keep: v.optional(int(1, 1000), DEFAULTS.checkpointsKeep),
        every: v.optional(int(1, 1_000_000), DEFAULTS.checkpointEvery),
      }),
      {},
    ),
    validation: v.optional(VALIDATION, {}),
    resources: v.optional(
      strict({
        batchSize: v.optional(int(1, MAX_BATCH_SIZE), DEFAULTS.batchSize),
        backend: v.optional(choice(BACKENDS), DEFAULTS.backend),
        threads: v.optional(
          doc(
            `Threads training the model: each trains a slice of every batch and the gradients are summed (the same updates as 1 thread). Default ${DEFAULT_THREADS}: training on the main thread, no worker (2 threads gained nothing for the default MLP; docs/PERFORMANCE.md). Head mode (trainable "head") trains on 1.`,
            int(1, MAX_THREADS),
          ),
        ),
        syncEvery: v.optional(
          doc(
            'With threads > 1, steps between the threads\' synchronisations: 1 sums the gradients every step (the updates of 1 thread); k >= 2 is local SGD (each thread trains whole batches; the models are averaged every k rounds). Default: per model (docs/PERFORMANCE.md, "One model on several threads").',
            int(1, MAX_SYNC_EVERY),
          ),
        ),
      }),
      {},
    ),
    seed: v.optional(doc("Seed of the task's initial model and of this daemon's batch order.", int(0)), DEFAULTS.seed),
    logLevel: v.optional(choice(LOG_LEVELS), DEFAULTS.logLevel),
  },
  'an object of config keys',
);

type ConfigInput = v.InferOutput<typeof CONFIG_SCHEMA>;

/** Validates a raw config object (parsed file with overrides applied). Throws ConfigError. */
export function parseDaemonConfig(raw: unknown, sources: OverrideSources = new Map()): DaemonConfig {
  const result = read(CONFIG_SCHEMA, raw);
  if (!result.ok) throw configError(result.issue, sources);
  const c = result.value;
  const keys = configKeys(raw, sources);
  if (c.trainable === 'head' && c.backbone === undefined) keys.fail('backbone', 'required when trainable is "head"');
  if (c.join !== undefined) {
    const problem = bootstrapProblem(c.join);
    if (problem !== undefined) keys.fail('join', problem);
  }
  const joinsTask = c.join !== undefined && !keys.present('model');
  const dataset = datasetSource(c.dataset, joinsTask, keys);
  if (keys.present('round.localSteps') && keys.present('round.localEpochs')) {
    keys.fail('round.localEpochs', 'set either round.localSteps or round.localEpochs, not both');
  }
  const task = readTaskSource(keys, {
    join: c.join,
    taskId: c.taskId,
    // Text like "int8"; the parsed form a TaskSpec value holds is accepted too (a config
    // written from a TaskSpec). The TaskSpec parser checks either.
    codec: c.codec ?? DEFAULTS.codec,
    strategy: c.strategy ?? DEFAULTS.strategy,
    seed: c.seed,
    localSteps: c.round.localSteps,
    keyframeInterval: c.round.keyframeInterval,
    learningRate: c.optimizer.learningRate,
    batchSize: c.resources.batchSize,
    datasetKind: dataset.kind,
  });
  const checked = (key: string, entries: string[], problem: (entry: string) => string | undefined): string[] => {
    for (const entry of entries) {
      const p = problem(entry);
      if (p !== undefined) keys.fail(key, p);
    }
    return entries;
  };
  const bootstrap = checked('bootstrap', c.bootstrap, bootstrapProblem);
  return {
    dataDir: c.dataDir,
    task,
    trainable: c.trainable,
    backbone: c.backbone,
    dataset,
    listen: c.listen === undefined ? undefined : checked('listen', c.listen, (a) => listenProblem(a, c.relay)),
    announce: checked('announce', c.announce, announceProblem),
    // The joined peer is dialed (and redialed) like a bootstrap peer.
    bootstrap: c.join === undefined || bootstrap.includes(c.join) ? bootstrap : [...bootstrap, c.join],
    mdns: c.mdns,
    relay: c.relay,
    mesh: {
      minPeers: c.mesh.minPeers,
      redialMaxBackoffMs: c.mesh.redialMaxBackoffSeconds * MS_PER_SECOND,
    },
    http: httpConfig(c.http, keys),
    round: {
      localEpochs: c.round.localEpochs === undefined ? undefined : { epochs: c.round.localEpochs },
      minFreshUpdates: c.round.minFreshUpdates,
      neighbours: c.round.neighbours,
      gossipSteps: c.round.gossipSteps ?? defaultGossipSteps(c.round.neighbours),
      shunAfter: c.round.shunAfter ?? defaultShunAfter(c.round.neighbours),
      shunRounds: c.round.shunRounds ?? SHUN_TERM_ROUNDS,
      deadline: c.round.deadline,
      staleAfterRounds: c.round.staleAfterRounds,
      evaluateEvery: c.round.evaluateEvery,
    },
    optimizer: { momentum: c.optimizer.momentum },
    checkpoints: c.checkpoints,
    validation: c.validation,
    resources: {
      backend: c.resources.backend,
      threads: c.resources.threads ?? DEFAULT_THREADS,
      syncEvery: c.resources.syncEvery,
    },
    seed: c.seed,
    logLevel: c.logLevel,
  };
}

/** `joinsTask`: without a dataset.kind, the daemon loads the named data set of the task it joins. */
function datasetSource(d: ConfigInput['dataset'], joinsTask: boolean, keys: ConfigKeys): DatasetSource {
  const { shard, evaluationSamples } = d;
  if (shard.index >= shard.of) keys.fail('dataset.shard.index', `must be less than shard.of (${shard.of})`);
  switch (d.kind) {
    case undefined:
      return joinsTask
        ? { kind: 'joined-task', shard, evaluationSamples }
        : { kind: DEFAULTS.datasetKind, shard, evaluationSamples };
    case 'mnist':
    case 'fashion-mnist':
    case 'synthetic':
      return { kind: d.kind, shard, evaluationSamples };
    case 'idx':
      return { kind: 'idx', dir: d.dir, shard, evaluationSamples };
    case 'csv':
      return { kind: 'csv', file: d.file, testFile: d.testFile, shard, evaluationSamples };
    default: {
      const never: never = d;
      return keys.fail('dataset.kind', `unhandled ${show(never)}`);
    }
  }
}

/** "host:port", "[v6]:port" or ":port". */
export function parseHostPort(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > MAX_PORT) return undefined;
  const host = m[1] ?? (m[2] === '' || m[2] === undefined ? DEFAULTS.httpHost : m[2]);
  return { host, port };
}

/** Hosts that only this machine can reach: an HTTP server there needs no token. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function httpConfig(h: ConfigInput['http'], keys: ConfigKeys): HttpConfig {
  const address = parseHostPort(h.address);
  if (address === undefined) return keys.fail('http.address', `must be host:port (port 0-${MAX_PORT})`);
  if (!isLoopbackHost(address.host) && h.token === undefined) {
    keys.fail(
      'http.token',
      `required when http.address binds a non-loopback address (${h.address}): set http.token or MESHFL_HTTP_TOKEN`,
    );
  }
  return {
    host: address.host,
    port: address.port,
    token: h.token,
    notReadyAfterNoPeersMs: h.notReadyAfterNoPeersSeconds * MS_PER_SECOND,
    exportOrigins: h.exportOrigins,
  };
}
