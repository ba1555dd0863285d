/**
 * `meshfl simulate` end to end as a child process: a small MNIST scenario (10 peers over
 * libp2p memory transport, 3 sign-flip attackers, small MLP) writes every output and
 * bristle+ldawa keeps honest peers far above mean; bad scenarios exit 2 naming the key;
 * Ctrl-C writes what was measured so far.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import type { MergeLogLine } from '../../simulations/merge-log.ts';
import type { ResultsFile } from '../../simulations/report.ts';
import { parseScenario, ScenarioError } from '../../simulations/scenario.ts';

const BIN = path.join(import.meta.dirname, '..', '..', 'cli', 'bin', 'meshfl.js');
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const tmp = mkdtempSync(path.join(os.tmpdir(), 'meshfl-sim-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], onStderr?: (text: string, child: ChildProcess) => void): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
      onStderr?.(stderr, child);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function scenarioFile(name: string, scenario: unknown, ext = 'json'): string {
  const file = path.join(tmp, `${name}.${ext}`);
  writeFileSync(file, typeof scenario === 'string' ? scenario : JSON.stringify(scenario));
  return file;
}

const SMALL = {
  name: 'test-small',
  dataset: 'mnist',
  model: { kind: 'mlp', hidden: [32] },
  peers: 10,
  partition: { kind: 'iid' },
  samplesPerPeer: 300,
  testSubset: 500,
  byzantine: { count: 3, attack: 'sign-flip', options: { mode: 'model' } },
  strategies: ['bristle+ldawa', 'mean'],
  rounds: 4,
  localSteps: 10,
  codec: 'int8',
  transport: 'libp2p-memory',
  degree: 4,
  // All-to-all, as when the share bound below was measured; D = 8 runs over libp2p are not
  // bit-reproducible, and the bound is about the merge, not the neighbour sampling.
  neighbours: 'all',
  seed: 1,
};

test('a small scenario runs end to end and bristle+ldawa beats mean under attack', { timeout: 240_000 }, async (t) => {
  const out = path.join(tmp, 'small');
  const logFile = path.join(tmp, 'small-merges.jsonl');
  const r = await run(['simulate', '--scenario', scenarioFile('small', SMALL), '--out', out, '--merge-log', logFile]);
  assert.equal(r.code, 0, r.stderr);
  const results: ResultsFile = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
  checkMergeLog(results, logFile);
  assert.equal(results.scenario.name, 'test-small');
  assert.equal(results.interrupted, false);
  assert.deepEqual(Object.keys(results.strategies), ['bristle+ldawa', 'mean']);
  for (const [label, s] of Object.entries(results.strategies)) {
    assert.equal(s.rounds.length, SMALL.rounds, `${label}: one row per round`);
    for (const [i, row] of s.rounds.entries()) {
      assert.equal(row.round, i);
      const a = row.honestAccuracy;
      assert.ok(a, `${label} round ${i} evaluated`);
      for (const v of [a.mean, a.min, a.max]) assert.ok(v >= 0 && v <= 1);
      assert.ok(a.min <= a.mean && a.mean <= a.max);
      assert.equal(row.peers, 7, 'every honest peer reported the round');
      assert.ok(row.bytesSentPerPeer > 0);
      assert.ok(row.wallMs >= 0);
    }
    assert.ok('roundsTo90' in s.final);
    assert.ok((s.final.honestAccuracy?.mean ?? 0) > 0);
    const csv = readFileSync(path.join(out, `${label}.csv`), 'utf8')
      .trim()
      .split('\n');
    assert.equal(csv.length, SMALL.rounds + 1, 'header + one row per round');
    assert.match(csv[0], /^round,honest_accuracy_mean,honest_accuracy_min,honest_accuracy_max,/);
  }
  for (const plot of ['accuracy', 'bytes']) {
    assert.match(
      readFileSync(path.join(out, `${plot}.svg`), 'utf8'),
      /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/,
    );
    assert.deepEqual([...readFileSync(path.join(out, `${plot}.png`)).subarray(0, 8)], PNG_SIGNATURE);
  }
  const bristle = results.strategies['bristle+ldawa']?.final.honestAccuracy;
  const mean = results.strategies.mean?.final.honestAccuracy;
  assert.ok(bristle && mean);
  t.diagnostic(
    `final honest accuracy: bristle+ldawa ${bristle.mean.toFixed(3)} (min ${bristle.min}), mean ${mean.mean.toFixed(3)} (max ${mean.max})`,
  );
  assert.ok(bristle.mean > mean.mean + 0.1, `bristle+ldawa ${bristle.mean} vs mean ${mean.mean}`);
  // Each attacker's negated model reaches receivers as compressed deltas to its public copy,
  // so for a few rounds that copy sits between the honest models and -own, close enough to
  // pass the distance gate; measured: bristle+ldawa 0.05, 0.09, 0.02, 0.12 against mean's
  // 0.25-0.34. The bound asserted: at most half of mean's share in every round.
  const share = (label: string) => results.strategies[label]?.rounds.map((r) => r.byzantineShareMean ?? -1) ?? [];
  t.diagnostic(
    `Byzantine share per round: bristle+ldawa ${share('bristle+ldawa').map((v) => v.toFixed(2))}, mean ${share('mean').map((v) => v.toFixed(2))}`,
  );
  const meanShares = share('mean');
  assert.ok(
    share('bristle+ldawa').every((v, i) => v <= 0.5 * (meanShares[i] ?? 0)),
    'bristle+ldawa gives sign-flipped models at most half of what mean gives them',
  );
  assert.ok(
    share('mean').every((v) => v > 0.2),
    'mean merges the attackers every round',
  );
});

/**
 * --merge-log: one line per honest peer and round, per strategy; senders by index; the
 * attackers' shares in the report add up to the round record's Byzantine share, and the
 * per-peer accuracies average to results.json's round means.
 */
function checkMergeLog(results: ResultsFile, file: string): void {
  const lines: MergeLogLine[] = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const attackers = new Set(results.environment.attackers as number[]);
  const honest = SMALL.peers - SMALL.byzantine.count;
  assert.equal(
    lines.length,
    SMALL.strategies.length * SMALL.rounds * honest,
    'a line per strategy, honest peer, round',
  );
  for (const [label, s] of Object.entries(results.strategies)) {
    for (const row of s.rounds) {
      const mine = lines.filter((l) => l.strategy === label && l.round === row.round);
      assert.deepEqual(
        mine
          .map((l) => l.peer)
          .sort((a, b) => a - b)
          .filter((p) => attackers.has(p)),
        [],
      );
      assert.equal(mine.length, honest);
      const accuracies = mine.map((l) => l.merged?.overall ?? Number.NaN);
      const mean = accuracies.reduce((a, b) => a + b, 0) / accuracies.length;
      assert.ok(Math.abs(mean - (row.honestAccuracy?.mean ?? -1)) < 1e-3, `${label} round ${row.round}: mean accuracy`);
      for (const l of mine) {
        assert.equal(l.merged?.perClass.length, 10);
        for (const [from] of [...l.used, ...l.rejected]) assert.ok(from >= 0 && from < SMALL.peers, 'sender index');
        const fromAttackers = l.used.reduce((a, [from, share]) => a + (attackers.has(from) ? share : 0), 0);
        assert.ok(Math.abs(fromAttackers - (l.byzantineShare ?? 0)) < 1e-3, `${label}: attackers' shares add up`);
      }
    }
  }
}

test('--strategies runs a subset in the given order; bad labels exit 2', { timeout: 60_000 }, async () => {
  const file = scenarioFile('subset', SMALL);
  const unknown = await run(['simulate', '--scenario', file, '--out', path.join(tmp, 'never'), '--strategies', 'krum']);
  assert.equal(unknown.code, 2, unknown.stderr);
  assert.match(
    unknown.stderr,
    /--strategies: "krum" is not a strategy of the scenario \(labels: bristle\+ldawa, mean\)/,
  );
  const twice = await run([
    'simulate',
    '--scenario',
    file,
    '--out',
    path.join(tmp, 'never'),
    '--strategies',
    'mean,mean',
  ]);
  assert.equal(twice.code, 2, twice.stderr);
  assert.match(twice.stderr, /"mean" given twice/);
  const out = path.join(tmp, 'subset');
  const r = await run([
    'simulate',
    '--scenario',
    scenarioFile('subset-short', { ...SMALL, rounds: 1 }),
    '--out',
    out,
    '--strategies',
    'mean',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const results: ResultsFile = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
  assert.deepEqual(Object.keys(results.strategies), ['mean']);
  assert.deepEqual(
    (results.scenario.strategies as Array<{ label: string }>).map((e) => e.label),
    ['mean'],
    'results.json records the strategies run',
  );
});

test('bad scenarios are refused with a message naming the key', () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ ...SMALL, peers: 'ten' }, /^peers: must be an integer/],
    [{ ...SMALL, strategies: ['mean', 'no-such-rule'] }, /^strategies\[1\]: unknown merge strategy "no-such-rule"/],
    [
      { ...SMALL, strategies: [{ name: 'trimmed-mean', options: { trimm: 0.2 } }] },
      /^strategies\[0\]: trimmed-mean: unknown option "trimm"/,
    ],
    [{ ...SMALL, strategies: ['mean', 'mean'] }, /^strategies\[1\]: duplicate label "mean"/],
    [{ ...SMALL, byzantine: { fraction: 0.3, attack: 'nope' } }, /^byzantine: unknown attack "nope"/],
    [
      { ...SMALL, byzantine: { fraction: 0.3, count: 3, attack: 'alie' } },
      /^byzantine: give exactly one of "fraction" and "count"/,
    ],
    [{ ...SMALL, roundz: 3 }, /^roundz: unknown key \(allowed here: .*, rounds,/],
    [{ ...SMALL, rounds: undefined }, /^rounds: missing/],
    [{ ...SMALL, partition: { kind: 'shards' } }, /^partition: shards classesPerPeer/],
    [{ ...SMALL, model: { kind: 'rnn' } }, /^model\.kind: must be "mlp", "cnn" or "tfjs"/],
    [{ ...SMALL, codec: 'int7' }, /^codec: "int7": expected/],
    [{ ...SMALL, trainable: 'head' }, /^backbone: required with trainable "head"/],
    [{ ...SMALL, churn: [{ round: 2, leave: 7 }] }, /^churn\[0\]\.leave: would leave no honest peer/],
    [{ ...SMALL, degree: 4, topology: 'full' }, /^degree: give "degree" or "topology"/],
  ];
  for (const [scenario, message] of cases) {
    assert.throws(
      () => parseScenario(scenario),
      (err) => err instanceof ScenarioError && message.test(err.message),
      String(message),
    );
  }
});

test(
  'the CLI exits with code 2 on a bad scenario file (JSON and YAML) or a missing flag',
  { timeout: 60_000 },
  async () => {
    const cases: Array<[string, string, RegExp, string]> = [
      ['json', JSON.stringify({ ...SMALL, peers: 'ten' }), /peers: must be an integer/, 'json'],
      [
        'yaml',
        'name: y\ndataset: mnist\nmodel: mlp\npeers: 4\npartition: iid\nstrategies: [mean]\nrounds: 2\ntransport: pigeons\n',
        /transport: must be one of/,
        'yaml',
      ],
      ['not-json', '{ "name": ', /not valid JSON/, 'json'],
    ];
    for (const [name, text, message, ext] of cases) {
      const r = await run([
        'simulate',
        '--scenario',
        scenarioFile(`bad-${name}`, text, ext),
        '--out',
        path.join(tmp, 'never'),
      ]);
      assert.equal(r.code, 2, `${name}: ${r.stderr}`);
      assert.match(r.stderr, message, name);
    }
    const missingOut = await run(['simulate', '--scenario', scenarioFile('ok', SMALL)]);
    assert.equal(missingOut.code, 2);
    assert.match(missingOut.stderr, /--out <dir> is required/);
  },
);

test('the documented headline scenario parses, with trimmed-mean trim 0.2', () => {
  const s = parseScenario(
    JSON.parse(
      readFileSync(
        path.join(import.meta.dirname, '..', '..', 'simulations', 'scenarios', 'mnist-shards4-alie30.json'),
        'utf8',
      ),
    ),
  );
  assert.equal(s.peers, 30);
  assert.equal(s.byzantine?.count, 9);
  assert.deepEqual(s.byzantine?.attack, { name: 'alie', options: { n: 30, f: 9 } });
  assert.deepEqual(
    s.strategies.map((e) => e.label),
    ['bristle+ldawa', 'mean', 'trimmed-mean'],
  );
  assert.deepEqual(s.topology, { kind: 'random-regular', degree: 8, seed: 1 });
  assert.deepEqual(s.local, { epochs: 1 });
});

test('Ctrl-C writes what was measured so far and exits 130', { timeout: 180_000 }, async () => {
  const out = path.join(tmp, 'interrupted');
  const long = { ...SMALL, name: 'test-interrupt', transport: 'inproc', rounds: 200, strategies: ['mean'] };
  let sent = false;
  const r = await run(['simulate', '--scenario', scenarioFile('long', long), '--out', out], (text, child) => {
    // The first progress line means at least one round was measured.
    if (!sent && /round \d+\/200/.test(text)) {
      sent = true;
      child.kill('SIGINT');
    }
  });
  assert.ok(sent, r.stderr);
  assert.equal(r.code, 130, r.stderr);
  const results: ResultsFile = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
  assert.equal(results.interrupted, true);
  const rounds = results.strategies.mean.rounds;
  assert.ok(rounds.length >= 1 && rounds.length < 200, `${rounds.length} rounds recorded`);
});

test('churn: peers leave after their round and joiners start at theirs', { timeout: 120_000 }, async () => {
  const out = path.join(tmp, 'churn');
  const churn = {
    ...SMALL,
    name: 'test-churn',
    peers: 6,
    byzantine: undefined,
    strategies: ['mean'],
    rounds: 6,
    localSteps: 5,
    transport: 'inproc',
    degree: 3,
    churn: [
      { round: 2, leave: 2 },
      { round: 3, join: 2 },
    ],
  };
  const r = await run(['simulate', '--scenario', scenarioFile('churn', churn), '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const results: ResultsFile = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
  const peers = results.strategies.mean?.rounds.map((row) => row.peers);
  // Rounds 0-1: the first six; round 2: four (two left); rounds 3-5: four plus two joiners.
  assert.deepEqual(peers, [6, 6, 4, 6, 6, 6]);
});
