/**
 * The daemon's configuration: one validated value built from the config file, then
 * MESHFL_* environment variables, then command-line flags (later wins). Every key and its
 * default is documented in docs/DAEMON.md; keep the two in step.
 */
import { type PartitionSpec, parsePartitionSpec } from '../../src/data/partition-spec.ts';
import type { StrategySpec } from '../../src/merge/index.ts';
import { createStrategy, DEFAULT_STRATEGY } from '../../src/merge/index.ts';
import { isOracle, ORACLE_SIMULATION_ONLY } from '../../src/merge/oracle.ts';
import { DEFAULT_VALUE_BOUND } from '../../src/model/bounds.ts';
import { type ModelSpec, parseModelSpec } from '../../src/model/spec.ts';
import { type DeadlineOptions, validateDeadline } from '../../src/peer/deadline.ts';
import type { TrainAmount, Trainable } from '../../src/train/trainer.ts';
import { parseCodec } from '../../src/wire/codec-spec.ts';
import { DEFAULT_NORM_FACTOR, DEFAULT_NORM_WARMUP } from '../../src/wire/norms.ts';
import { announceProblem, bootstrapProblem, listenProblem } from './addresses.ts';
import { ConfigError, ConfigReader, type OverrideSources } from './config-reader.ts';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type DatasetSource =
  | {
      readonly kind: 'mnist' | 'fashion-mnist' | 'synthetic';
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
    };

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
  readonly taskId: string;
  readonly model: ModelSpec;
  readonly trainable: Trainable;
  readonly backbone: string | undefined;
  readonly dataset: DatasetSource;
  readonly strategy: StrategySpec;
  readonly codec: string;
  readonly listen: readonly string[] | undefined;
  readonly announce: readonly string[];
  readonly bootstrap: readonly string[];
  readonly mdns: boolean;
  readonly relay: boolean;
  readonly http: HttpConfig;
  readonly round: {
    readonly local: TrainAmount;
    readonly minFreshUpdates: number;
    readonly deadline: DeadlineOptions;
    readonly staleAfterRounds: number;
    readonly evaluateEvery: number;
    /** A full model every this many rounds (browser tasks use a short interval). */
    readonly keyframeInterval: number;
  };
  readonly optimizer: { readonly learningRate: number; readonly momentum: number };
  readonly checkpoints: { readonly keep: number; readonly every: number };
  /** Healing: redial known peers while fewer than minPeers are connected. */
  readonly mesh: { readonly minPeers: number; readonly redialMaxBackoffMs: number };
  /** Wire bounds on incoming updates (docs/PROTOCOL.md "Validation"); 0 turns a bound off. */
  readonly validation: {
    readonly valueBound: number;
    readonly normFactor: number;
    readonly normWarmup: number;
  };
  readonly resources: { readonly batchSize: number; readonly backend: 'wasm' | 'cpu' | 'auto' };
  readonly seed: number;
  readonly logLevel: LogLevel;
}

export const DEFAULTS = {
  dataDir: './meshfl-data',
  taskId: 'mnist',
  model: 'mlp',
  trainable: 'all' as Trainable,
  datasetKind: 'mnist',
  evaluationSamples: 1000,
  partition: 'iid',
  validationPerClass: 10,
  publicValidationPerClass: 10,
  strategy: DEFAULT_STRATEGY,
  codec: 'int8',
  mdns: false,
  relay: false,
  httpHost: '127.0.0.1',
  httpPort: 9464,
  notReadyAfterNoPeersSeconds: 60,
  localSteps: 50,
  minFreshUpdates: 3,
  staleAfterRounds: 3,
  evaluateEvery: 1,
  keyframeInterval: 10,
  learningRate: 0.05,
  momentum: 0.9,
  checkpointsKeep: 3,
  minPeers: 3,
  redialMaxBackoffSeconds: 10,
  valueBound: DEFAULT_VALUE_BOUND,
  normFactor: DEFAULT_NORM_FACTOR,
  normWarmup: DEFAULT_NORM_WARMUP,
  checkpointEvery: 1,
  batchSize: 32,
  backend: 'auto' as const,
  seed: 1,
  logLevel: 'info' as LogLevel,
} as const;

const TOP_KEYS = [
  'dataDir',
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
const TASK_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MS_PER_SECOND = 1000;
const MAX_PORT = 65535;

/** Validates a raw config object (parsed file with overrides applied). Throws ConfigError. */
export function parseDaemonConfig(raw: unknown, sources: OverrideSources = new Map()): DaemonConfig {
  const root = new ConfigReader(raw, '', sources).only(TOP_KEYS);
  const trainable = root.at('trainable').choice(['all', 'head'] as const, DEFAULTS.trainable);
  const backbone = root.at('backbone').optionalString();
  if (trainable === 'head' && backbone === undefined) root.at('backbone').fail('required when trainable is "head"');
  const taskId = root.at('taskId').string(DEFAULTS.taskId);
  if (!TASK_ID.test(taskId)) root.at('taskId').fail('must be 1-64 letters, digits, ".", "_" or "-"');
  const codec = root.at('codec').string(DEFAULTS.codec);
  root.at('codec').parseWith(() => parseCodec(codec));
  const strategy = parseStrategy(root.at('strategy'));
  const relay = root.at('relay').boolean(DEFAULTS.relay);
  return {
    dataDir: root.at('dataDir').string(DEFAULTS.dataDir),
    taskId,
    model: root.at('model').present
      ? root.at('model').parseWith((v) => parseModelSpec(v, 'model'))
      : parseModelSpec(DEFAULTS.model),
    trainable,
    backbone,
    dataset: parseDatasetSource(root.at('dataset')),
    strategy,
    codec,
    listen: root.at('listen').present
      ? checked(root.at('listen'), nonEmpty(root.at('listen'), root.at('listen').strings([])), (a) =>
          listenProblem(a, relay),
        )
      : undefined,
    announce: checked(root.at('announce'), root.at('announce').strings([]), announceProblem),
    bootstrap: checked(root.at('bootstrap'), root.at('bootstrap').strings([]), bootstrapProblem),
    mdns: root.at('mdns').boolean(DEFAULTS.mdns),
    relay,
    mesh: parseMesh(root.at('mesh')),
    http: parseHttp(root.at('http')),
    round: parseRound(root.at('round')),
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

function parseStrategy(r: ConfigReader): StrategySpec {
  let spec: StrategySpec;
  if (!r.present) spec = DEFAULTS.strategy;
  else if (typeof r.value === 'string') spec = r.string();
  else {
    r.only(['name', 'options']);
    spec = { name: r.at('name').string(), options: r.at('options').object() };
  }
  // The oracle needs ground truth (who attacks): simulations only.
  if (isOracle(spec)) r.fail(ORACLE_SIMULATION_ONLY);
  // Build once to validate the name and options; the daemon builds its own later.
  r.parseWith(() => createStrategy(spec));
  return spec;
}

const NAMED_DATASETS = ['mnist', 'fashion-mnist', 'synthetic'] as const;
const DATASET_KINDS = [...NAMED_DATASETS, 'idx', 'csv'] as const;

function parseDatasetSource(r: ConfigReader): DatasetSource {
  const kind = r.at('kind').choice(DATASET_KINDS, DEFAULTS.datasetKind);
  const shard = parseShard(r.at('shard'));
  const evaluationSamples = r.at('evaluationSamples').int(DEFAULTS.evaluationSamples, 0);
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

function parseRound(r: ConfigReader): DaemonConfig['round'] {
  r.only([
    'localSteps',
    'localEpochs',
    'minFreshUpdates',
    'deadline',
    'staleAfterRounds',
    'evaluateEvery',
    'keyframeInterval',
  ]);
  if (r.at('localSteps').present && r.at('localEpochs').present) {
    r.at('localEpochs').fail('set either round.localSteps or round.localEpochs, not both');
  }
  const local: TrainAmount = r.at('localEpochs').present
    ? { epochs: r.at('localEpochs').number(1, 0.001, 1000) }
    : { steps: r.at('localSteps').int(DEFAULTS.localSteps, 1, 1_000_000) };
  const d = r.at('deadline').only(['initialMs', 'minMs', 'maxMs', 'factor', 'quantile', 'window']);
  const partial: Partial<{ -readonly [K in keyof DeadlineOptions]: DeadlineOptions[K] }> = {};
  for (const key of ['initialMs', 'minMs', 'maxMs', 'factor', 'quantile'] as const) {
    if (d.at(key).present) partial[key] = d.at(key).number(0, 0, 86_400_000);
  }
  if (d.at('window').present) partial.window = d.at('window').int(1, 1, 100_000);
  return {
    local,
    minFreshUpdates: r.at('minFreshUpdates').int(DEFAULTS.minFreshUpdates, 0, 10_000),
    deadline: d.parseWith(() => validateDeadline(partial, 'round.deadline')),
    staleAfterRounds: r.at('staleAfterRounds').int(DEFAULTS.staleAfterRounds, 1, 1_000_000),
    evaluateEvery: r.at('evaluateEvery').int(DEFAULTS.evaluateEvery, 0, 1_000_000),
    keyframeInterval: r.at('keyframeInterval').int(DEFAULTS.keyframeInterval, 1, 1_000_000),
  };
}

function parseOptimizer(r: ConfigReader): DaemonConfig['optimizer'] {
  r.only(['learningRate', 'momentum']);
  return {
    learningRate: r.at('learningRate').number(DEFAULTS.learningRate, 1e-9, 99),
    momentum: r.at('momentum').number(DEFAULTS.momentum, 0, 0.999),
  };
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
  r.only(['valueBound', 'normFactor', 'normWarmup']);
  const normFactor = r.at('normFactor').number(DEFAULTS.normFactor, 0, 1e6);
  if (normFactor > 0 && normFactor <= 1) r.at('normFactor').fail('must be 0 (off) or above 1');
  return {
    valueBound: r.at('valueBound').number(DEFAULTS.valueBound, 0, 3e38),
    normFactor,
    normWarmup: r.at('normWarmup').int(DEFAULTS.normWarmup, 1, 1_000_000),
  };
}

function parseResources(r: ConfigReader): DaemonConfig['resources'] {
  r.only(['batchSize', 'backend']);
  return {
    batchSize: r.at('batchSize').int(DEFAULTS.batchSize, 1, 65_536),
    backend: r.at('backend').choice(['wasm', 'cpu', 'auto'] as const, DEFAULTS.backend),
  };
}
