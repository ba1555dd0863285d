/**
 * The daemon's configuration: one validated value built from the config file, then
 * MESHFL_* environment variables, then command-line flags (later wins). Every key and its
 * default is documented in docs/DAEMON.md; keep the two in step.
 *
 * The task keys (taskId, model, seed, codec, strategy, ...) form a TaskSpec (./task.ts);
 * their defaults are TASK_DEFAULTS, the default task of the core.
 */
import { DATASET_NAMES, type DatasetName } from '../../src/data/families.ts';
import { type PartitionSpec, parsePartitionSpec } from '../../src/data/partition-spec.ts';
import { DEFAULT_VALUE_BOUND } from '../../src/model/bounds.ts';
import { DEFAULT_NEIGHBOURS } from '../../src/net/peer-sampling.ts';
import { type DeadlineOptions, validateDeadline } from '../../src/peer/deadline.ts';
import {
  MAX_BATCH_SIZE,
  MAX_KEYFRAME_INTERVAL,
  MAX_LEARNING_RATE,
  MAX_LOCAL_STEPS,
  MIN_LEARNING_RATE,
  TASK_DEFAULTS,
} from '../../src/peer/task.ts';
import type { TrainAmount, Trainable } from '../../src/train/trainer.ts';
import { DEFAULT_DELTA_NORM_FACTOR, DEFAULT_NORM_FACTOR, DEFAULT_NORM_WARMUP } from '../../src/wire/norms.ts';
import { announceProblem, bootstrapProblem, listenProblem } from './addresses.ts';
import { ConfigError, ConfigReader, type OverrideSources } from './config-reader.ts';
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
  readonly resources: { readonly backend: 'wasm' | 'cpu' | 'auto' };
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

const TOP_KEYS = [
  'dataDir',
  'join',
  'taskId',
  'model',
  'trainable',
  'backbone',
  'dataset',
  'strategy',
  'codec',
  'listen',
  'announce',
  'bootstrap',
  'mdns',
  'relay',
  'mesh',
  'http',
  'round',
  'optimizer',
  'checkpoints',
  'validation',
  'resources',
  'seed',
  'logLevel',
];
const MS_PER_SECOND = 1000;
const MAX_PORT = 65535;

/** Validates a raw config object (parsed file with overrides applied). Throws ConfigError. */
export function parseDaemonConfig(raw: unknown, sources: OverrideSources = new Map()): DaemonConfig {
  const root = new ConfigReader(raw, '', sources).only(TOP_KEYS);
  const trainable = root.at('trainable').choice(['all', 'head'] as const, DEFAULTS.trainable);
  const backbone = root.at('backbone').optionalString();
  if (trainable === 'head' && backbone === undefined) root.at('backbone').fail('required when trainable is "head"');
  const relay = root.at('relay').boolean(DEFAULTS.relay);
  const join = root.at('join').optionalString();
  if (join !== undefined) {
    const problem = bootstrapProblem(join);
    if (problem !== undefined) root.at('join').fail(problem);
  }
  const joinsTask = join !== undefined && !root.at('model').present;
  const dataset = parseDatasetSource(root.at('dataset'), joinsTask);
  const round = parseRound(root.at('round'));
  const task = readTaskSource(root, {
    join,
    taskId: root.at('taskId').string(DEFAULTS.taskId),
    // Text like "int8"; the parsed form a TaskSpec value holds is accepted too (a config
    // written from a TaskSpec). The TaskSpec parser checks either.
    codec: root.at('codec').present ? root.at('codec').value : DEFAULTS.codec,
    strategy: parseStrategy(root.at('strategy')),
    seed: root.at('seed').int(DEFAULTS.seed, 0),
    localSteps: round.localSteps,
    keyframeInterval: round.keyframeInterval,
    learningRate: root
      .at('optimizer')
      .at('learningRate')
      .number(DEFAULTS.learningRate, MIN_LEARNING_RATE, MAX_LEARNING_RATE),
    batchSize: root.at('resources').at('batchSize').int(DEFAULTS.batchSize, 1, MAX_BATCH_SIZE),
    datasetKind: dataset.kind,
  });
  const bootstrap = checked(root.at('bootstrap'), root.at('bootstrap').strings([]), bootstrapProblem);
  return {
    dataDir: root.at('dataDir').string(DEFAULTS.dataDir),
    task,
    trainable,
    backbone,
    dataset,
    listen: root.at('listen').present
      ? checked(root.at('listen'), nonEmpty(root.at('listen'), root.at('listen').strings([])), (a) =>
          listenProblem(a, relay),
        )
      : undefined,
    announce: checked(root.at('announce'), root.at('announce').strings([]), announceProblem),
    // The joined peer is dialed (and redialed) like a bootstrap peer.
    bootstrap: join === undefined || bootstrap.includes(join) ? bootstrap : [...bootstrap, join],
    mdns: root.at('mdns').boolean(DEFAULTS.mdns),
    relay,
    mesh: parseMesh(root.at('mesh')),
    http: parseHttp(root.at('http')),
    round: round.round,
    optimizer: parseOptimizer(root.at('optimizer')),
    checkpoints: parseCheckpoints(root.at('checkpoints')),
    validation: parseValidation(root.at('validation')),
    resources: parseResources(root.at('resources')),
    seed: root.at('seed').int(DEFAULTS.seed, 0),
    logLevel: root.at('logLevel').choice(LOG_LEVELS, DEFAULTS.logLevel),
  };
}

/** Every entry passes `problem` (undefined = fine), else a ConfigError naming the key and entry. */
function checked(r: ConfigReader, list: string[], problem: (entry: string) => string | undefined): string[] {
  for (const entry of list) {
    const p = problem(entry);
    if (p !== undefined) r.fail(p);
  }
  return list;
}

function nonEmpty(r: ConfigReader, list: string[]): string[] {
  if (list.length === 0) r.fail('must name at least one address');
  return list;
}

/** A name or `{ name, options }`; the TaskSpec checks the name, the options and the oracle. */
function parseStrategy(r: ConfigReader): unknown {
  if (!r.present) return DEFAULTS.strategy;
  if (typeof r.value === 'string') return r.string();
  r.only(['name', 'options']);
  return { name: r.at('name').string(), options: r.at('options').object() };
}

const DATASET_KINDS = [...DATASET_NAMES, 'idx', 'csv'] as const;

/** `joinsTask`: without a dataset.kind, the daemon loads the named data set of the task it joins. */
function parseDatasetSource(r: ConfigReader, joinsTask: boolean): DatasetSource {
  const shard = parseShard(r.at('shard'));
  const evaluationSamples = r.at('evaluationSamples').int(DEFAULTS.evaluationSamples, 0);
  if (joinsTask && !r.at('kind').present) {
    r.only(['kind', 'shard', 'evaluationSamples']);
    return { kind: 'joined-task', shard, evaluationSamples };
  }
  const kind = r.at('kind').choice(DATASET_KINDS, DEFAULTS.datasetKind);
  switch (kind) {
    case 'mnist':
    case 'fashion-mnist':
    case 'synthetic':
      r.only(['kind', 'shard', 'evaluationSamples']);
      return { kind, shard, evaluationSamples };
    case 'idx':
      r.only(['kind', 'dir', 'shard', 'evaluationSamples']);
      return { kind, dir: r.at('dir').string(), shard, evaluationSamples };
    case 'csv':
      r.only(['kind', 'file', 'testFile', 'shard', 'evaluationSamples']);
      return {
        kind,
        file: r.at('file').string(),
        testFile: r.at('testFile').optionalString(),
        shard,
        evaluationSamples,
      };
    default: {
      const never: never = kind;
      throw new ConfigError(`dataset.kind: unhandled ${String(never)}`);
    }
  }
}

function parseShard(r: ConfigReader): Shard {
  r.only(['index', 'of', 'partition', 'seed', 'limit', 'validationPerClass', 'publicValidationPerClass']);
  const of = r.at('of').int(1, 1, 100_000);
  const index = r.at('index').int(0, 0);
  if (index >= of) r.at('index').fail(`must be less than shard.of (${of})`);
  const partitionRaw = r.at('partition').present ? r.at('partition').value : DEFAULTS.partition;
  return {
    index,
    of,
    partition: r.at('partition').parseWith(() => parsePartitionSpec(partitionRaw, 'partition')),
    seed: r.at('seed').int(0, 0),
    limit: r.at('limit').int(0, 0),
    validationPerClass: r.at('validationPerClass').int(DEFAULTS.validationPerClass, 0, 10_000),
    publicValidationPerClass: r.at('publicValidationPerClass').int(DEFAULTS.publicValidationPerClass, 0, 10_000),
  };
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

function parseHttp(r: ConfigReader): HttpConfig {
  r.only(['address', 'token', 'notReadyAfterNoPeersSeconds']);
  const addressText = r.at('address').string(`${DEFAULTS.httpHost}:${DEFAULTS.httpPort}`);
  const address = parseHostPort(addressText);
  if (!address) return r.at('address').fail(`must be host:port (port 0-${MAX_PORT}), got "${addressText}"`);
  const token = r.at('token').optionalString();
  if (!isLoopbackHost(address.host) && token === undefined) {
    r.at('token').fail(
      `required when http.address binds a non-loopback address (${addressText}): set http.token or MESHFL_HTTP_TOKEN`,
    );
  }
  const seconds = r.at('notReadyAfterNoPeersSeconds').number(DEFAULTS.notReadyAfterNoPeersSeconds, 0, 86_400 * 365);
  return { host: address.host, port: address.port, token, notReadyAfterNoPeersMs: seconds * MS_PER_SECOND };
}

function parseRound(r: ConfigReader): {
  round: DaemonConfig['round'];
  localSteps: number;
  keyframeInterval: number;
} {
  r.only([
    'localSteps',
    'localEpochs',
    'minFreshUpdates',
    'neighbours',
    'deadline',
    'staleAfterRounds',
    'evaluateEvery',
    'keyframeInterval',
  ]);
  if (r.at('localSteps').present && r.at('localEpochs').present) {
    r.at('localEpochs').fail('set either round.localSteps or round.localEpochs, not both');
  }
  const localEpochs: TrainAmount | undefined = r.at('localEpochs').present
    ? { epochs: r.at('localEpochs').number(1, 0.001, 1000) }
    : undefined;
  const d = r.at('deadline').only(['initialMs', 'minMs', 'maxMs', 'factor', 'quantile', 'window']);
  const partial: Partial<{ -readonly [K in keyof DeadlineOptions]: DeadlineOptions[K] }> = {};
  for (const key of ['initialMs', 'minMs', 'maxMs', 'factor', 'quantile'] as const) {
    if (d.at(key).present) partial[key] = d.at(key).number(0, 0, 86_400_000);
  }
  if (d.at('window').present) partial.window = d.at('window').int(1, 1, 100_000);
  return {
    round: {
      localEpochs,
      minFreshUpdates: r.at('minFreshUpdates').int(DEFAULTS.minFreshUpdates, 0, 10_000),
      neighbours: r.at('neighbours').value === 'all' ? 'all' : r.at('neighbours').int(DEFAULT_NEIGHBOURS, 1, 10_000),
      deadline: d.parseWith(() => validateDeadline(partial, 'round.deadline')),
      staleAfterRounds: r.at('staleAfterRounds').int(DEFAULTS.staleAfterRounds, 1, 1_000_000),
      evaluateEvery: r.at('evaluateEvery').int(DEFAULTS.evaluateEvery, 0, 1_000_000),
    },
    localSteps: r.at('localSteps').int(DEFAULTS.localSteps, 1, MAX_LOCAL_STEPS),
    keyframeInterval: r.at('keyframeInterval').int(DEFAULTS.keyframeInterval, 1, MAX_KEYFRAME_INTERVAL),
  };
}

function parseOptimizer(r: ConfigReader): DaemonConfig['optimizer'] {
  r.only(['learningRate', 'momentum']);
  return { momentum: r.at('momentum').number(DEFAULTS.momentum, 0, 0.999) };
}

function parseCheckpoints(r: ConfigReader): DaemonConfig['checkpoints'] {
  r.only(['keep', 'every']);
  return {
    keep: r.at('keep').int(DEFAULTS.checkpointsKeep, 1, 1000),
    every: r.at('every').int(DEFAULTS.checkpointEvery, 1, 1_000_000),
  };
}

function parseMesh(r: ConfigReader): DaemonConfig['mesh'] {
  r.only(['minPeers', 'redialMaxBackoffSeconds']);
  return {
    minPeers: r.at('minPeers').int(DEFAULTS.minPeers, 0, 10_000),
    redialMaxBackoffMs:
      r.at('redialMaxBackoffSeconds').number(DEFAULTS.redialMaxBackoffSeconds, 1, 3600) * MS_PER_SECOND,
  };
}

function parseValidation(r: ConfigReader): DaemonConfig['validation'] {
  r.only(['valueBound', 'normFactor', 'deltaNormFactor', 'normWarmup']);
  const normFactor = r.at('normFactor').number(DEFAULTS.normFactor, 0, 1e6);
  if (normFactor > 0 && normFactor <= 1) r.at('normFactor').fail('must be 0 (off) or above 1');
  const deltaNormFactor = r.at('deltaNormFactor').number(DEFAULTS.deltaNormFactor, 1, 1e9);
  if (deltaNormFactor <= 1) r.at('deltaNormFactor').fail('must be above 1');
  return {
    valueBound: r.at('valueBound').number(DEFAULTS.valueBound, 0, 3e38),
    normFactor,
    deltaNormFactor,
    normWarmup: r.at('normWarmup').int(DEFAULTS.normWarmup, 1, 1_000_000),
  };
}

function parseResources(r: ConfigReader): DaemonConfig['resources'] {
  r.only(['batchSize', 'backend']);
  return { backend: r.at('backend').choice(['wasm', 'cpu', 'auto'] as const, DEFAULTS.backend) };
}
