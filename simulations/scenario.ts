/**
 * Simulation scenarios: the validated form of a scenario file (docs/SIMULATIONS.md).
 * `parseScenario` checks untrusted JSON/YAML input key by key and throws a ScenarioError
 * naming the key; everything downstream works on the parsed, defaulted Scenario.
 */
import { type AttackSpec, createAttack } from '../src/attacks/registry.ts';
import { DATASET_NAMES, type DatasetName } from '../src/data/families.ts';
import { type PartitionSpec, parsePartitionSpec } from '../src/data/partition-spec.ts';
import { isOracle, oracleStrategy } from '../src/merge/oracle.ts';
import { createStrategy, type StrategySpec } from '../src/merge/registry.ts';
import { type ModelSpec, parseModelSpec } from '../src/model/spec.ts';
import type { Topology } from '../src/net/graph.ts';
import { DEFAULT_NEIGHBOURS } from '../src/net/peer-sampling.ts';
import type { TrainAmount, Trainable } from '../src/train/trainer.ts';
import { type CodecSpec, formatCodec, parseCodec } from '../src/wire/codec-spec.ts';

export const DATASETS = DATASET_NAMES;
export type ScenarioDataset = DatasetName;
export const TRANSPORTS = ['libp2p-memory', 'libp2p-tcp', 'inproc'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** A bad scenario: the message starts with the offending key (CLI exit code 2). */
export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
}

export interface StrategyEntry {
  /** Name in results, CSV file names and plots (unique in a scenario). */
  readonly label: string;
  readonly spec: StrategySpec;
}

export interface ByzantineSetup {
  readonly count: number;
  readonly attack: { readonly name: string; readonly options: Record<string, unknown> };
}

/** Peers leaving (after finishing `round` rounds) or joining (starting at `round`). */
export type ChurnEvent =
  | { readonly kind: 'leave'; readonly round: number; readonly count: number }
  | { readonly kind: 'join'; readonly round: number; readonly count: number };

export interface Scenario {
  readonly name: string;
  readonly dataset: ScenarioDataset;
  /** As given ("mlp", "cnn", ... or an object), for the record. */
  readonly modelName: string;
  readonly model: ModelSpec;
  readonly trainable: Trainable;
  readonly backbone: string | undefined;
  readonly peers: number;
  readonly partition: PartitionSpec;
  readonly byzantine: ByzantineSetup | undefined;
  readonly strategies: readonly StrategyEntry[];
  readonly rounds: number;
  readonly local: TrainAmount;
  readonly codec: CodecSpec;
  readonly transport: Transport;
  readonly topology: Topology;
  /**
   * D: each peer takes updates from at most this many neighbours, chosen by peer sampling
   * (src/peer/neighbourhood.ts); "all": from every peer, over the gossip topic.
   */
  readonly neighbours: number | 'all';
  readonly churn: readonly ChurnEvent[];
  readonly seed: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly momentum: number;
  /** Training samples per peer drawn from the train split (seeded); undefined = the whole split. */
  readonly samplesPerPeer: number | undefined;
  readonly validationPerClass: number;
  /**
   * Samples per class of the task's public validation set added to every peer's merge
   * validation (src/data/public-validation.ts); 0 = each peer validates on its own classes.
   */
  readonly publicValidationPerClass: number;
  /** Size of the shared evaluation subset of the held-out test split. */
  readonly testSubset: number;
  readonly evaluateEvery: number;
  readonly minFreshUpdates: number;
  readonly deadline: { readonly initialMs: number; readonly maxMs: number };
  /**
   * Training worker threads (node/train-pool); 0 = every peer trains on the main thread.
   * Only where training runs: with a seed the numbers are the same either way.
   */
  readonly workers: number;
}

export const SCENARIO_DEFAULTS = {
  trainable: 'all' as Trainable,
  codec: 'fp32',
  transport: 'libp2p-memory' as Transport,
  batchSize: 32,
  learningRate: 0.05,
  momentum: 0.9,
  validationPerClass: 10,
  publicValidationPerClass: 10,
  testSubset: 1000,
  evaluateEvery: 1,
  /** A round closes after this many fresh neighbour updates (capped by the degree). */
  minFreshUpdates: 3,
  /**
   * In one process every peer shares the CPU, so a neighbour's update can take a whole
   * "round of everyone" to arrive: start patient, let the adaptive deadline learn.
   */
  deadlineInitialMs: 20_000,
  deadlineMaxMs: 120_000,
  workers: 0,
} as const;

/** Upper bound of the "workers" key (and of `meshfl simulate --workers`). */
export const MAX_SIMULATION_WORKERS = 64;

const KEYS = [
  'name',
  'description',
  'dataset',
  'model',
  'trainable',
  'backbone',
  'peers',
  'partition',
  'byzantine',
  'strategies',
  'rounds',
  'localEpochs',
  'localSteps',
  'codec',
  'transport',
  'degree',
  'topology',
  'neighbours',
  'churn',
  'seed',
  'batchSize',
  'learningRate',
  'momentum',
  'samplesPerPeer',
  'validationPerClass',
  'publicValidationPerClass',
  'testSubset',
  'evaluateEvery',
  'minFreshUpdates',
  'deadline',
  'workers',
] as const;

const MAX_PEERS = 10_000;

function show(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}

/** A plain JSON object (not null, not an array). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(record: Record<string, unknown>, allowed: readonly string[], what: string): void {
  for (const key of Object.keys(record)) {
    if (!allowed.includes(key)) {
      throw new ScenarioError(`${what}: unknown key "${key}" (allowed: ${allowed.join(', ')})`);
    }
  }
}

function int(v: unknown, key: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ScenarioError(`${key}: must be an integer in [${min}, ${max}], got ${show(v)}`);
  }
  return v;
}

function num(v: unknown, key: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new ScenarioError(`${key}: must be a number in [${min}, ${max}], got ${show(v)}`);
  }
  return v;
}

function choice<T extends string>(v: unknown, key: string, values: readonly T[]): T {
  if (typeof v !== 'string' || !values.includes(v as T)) {
    throw new ScenarioError(`${key}: must be one of ${values.join(', ')}, got ${show(v)}`);
  }
  return v as T;
}

/** Runs a parser from src/ and re-throws its error as a ScenarioError naming `key`. */
function wrap<T>(key: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new ScenarioError(message.startsWith(`${key}`) ? message : `${key}: ${message}`);
  }
}

/**
 * Builds a strategy once to validate its name and options. "oracle" (honest peers merge
 * only honest candidates with mean, src/merge/oracle.ts) is resolved by the runner, which
 * knows the attackers; its options are mean's.
 */
function checkStrategy(spec: StrategySpec): void {
  if (isOracle(spec)) oracleStrategy(() => true, typeof spec === 'string' ? {} : spec.options);
  else createStrategy(spec);
}

function parseStrategies(v: unknown): StrategyEntry[] {
  if (!Array.isArray(v) || v.length === 0) {
    throw new ScenarioError(`strategies: must be a non-empty list of names or {name, options}, got ${show(v)}`);
  }
  const entries = v.map((item, i): StrategyEntry => {
    const key = `strategies[${i}]`;
    if (typeof item === 'string') {
      wrap(key, () => checkStrategy(item));
      return { label: item, spec: item };
    }
    if (!isRecord(item)) throw new ScenarioError(`${key}: must be a name or {name, options, label}, got ${show(item)}`);
    onlyKeys(item, ['name', 'options', 'label'], key);
    if (typeof item.name !== 'string') throw new ScenarioError(`${key}.name: must be a strategy name`);
    if (item.options !== undefined && !isRecord(item.options))
      throw new ScenarioError(`${key}.options: must be an object`);
    if (item.label !== undefined && (typeof item.label !== 'string' || !/^[\w+.-]{1,64}$/.test(item.label))) {
      throw new ScenarioError(`${key}.label: must be 1-64 of letters, digits, _ + . -`);
    }
    const spec = { name: item.name, options: (item.options ?? {}) as Record<string, unknown> };
    wrap(key, () => checkStrategy(spec));
    return { label: (item.label as string | undefined) ?? item.name, spec };
  });
  const seen = new Set<string>();
  for (const [i, e] of entries.entries()) {
    if (seen.has(e.label)) {
      throw new ScenarioError(`strategies[${i}]: duplicate label "${e.label}" (give each a distinct "label")`);
    }
    seen.add(e.label);
  }
  return entries;
}

/** Attacks `meshfl simulate` cannot run (they need more than a transform of the published model). */
const LOCKSTEP_ONLY_ATTACKS: readonly string[] = ['public-set'];

function parseByzantine(v: unknown, peers: number): ByzantineSetup | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) throw new ScenarioError(`byzantine: must be {fraction or count, attack, options}, got ${show(v)}`);
  onlyKeys(v, ['fraction', 'count', 'attack', 'options'], 'byzantine');
  if ((v.fraction === undefined) === (v.count === undefined)) {
    throw new ScenarioError('byzantine: give exactly one of "fraction" and "count"');
  }
  const count =
    v.count !== undefined
      ? int(v.count, 'byzantine.count', 0, peers - 1)
      : Math.round(num(v.fraction, 'byzantine.fraction', 0, 0.99) * peers);
  if (count >= peers) throw new ScenarioError(`byzantine: ${count} attackers leave no honest peer among ${peers}`);
  if (typeof v.attack !== 'string')
    throw new ScenarioError(`byzantine.attack: must be an attack name, got ${show(v.attack)}`);
  if (v.options !== undefined && !isRecord(v.options)) throw new ScenarioError('byzantine.options: must be an object');
  const attack = {
    name: v.attack,
    options: attackDefaults(v.attack, (v.options ?? {}) as Record<string, unknown>, peers, count),
  };
  if (LOCKSTEP_ONLY_ATTACKS.includes(v.attack)) {
    throw new ScenarioError(
      `byzantine.attack: "${v.attack}" runs in the lockstep runner only (simulations/lockstep: it fine-tunes ` +
        "the attacker's model on the public set with its own trainer)",
    );
  }
  if (count > 0) wrap('byzantine', () => createAttack(attack as AttackSpec));
  return count === 0 ? undefined : { count, attack };
}

/** ALIE's n and f default to this scenario's peers and attackers (the paper's global view). */
function attackDefaults(
  name: string,
  options: Record<string, unknown>,
  peers: number,
  count: number,
): Record<string, unknown> {
  if ((name !== 'alie' && name !== 'adaptive-alie') || options.z !== undefined) return options;
  return { n: peers, f: count, ...options };
}

function parseTopology(v: Record<string, unknown>, peers: number, seed: number): Topology {
  if (v.degree !== undefined && v.topology !== undefined) {
    throw new ScenarioError('degree: give "degree" or "topology", not both');
  }
  if (v.topology === 'full' || (v.topology === undefined && v.degree === undefined)) return { kind: 'full' };
  if (v.topology !== undefined)
    throw new ScenarioError(`topology: must be "full" (or give "degree"), got ${show(v.topology)}`);
  const degree = int(v.degree, 'degree', 1, Math.max(1, peers - 1));
  return degree >= peers - 1 ? { kind: 'full' } : { kind: 'random-regular', degree, seed };
}

function parseChurn(v: unknown, rounds: number, peers: number, attackers: number): ChurnEvent[] {
  if (v === undefined) return [];
  if (!Array.isArray(v))
    throw new ScenarioError(`churn: must be a list of {round, leave} or {round, join}, got ${show(v)}`);
  let leaving = 0;
  return v.map((item, i): ChurnEvent => {
    const key = `churn[${i}]`;
    if (!isRecord(item)) throw new ScenarioError(`${key}: must be {round, leave: count} or {round, join: count}`);
    onlyKeys(item, ['round', 'leave', 'join'], key);
    const round = int(item.round, `${key}.round`, 1, rounds - 1);
    if ((item.leave === undefined) === (item.join === undefined)) {
      throw new ScenarioError(`${key}: give exactly one of "leave" and "join"`);
    }
    if (item.leave !== undefined) {
      const count = int(item.leave, `${key}.leave`, 1, peers);
      leaving += count;
      if (leaving >= peers - attackers) throw new ScenarioError(`${key}.leave: would leave no honest peer`);
      return { kind: 'leave', round, count };
    }
    return { kind: 'join', round, count: int(item.join, `${key}.join`, 1, MAX_PEERS) };
  });
}

/** Validates a scenario file's parsed contents; throws ScenarioError naming the bad key. */
export function parseScenario(raw: unknown): Scenario {
  if (!isRecord(raw)) throw new ScenarioError(`scenario: must be an object, got ${show(raw)}`);
  onlyKeys(raw, KEYS, 'scenario');
  const required = ['name', 'dataset', 'model', 'peers', 'partition', 'strategies', 'rounds'] as const;
  for (const key of required) if (raw[key] === undefined) throw new ScenarioError(`${key}: missing (required)`);
  if (typeof raw.name !== 'string' || !/^[\w.+-]{1,100}$/.test(raw.name)) {
    throw new ScenarioError(`name: must be 1-100 of letters, digits, _ . + -, got ${show(raw.name)}`);
  }
  const dataset = choice(raw.dataset, 'dataset', DATASETS);
  const model = wrap('model', () => parseModelSpec(raw.model));
  const trainable = choice(raw.trainable ?? SCENARIO_DEFAULTS.trainable, 'trainable', ['all', 'head'] as const);
  if (raw.backbone !== undefined && typeof raw.backbone !== 'string')
    throw new ScenarioError('backbone: must be a file path');
  const backbone = raw.backbone as string | undefined;
  if (trainable === 'head' && backbone === undefined) {
    throw new ScenarioError('backbone: required with trainable "head" (a model file from meshfl pretrain)');
  }
  const peers = int(raw.peers, 'peers', 2, MAX_PEERS);
  const partition = wrap('partition', () => parsePartitionSpec(raw.partition));
  const seed = int(raw.seed ?? 1, 'seed', 0, 2 ** 31 - 1);
  const rounds = int(raw.rounds, 'rounds', 1, 100_000);
  if (raw.localEpochs !== undefined && raw.localSteps !== undefined) {
    throw new ScenarioError('localEpochs: give "localEpochs" or "localSteps", not both');
  }
  const local: TrainAmount =
    raw.localSteps !== undefined
      ? { steps: int(raw.localSteps, 'localSteps', 1, 1_000_000) }
      : { epochs: num(raw.localEpochs ?? 1, 'localEpochs', 0.001, 1000) };
  if (raw.codec !== undefined && typeof raw.codec !== 'string')
    throw new ScenarioError('codec: must be a string like "int8"');
  const codec = wrap('codec', () => parseCodec(typeof raw.codec === 'string' ? raw.codec : SCENARIO_DEFAULTS.codec));
  const byzantine = parseByzantine(raw.byzantine, peers);
  const topology = parseTopology(raw, peers, seed);
  const degree = topology.kind === 'full' ? peers - 1 : topology.degree;
  const deadline = raw.deadline ?? {};
  if (!isRecord(deadline)) throw new ScenarioError('deadline: must be {initialMs, maxMs}');
  onlyKeys(deadline, ['initialMs', 'maxMs'], 'deadline');
  const maxMs = int(deadline.maxMs ?? SCENARIO_DEFAULTS.deadlineMaxMs, 'deadline.maxMs', 1, 3_600_000);
  const initialMs = int(
    deadline.initialMs ?? Math.min(SCENARIO_DEFAULTS.deadlineInitialMs, maxMs),
    'deadline.initialMs',
    1,
    maxMs,
  );
  return {
    name: raw.name,
    dataset,
    modelName: typeof raw.model === 'string' ? raw.model : model.kind,
    model,
    trainable,
    backbone,
    peers,
    partition,
    byzantine,
    strategies: parseStrategies(raw.strategies),
    rounds,
    local,
    codec,
    transport: choice(raw.transport ?? SCENARIO_DEFAULTS.transport, 'transport', TRANSPORTS),
    topology,
    neighbours:
      raw.neighbours === 'all'
        ? 'all'
        : raw.neighbours === undefined
          ? DEFAULT_NEIGHBOURS
          : int(raw.neighbours, 'neighbours (or "all")', 1, MAX_PEERS),
    churn: parseChurn(raw.churn, rounds, peers, byzantine?.count ?? 0),
    seed,
    batchSize: int(raw.batchSize ?? SCENARIO_DEFAULTS.batchSize, 'batchSize', 1, 65_536),
    learningRate: num(raw.learningRate ?? SCENARIO_DEFAULTS.learningRate, 'learningRate', 1e-6, 10),
    momentum: num(raw.momentum ?? SCENARIO_DEFAULTS.momentum, 'momentum', 0, 0.999),
    samplesPerPeer: raw.samplesPerPeer === undefined ? undefined : int(raw.samplesPerPeer, 'samplesPerPeer', 10),
    validationPerClass: int(
      raw.validationPerClass ?? SCENARIO_DEFAULTS.validationPerClass,
      'validationPerClass',
      0,
      1000,
    ),
    publicValidationPerClass: int(
      raw.publicValidationPerClass ?? SCENARIO_DEFAULTS.publicValidationPerClass,
      'publicValidationPerClass',
      0,
      1000,
    ),
    testSubset: int(raw.testSubset ?? SCENARIO_DEFAULTS.testSubset, 'testSubset', 10),
    evaluateEvery: int(raw.evaluateEvery ?? SCENARIO_DEFAULTS.evaluateEvery, 'evaluateEvery', 1, rounds),
    minFreshUpdates: int(
      raw.minFreshUpdates ?? Math.min(SCENARIO_DEFAULTS.minFreshUpdates, degree),
      'minFreshUpdates',
      1,
      MAX_PEERS,
    ),
    deadline: { initialMs, maxMs },
    workers: int(raw.workers ?? SCENARIO_DEFAULTS.workers, 'workers', 0, MAX_SIMULATION_WORKERS),
  };
}

/** The scenario as plain JSON (for results.json): what was run, defaults filled in. */
export function scenarioRecord(s: Scenario): Record<string, unknown> {
  return {
    ...s,
    model: s.model,
    codec: formatCodec(s.codec),
    byzantine: s.byzantine ?? null,
    backbone: s.backbone ?? null,
    samplesPerPeer: s.samplesPerPeer ?? null,
  };
}
