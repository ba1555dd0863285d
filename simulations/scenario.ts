/**
 * Simulation scenarios: the validated form of a scenario file (docs/SIMULATIONS.md).
 * `parseScenario` reads untrusted JSON/YAML input with SCENARIO_SCHEMA (valibot,
 * src/config/read.ts; exported as schemas/scenario.schema.json), then checks what depends
 * on several keys, and throws a ScenarioError naming the key; everything downstream works
 * on the parsed, defaulted Scenario.
 */
import * as v from 'valibot';
import { type AttackSpec, attackNames, createAttack } from '../src/attacks/registry.ts';
import {
  choice,
  doc,
  domainIssue,
  formatIssue,
  int,
  isRecord,
  list,
  num,
  parsedBy,
  parseStep,
  read,
  show,
  strict,
  text,
} from '../src/config/read.ts';
import { CODEC_SHAPE, MODEL_SHAPE, PARTITION_SHAPE } from '../src/config/shapes.ts';
import { DATASET_NAMES, type DatasetName } from '../src/data/families.ts';
import { type PartitionSpec, parsePartitionSpec } from '../src/data/partition-spec.ts';
import { isOracle, ORACLE_STRATEGY, oracleStrategy } from '../src/merge/oracle.ts';
import { createStrategy, type StrategySpec, strategyNames } from '../src/merge/registry.ts';
import { type ModelSpec, parseModelSpec } from '../src/model/spec.ts';
import type { Topology } from '../src/net/graph.ts';
import { DEFAULT_NEIGHBOURS, MAX_GOSSIP_STEPS } from '../src/peer/gossip-steps.ts';
import type { TrainAmount, Trainable } from '../src/train/trainer.ts';
import { type CodecSpec, formatCodec, parseCodec } from '../src/wire/codec-spec.ts';

export { isRecord } from '../src/config/read.ts';

export const DATASETS = DATASET_NAMES;
export type ScenarioDataset = DatasetName;
export const TRANSPORTS = ['libp2p-memory', 'libp2p-tcp', 'inproc'] as const;
export type Transport = (typeof TRANSPORTS)[number];
/**
 * How rounds close. "async": each peer closes a round on `minFreshUpdates` fresh updates
 * (with several gossip steps: every step on a fresh update from every candidate) or its
 * adaptive deadline (the Peer as deployed); on the in-process bus the deadline is the
 * process's idle gate instead of the wall clock (src/peer/idle-gate.ts: a wait gives up
 * only when every peer waits), so a seed gives the same numbers whatever the load. "lockstep": synchronous rounds on the
 * in-process bus: every peer waits for a fresh update from every other peer (the bus
 * floods every update to every peer, so that is minFreshUpdates = peers - 1, the degree
 * of the full graph) with no deadline, and no peer publishes round r + 1 before every
 * peer closed round r; attackers start each round from the honest peers' mean model and
 * see this round's honest models (simulations/lockstep-mode.ts). Same seed, same numbers.
 */
export const MODES = ['async', 'lockstep'] as const;
export type Mode = (typeof MODES)[number];

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
  readonly mode: Mode;
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
   * (src/peer/neighbourhood.ts); "all": from every peer, over the gossip topic. Default
   * DEFAULT_NEIGHBOURS (8); "all" in mode "lockstep".
   */
  readonly neighbours: number | 'all';
  /** Gossip (merge) steps per round (PeerOptions.gossipSteps); undefined: the Peer's default (2 with D, 1 with "all"). */
  readonly gossipSteps: number | undefined;
  /** PeerOptions.shunAfter; undefined: the Peer's default. */
  readonly shunAfter: number | undefined;
  /** PeerOptions.shunRounds; undefined: the Peer's default. */
  readonly shunRounds: number | undefined;
  /** PeerOptions.momentumAfterMerge: keep or reset the optimizer momentum at the merge. */
  readonly momentumAfterMerge: 'keep' | 'reset';
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
  /** The adaptive wall-clock deadline; unused in async runs on the in-process bus (the idle gate closes waits). */
  readonly deadline: { readonly initialMs: number; readonly minMs: number; readonly maxMs: number };
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
  deadlineMinMs: 50,
  deadlineMaxMs: 120_000,
  workers: 0,
} as const;

/** Upper bound of the "workers" key (and of `meshfl simulate --workers`). */
export const MAX_SIMULATION_WORKERS = 64;

const MAX_PEERS = 10_000;
const MAX_ROUNDS = 100_000;
const MAX_DEADLINE_MS = 3_600_000;
const LABEL_PATTERN = /^[\w+.-]{1,64}$/;
const NAME_PATTERN = /^[\w.+-]{1,100}$/;
const OPTIONS = v.record(v.string(), v.unknown(), (i) => `must be an object of options, got ${show(i.input)}`);

/**
 * Builds a strategy once to validate its name and options. "oracle" (honest peers merge
 * only honest candidates with mean, src/merge/oracle.ts) is resolved by the runner, which
 * knows the attackers; its options are mean's.
 */
function checkStrategy(spec: StrategySpec): void {
  if (isOracle(spec)) oracleStrategy(() => true, typeof spec === 'string' ? {} : spec.options);
  else createStrategy(spec);
}

const STRATEGY_NAME = v.pipe(text('a strategy name'), v.metadata({ enum: [...strategyNames(), ORACLE_STRATEGY] }));

/** A name, or {name, options, label}; the rule is built once to check its options. */
const STRATEGY = v.pipe(
  v.union(
    [
      STRATEGY_NAME,
      strict(
        {
          name: STRATEGY_NAME,
          options: v.optional(OPTIONS, {}),
          label: v.optional(
            v.pipe(
              v.string(),
              v.regex(LABEL_PATTERN, (i) => `must be 1-64 of letters, digits, _ + . -, got ${show(i.input)}`),
            ),
          ),
        },
        '{name, options, label}',
      ),
    ],
    (i) => `must be a strategy name or {name, options, label}, got ${show(i.input)}`,
  ),
  parseStep((item): StrategyEntry => {
    const spec: StrategySpec = typeof item === 'string' ? item : { name: item.name, options: item.options };
    checkStrategy(spec);
    return { label: typeof item === 'string' ? item : (item.label ?? item.name), spec };
  }),
);

const BYZANTINE = strict(
  {
    fraction: v.optional(num(0, 0.99)),
    count: v.optional(int(0, MAX_PEERS)),
    attack: v.pipe(text('an attack name'), v.metadata({ enum: attackNames() })),
    options: v.optional(OPTIONS, {}),
  },
  '{fraction or count, attack, options}',
);

const CHURN_EVENT = strict(
  {
    round: int(1, MAX_ROUNDS),
    leave: v.optional(int(1, MAX_PEERS)),
    join: v.optional(int(1, MAX_PEERS)),
  },
  '{round, leave: count} or {round, join: count}',
);

/** A scenario file's keys, their types, ranges and defaults (docs/SIMULATIONS.md). */
export const SCENARIO_SCHEMA = strict(
  {
    /** The JSON Schema an editor checks the file against; ignored here. */
    $schema: v.optional(v.string()),
    name: v.pipe(
      text('a name'),
      v.regex(NAME_PATTERN, (i) => `must be 1-100 of letters, digits, _ . + -, got ${show(i.input)}`),
    ),
    description: v.optional(v.string((i) => `must be a string, got ${show(i.input)}`)),
    mode: v.optional(
      doc(
        'How rounds close: "async" (enough fresh updates or the adaptive deadline) or "lockstep" (synchronous rounds on the in-process bus: every peer waits for every other peer, no deadline).',
        choice(MODES),
      ),
      'async',
    ),
    dataset: choice(DATASETS),
    model: parsedBy(parseModelSpec, MODEL_SHAPE),
    trainable: v.optional(choice(['all', 'head'] as const), SCENARIO_DEFAULTS.trainable),
    backbone: v.optional(text('a model file path (from meshfl pretrain)')),
    peers: doc('Peers at the start (honest + Byzantine).', int(2, MAX_PEERS)),
    partition: parsedBy((x) => parsePartitionSpec(x), PARTITION_SHAPE),
    byzantine: v.nullish(BYZANTINE),
    strategies: v.pipe(list(STRATEGY, 'strategies'), v.minLength(1, 'must name at least one strategy')),
    rounds: doc('Rounds every peer runs.', int(1, MAX_ROUNDS)),
    localEpochs: v.optional(doc('Epochs over the local share per round (default 1; or localSteps).', num(0.001, 1000))),
    localSteps: v.optional(doc('Mini-batch steps per round, instead of localEpochs.', int(1, 1_000_000))),
    codec: v.optional(
      v.pipe(text('a codec like "int8"'), v.metadata(CODEC_SHAPE), parseStep(parseCodec)),
      SCENARIO_DEFAULTS.codec,
    ),
    transport: v.optional(choice(TRANSPORTS)),
    degree: v.optional(
      doc(
        'Random regular graph of this degree (seeded); without it every peer links to every other.',
        int(1, MAX_PEERS),
      ),
    ),
    topology: v.optional(v.picklist(['full'], (i) => `must be "full" (or give "degree"), got ${show(i.input)}`)),
    neighbours: v.optional(
      doc(
        `Each peer takes updates from at most this many sampled neighbours, or "all" (every peer, over the gossip topic). Default ${DEFAULT_NEIGHBOURS}; "all" in mode "lockstep" (its only value there).`,
        v.union(
          [v.literal('all'), int(1, MAX_PEERS)],
          (i) => `must be "all" or an integer in [1, ${MAX_PEERS}], got ${show(i.input)}`,
        ),
      ),
      DEFAULT_NEIGHBOURS,
    ),
    gossipSteps: v.optional(
      doc(
        'Gossip (merge) steps per round: the merged model is published and merged again this many times in all before the next local training (default 2 with neighbours D, 1 with "all").',
        int(1, MAX_GOSSIP_STEPS),
      ),
    ),
    shunAfter: v.optional(
      doc(
        "Shun a sender once this many of its last 2 x shunAfter merge verdicts were harm (rejected as harmful, too far, out of bounds or lowering the validation loss of too few classes): its updates are no longer merged and, with neighbours D, another peer takes its slot (src/peer/shunning.ts). 0 = never. Default: the Peer's.",
        int(0, 64),
      ),
    ),
    shunRounds: v.optional(
      doc(
        "Rounds a shun lasts: after it the sender is merged again on probation (one more harm verdict shuns it again); each further shun of the same sender doubles it (src/peer/shunning.ts). 0 = for good. Default: the Peer's.",
        int(0, 1_000_000),
      ),
    ),
    momentumAfterMerge: v.optional(
      doc(
        'What the optimizer momentum does at the merge: "keep" it, or "reset" it.',
        v.picklist(['keep', 'reset'], (i) => `must be "keep" or "reset", got ${show(i.input)}`),
      ),
      'keep',
    ),
    churn: v.optional(list(CHURN_EVENT, 'churn events'), []),
    seed: v.optional(int(0, 2 ** 31 - 1), 1),
    batchSize: v.optional(int(1, 65_536), SCENARIO_DEFAULTS.batchSize),
    learningRate: v.optional(num(1e-6, 10), SCENARIO_DEFAULTS.learningRate),
    momentum: v.optional(num(0, 0.999), SCENARIO_DEFAULTS.momentum),
    samplesPerPeer: v.optional(
      doc('Training samples per peer drawn (seeded) before splitting; default the whole split.', int(10)),
    ),
    validationPerClass: v.optional(int(0, 1000), SCENARIO_DEFAULTS.validationPerClass),
    publicValidationPerClass: v.optional(int(0, 1000), SCENARIO_DEFAULTS.publicValidationPerClass),
    testSubset: v.optional(
      doc('Size of the shared evaluation subset of the test split.', int(10)),
      SCENARIO_DEFAULTS.testSubset,
    ),
    evaluateEvery: v.optional(int(1, MAX_ROUNDS), SCENARIO_DEFAULTS.evaluateEvery),
    minFreshUpdates: v.optional(
      doc('A round closes after this many fresh neighbour updates (default min(3, degree)).', int(1, MAX_PEERS)),
    ),
    deadline: v.optional(
      doc(
        'The adaptive round deadline (wall clock) of libp2p transports. Async runs on the in-process bus do not use it: a wait gives up only when every peer waits, so a seed gives the same numbers whatever the load.',
        strict(
          {
            initialMs: v.optional(int(1, MAX_DEADLINE_MS)),
            minMs: v.optional(int(1, MAX_DEADLINE_MS)),
            maxMs: v.optional(int(1, MAX_DEADLINE_MS), SCENARIO_DEFAULTS.deadlineMaxMs),
          },
          '{initialMs, minMs, maxMs}',
        ),
      ),
      {},
    ),
    workers: v.optional(
      doc('Training worker threads (0 = the main thread).', int(0, MAX_SIMULATION_WORKERS)),
      SCENARIO_DEFAULTS.workers,
    ),
  },
  'an object of scenario keys',
);

type ScenarioInput = v.InferOutput<typeof SCENARIO_SCHEMA>;

function fail(key: string, problem: string): never {
  throw new ScenarioError(formatIssue({ key, problem }));
}

/** `value` (already an integer) within [min, max] that depend on other keys. */
function within(key: string, value: number, min: number, max: number): number {
  if (value < min || value > max) fail(key, `must be an integer in [${min}, ${max}], got ${show(value)}`);
  return value;
}

function checkLabels(entries: readonly StrategyEntry[]): void {
  const seen = new Set<string>();
  for (const [i, e] of entries.entries()) {
    if (seen.has(e.label)) fail(`strategies[${i}]`, `duplicate label "${e.label}" (give each a distinct "label")`);
    seen.add(e.label);
  }
}

/**
 * Attacks only mode "lockstep" runs: they need more than a transform of the published
 * model (public-set fine-tunes the attacker's model on the public set with its trainer).
 */
const LOCKSTEP_ONLY_ATTACKS: readonly string[] = ['public-set'];

function byzantineSetup(b: ScenarioInput['byzantine'], peers: number, mode: Mode): ByzantineSetup | undefined {
  if (b === undefined || b === null) return undefined;
  if ((b.fraction === undefined) === (b.count === undefined)) {
    fail('byzantine', 'give exactly one of "fraction" and "count"');
  }
  const count =
    b.count !== undefined ? within('byzantine.count', b.count, 0, peers - 1) : Math.round((b.fraction ?? 0) * peers);
  if (count >= peers) fail('byzantine', `${count} attackers leave no honest peer among ${peers}`);
  const attack = { name: b.attack, options: attackDefaults(b.attack, b.options, peers, count) };
  if (LOCKSTEP_ONLY_ATTACKS.includes(b.attack) && mode !== 'lockstep') {
    fail(
      'byzantine.attack',
      `"${b.attack}" runs in mode "lockstep" only (it fine-tunes the attacker's model on ` +
        'the public set with its own trainer, between rounds)',
    );
  }
  if (count > 0) {
    try {
      createAttack(attack as AttackSpec);
    } catch (err) {
      const issue = domainIssue('byzantine', err instanceof Error ? err.message : String(err));
      fail(issue.key, issue.problem);
    }
  }
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

function topologyOf(s: ScenarioInput): Topology {
  if (s.degree !== undefined && s.topology !== undefined) fail('degree', 'give "degree" or "topology", not both');
  if (s.degree === undefined) return { kind: 'full' };
  const degree = within('degree', s.degree, 1, Math.max(1, s.peers - 1));
  return degree >= s.peers - 1 ? { kind: 'full' } : { kind: 'random-regular', degree, seed: s.seed };
}

function churnEvents(s: ScenarioInput, attackers: number): ChurnEvent[] {
  let leaving = 0;
  return s.churn.map((item, i): ChurnEvent => {
    const key = `churn[${i}]`;
    const round = within(`${key}.round`, item.round, 1, s.rounds - 1);
    if ((item.leave === undefined) === (item.join === undefined)) fail(key, 'give exactly one of "leave" and "join"');
    if (item.leave !== undefined) {
      const count = within(`${key}.leave`, item.leave, 1, s.peers);
      leaving += count;
      if (leaving >= s.peers - attackers) fail(`${key}.leave`, 'would leave no honest peer');
      return { kind: 'leave', round, count };
    }
    return { kind: 'join', round, count: item.join ?? 0 };
  });
}

/**
 * The "deadline" of a lockstep round: none in effect (a round waits for every peer). The
 * runner stops a lockstep run that stalls (an update refused, a round closed by this
 * deadline) with an error instead of letting it drift into asynchronous rounds.
 */
export const LOCKSTEP_STALL_MS = MAX_DEADLINE_MS;

/** Keys mode "lockstep" fixes itself, or cannot run. */
function checkLockstep(s: ScenarioInput, raw: unknown): void {
  const given = (key: string): boolean => isRecord(raw) && raw[key] !== undefined;
  if (s.transport !== undefined && s.transport !== 'inproc') {
    fail('transport', 'mode "lockstep" runs on the in-process bus: "inproc" (or leave it out)');
  }
  for (const key of ['minFreshUpdates', 'deadline'] as const) {
    if (given(key)) fail(key, 'mode "lockstep" fixes it (every other peer\'s update, no deadline): leave it out');
  }
  if (given('neighbours') && s.neighbours !== 'all')
    fail('neighbours', 'mode "lockstep" merges every peer\'s update: "all" (or leave it out)');
  if (s.churn.length > 0) fail('churn', 'mode "lockstep" runs a fixed set of peers: no churn');
  if (s.gossipSteps !== undefined && s.gossipSteps !== 1)
    fail('gossipSteps', 'mode "lockstep" merges once per round: 1 (or leave it out)');
  if (s.shunAfter !== undefined && s.shunAfter !== 0)
    fail('shunAfter', 'mode "lockstep" keeps every peer in every merge: 0 (or leave it out)');
}

/** Validates a scenario file's parsed contents; throws ScenarioError naming the bad key. */
export function parseScenario(raw: unknown): Scenario {
  const result = read(SCENARIO_SCHEMA, raw);
  if (!result.ok) throw new ScenarioError(formatIssue({ ...result.issue, key: result.issue.key || 'scenario' }));
  const s = result.value;
  if (s.trainable === 'head' && s.backbone === undefined) {
    fail('backbone', 'required with trainable "head" (a model file from meshfl pretrain)');
  }
  if (s.localEpochs !== undefined && s.localSteps !== undefined) {
    fail('localEpochs', 'give "localEpochs" or "localSteps", not both');
  }
  checkLabels(s.strategies);
  if (s.mode === 'lockstep') checkLockstep(s, raw);
  const byzantine = byzantineSetup(s.byzantine, s.peers, s.mode);
  if (byzantine?.attack.name === 'public-set' && s.publicValidationPerClass === 0) {
    fail('byzantine.attack', `"public-set" needs the task's public set: publicValidationPerClass > 0`);
  }
  const topology = topologyOf(s);
  const degree = topology.kind === 'full' ? s.peers - 1 : topology.degree;
  const maxMs = s.mode === 'lockstep' ? LOCKSTEP_STALL_MS : s.deadline.maxMs;
  // Lockstep pins all three: the adaptive deadline must not learn its way below the stall bound.
  const minMs =
    s.mode === 'lockstep'
      ? LOCKSTEP_STALL_MS
      : within('deadline.minMs', s.deadline.minMs ?? Math.min(SCENARIO_DEFAULTS.deadlineMinMs, maxMs), 1, maxMs);
  const initialMs =
    s.mode === 'lockstep'
      ? LOCKSTEP_STALL_MS
      : within(
          'deadline.initialMs',
          s.deadline.initialMs ?? Math.max(minMs, Math.min(SCENARIO_DEFAULTS.deadlineInitialMs, maxMs)),
          minMs,
          maxMs,
        );
  return {
    name: s.name,
    mode: s.mode,
    dataset: s.dataset,
    modelName: isRecord(raw) && typeof raw.model === 'string' ? raw.model : s.model.kind,
    model: s.model,
    trainable: s.trainable,
    backbone: s.backbone,
    peers: s.peers,
    partition: s.partition,
    byzantine,
    strategies: s.strategies,
    rounds: s.rounds,
    local: s.localSteps !== undefined ? { steps: s.localSteps } : { epochs: s.localEpochs ?? 1 },
    codec: s.codec,
    transport: s.transport ?? (s.mode === 'lockstep' ? 'inproc' : SCENARIO_DEFAULTS.transport),
    topology,
    // Lockstep merges every peer's update: "all" (its only value; the default elsewhere is D).
    neighbours: s.mode === 'lockstep' ? 'all' : s.neighbours,
    gossipSteps: s.gossipSteps,
    shunAfter: s.shunAfter,
    shunRounds: s.shunRounds,
    momentumAfterMerge: s.momentumAfterMerge,
    churn: churnEvents(s, byzantine?.count ?? 0),
    seed: s.seed,
    batchSize: s.batchSize,
    learningRate: s.learningRate,
    momentum: s.momentum,
    samplesPerPeer: s.samplesPerPeer,
    validationPerClass: s.validationPerClass,
    publicValidationPerClass: s.publicValidationPerClass,
    testSubset: s.testSubset,
    evaluateEvery: within('evaluateEvery', s.evaluateEvery, 1, s.rounds),
    // Lockstep: a fresh update from every other peer (each hears all of them on the bus).
    minFreshUpdates:
      s.mode === 'lockstep' ? s.peers - 1 : (s.minFreshUpdates ?? Math.min(SCENARIO_DEFAULTS.minFreshUpdates, degree)),
    deadline: { initialMs, minMs, maxMs },
    workers: s.workers,
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
