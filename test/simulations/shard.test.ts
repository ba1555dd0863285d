/**
 * `meshfl simulate --shard i/n` as two real processes on 127.0.0.1: a 6-peer MNIST MLP
 * scenario split 3 + 3, the shards finding each other through --bootstrap. Checks the
 * combined report covers every honest peer of both shards, that peers merged models of
 * the other process's peers, that `--combine` of the two shard files gives the same
 * report, and that bad flags exit 2 with a clear message. No timing assertions.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import type { ResultsFile } from '../../simulations/report.ts';
import { type ShardFile, shardFileName } from '../../simulations/shard/combine.ts';
import { shardOfPeer, shardPeers } from '../../simulations/shard/slice.ts';

const BIN = path.join(import.meta.dirname, '..', '..', 'cli', 'bin', 'meshfl.js');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'meshfl-shard-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Spawned {
  readonly child: ChildProcess;
  readonly done: Promise<Ran>;
  /** True once the process logged its hub's listen address, false if it exited first. */
  readonly listening: Promise<boolean>;
  /** True once the process logged that its peers start their rounds, false if it exited first. */
  readonly rounds: Promise<boolean>;
}

/** Whole two-shard run; past it the children are killed and the test fails (never hangs). */
const RUN_TIMEOUT_MS = 150_000;
/** The bad-flags processes exit before any model or network work. */
const FLAGS_TIMEOUT_MS = 60_000;
/** Attempts at a listen port, in case another process takes the one we picked meanwhile. */
const PORT_ATTEMPTS = 5;

/** Runs meshfl; `signal` kills it (SIGKILL) and makes `done` reject. */
function start(args: string[], signal: AbortSignal): Spawned {
  const child = spawn(process.execPath, [BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    signal,
    killSignal: 'SIGKILL',
  });
  let heard: (up: boolean) => void = () => {};
  const listening = new Promise<boolean>((resolve) => {
    heard = resolve;
  });
  let started: (up: boolean) => void = () => {};
  const rounds = new Promise<boolean>((resolve) => {
    started = resolve;
  });
  const done = new Promise<Ran>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => {
      stdout += d;
      if (/hub listening on/.test(stdout)) heard(true);
      if (/starting rounds/.test(stdout)) started(true);
    });
    child.stderr?.on('data', (d) => {
      stderr += d;
    });
    child.on('error', (err) => {
      heard(false);
      started(false);
      reject(err);
    });
    child.on('close', (code) => {
      heard(false);
      started(false);
      resolve({ code, stdout, stderr });
    });
  });
  done.catch(() => {}); // awaited by the test; this only keeps an early kill from going unhandled
  return { child, done, listening, rounds };
}

/** A TCP port free right now on 127.0.0.1 (the OS picks it; we release it at once). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts a shard on a free port, trying another port if that one was taken between
 * `freePort` and the child's listen (the child then exits saying EADDRINUSE).
 */
async function startOnFreePort(args: (port: number) => string[], signal: AbortSignal): Promise<[Spawned, number]> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const spawned = start(args(port), signal);
    if (await spawned.listening) return [spawned, port];
    const r = await spawned.done;
    if (attempt >= PORT_ATTEMPTS || !/EADDRINUSE/.test(r.stderr))
      assert.fail(`shard on port ${port} exited before listening (code ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

const SCENARIO = {
  name: 'test-shards',
  dataset: 'mnist',
  model: { kind: 'mlp', hidden: [16] },
  peers: 6,
  partition: { kind: 'iid' },
  samplesPerPeer: 100,
  testSubset: 200,
  byzantine: { count: 1, attack: 'sign-flip', options: { mode: 'model' } },
  strategies: ['mean'],
  rounds: 2,
  localSteps: 5,
  codec: 'int8',
  transport: 'libp2p-tcp',
  // Every peer waits for all its neighbours' updates each round (no deadline closes a round
  // within the test), so every merge includes the other shard's peers: all-to-all, over
  // the topic (with D neighbours a peer would wait for the other shard's finished peers).
  // minMs too: the deadline adapts to round 0's arrival delays, and on a busy machine
  // round 1's arrivals from the other process came later than 1.5x those.
  topology: 'full',
  neighbours: 'all',
  minFreshUpdates: 5,
  deadline: { initialMs: 600_000, minMs: 600_000, maxMs: 600_000 },
  seed: 3,
};

test('shards cover every peer exactly once, in contiguous blocks', () => {
  for (const peers of [2, 5, 6, 7, 30, 101])
    for (let count = 1; count <= Math.min(peers, 7); count++) {
      const all = Array.from({ length: count }, (_, index) => shardPeers(peers, { index, count })).flat();
      assert.deepEqual(
        all,
        Array.from({ length: peers }, (_, p) => p),
      );
      for (const p of all) assert.ok(shardPeers(peers, { index: shardOfPeer(peers, count, p), count }).includes(p));
    }
});

test('two shard processes on loopback run one scenario together', { timeout: RUN_TIMEOUT_MS + 30_000 }, async (t) => {
  const file = path.join(tmp, 'scenario.json');
  writeFileSync(file, JSON.stringify(SCENARIO));
  const out = [path.join(tmp, 'shard0'), path.join(tmp, 'shard1')];
  const common = ['simulate', '--scenario', file];
  // Kills both children when the run takes too long or the test ends early (so `node --test` always exits).
  const kill = new AbortController();
  const signal = AbortSignal.any([AbortSignal.timeout(RUN_TIMEOUT_MS), kill.signal]);
  t.after(() => kill.abort());
  const [s0, port0] = await startOnFreePort(
    (port) => [...common, '--out', out[0], '--shard', '0/2', '--listen', `/ip4/127.0.0.1/tcp/${port}`],
    signal,
  );
  const [s1] = await startOnFreePort(
    (port) => [
      ...common,
      '--out',
      out[1],
      '--shard',
      '1/2',
      '--listen',
      `/ip4/127.0.0.1/tcp/${port}`,
      '--bootstrap',
      `/ip4/127.0.0.1/tcp/${port0}`,
    ],
    signal,
  );
  const [r0, r1] = await Promise.all([s0.done, s1.done]);
  assert.equal(r0.code, 0, `shard 0:\n${r0.stdout}\n${r0.stderr}`);
  assert.equal(r1.code, 0, `shard 1:\n${r1.stdout}\n${r1.stderr}`);
  assert.match(r1.stdout, /shard 0\/2 found at \/ip4\/127\.0\.0\.1\/tcp\//);

  const shards = [0, 1].map((i): ShardFile => JSON.parse(readFileSync(path.join(out[i], shardFileName(i, 2)), 'utf8')));
  assert.deepEqual(
    shards.map((s) => s.shard.peers),
    [
      [0, 1, 2],
      [3, 4, 5],
    ],
  );
  const results: ResultsFile = JSON.parse(readFileSync(path.join(out[0], 'results.json'), 'utf8'));
  const attackers = results.environment.attackers as number[];
  const honest = [0, 1, 2, 3, 4, 5].filter((p) => !attackers.includes(p));
  assert.equal(results.interrupted, false);
  assert.deepEqual(Object.keys(results.strategies), ['mean']);
  const mean = results.strategies.mean;
  assert.ok(mean);
  assert.equal(mean.rounds.length, SCENARIO.rounds);
  for (const row of mean.rounds) {
    assert.equal(row.peers, honest.length, `round ${row.round}: every honest peer of both shards reported`);
    assert.ok(row.honestAccuracy, `round ${row.round} evaluated`);
  }
  assert.equal((results.environment.shards as unknown[]).length, 2);

  // Every honest peer's rounds are in its shard's file, and peers merged the other shard's models.
  for (const [i, s] of shards.entries()) {
    const run = s.strategies.mean;
    assert.ok(run);
    for (const p of honest.filter((q) => s.shard.peers.includes(q)))
      assert.deepEqual(
        run.records
          .filter((r) => r.peer === p)
          .map((r) => r.round)
          .sort(),
        [0, 1],
        `shard ${i}: peer ${p} recorded both rounds`,
      );
    // Every round waited for all neighbours (full topology, minFreshUpdates = peers - 1), so
    // every honest merge used models of the other shard's peers.
    for (const r of run.records.filter((x) => honest.includes(x.peer))) {
      assert.equal(r.closedBy, 'enough-updates', `shard ${i}: peer ${r.peer} round ${r.round}`);
      const remote = r.mergedFrom.filter((q) => q >= 0 && !s.shard.peers.includes(q));
      assert.ok(remote.length > 0, `shard ${i}: peer ${r.peer} round ${r.round} merged ${r.mergedFrom}`);
    }
  }

  // The same report from the two shard files on disk.
  const combinedDir = path.join(tmp, 'combined');
  const c = await start(['simulate', '--combine', `${out[0]},${out[1]}`, '--out', combinedDir], signal).done;
  assert.equal(c.code, 0, c.stderr);
  const combined: ResultsFile = JSON.parse(readFileSync(path.join(combinedDir, 'results.json'), 'utf8'));
  assert.deepEqual(combined.strategies, results.strategies);
});

test(
  'Ctrl-C on one shard stops both, each exiting 130 with an interrupted shard file',
  { timeout: RUN_TIMEOUT_MS + 30_000 },
  async (t) => {
    // Many rounds, so the interrupt lands while peers are still running them.
    const file = path.join(tmp, 'interrupt.json');
    writeFileSync(file, JSON.stringify({ ...SCENARIO, rounds: 500 }));
    const out = [path.join(tmp, 'int0'), path.join(tmp, 'int1')];
    const kill = new AbortController();
    const signal = AbortSignal.any([AbortSignal.timeout(RUN_TIMEOUT_MS), kill.signal]);
    t.after(() => kill.abort());
    const args = (i: number, port: number): string[] => [
      'simulate',
      '--scenario',
      file,
      '--out',
      out[i],
      '--shard',
      `${i}/2`,
      '--listen',
      `/ip4/127.0.0.1/tcp/${port}`,
    ];
    const [s0, port0] = await startOnFreePort((port) => args(0, port), signal);
    const [s1] = await startOnFreePort(
      (port) => [...args(1, port), '--bootstrap', `/ip4/127.0.0.1/tcp/${port0}`],
      signal,
    );
    assert.ok(await s1.rounds, 'shard 1 started its rounds');
    s1.child.kill('SIGINT');
    const [r0, r1] = await Promise.all([s0.done, s1.done]);
    assert.equal(r1.code, 130, `shard 1:\n${r1.stdout}\n${r1.stderr}`);
    assert.equal(r0.code, 130, `shard 0:\n${r0.stdout}\n${r0.stderr}`);
    assert.match(r0.stdout, /shard 1 stopped its run/);
    for (const i of [0, 1]) {
      const shardFile: ShardFile = JSON.parse(readFileSync(path.join(out[i], shardFileName(i, 2)), 'utf8'));
      assert.equal(shardFile.interrupted, true, `shard ${i}'s file is marked interrupted`);
    }
  },
);

test('bad shard flags exit 2 with a clear message', { timeout: FLAGS_TIMEOUT_MS + 10_000 }, async (t) => {
  const kill = new AbortController();
  const signal = AbortSignal.any([AbortSignal.timeout(FLAGS_TIMEOUT_MS), kill.signal]);
  t.after(() => kill.abort());
  const file = path.join(tmp, 'flags.json');
  writeFileSync(file, JSON.stringify(SCENARIO));
  const base = ['simulate', '--scenario', file, '--out', path.join(tmp, 'never')];
  const cases: Array<[string[], RegExp]> = [
    [['--shard', '2/2', '--listen', '/ip4/127.0.0.1/tcp/40001'], /--shard must be i\/n with integers 0 <= i < n/],
    [['--shard', 'one/2', '--listen', '/ip4/127.0.0.1/tcp/40001'], /--shard must be i\/n/],
    [['--shard', '0/2'], /--shard needs --listen/],
    [
      ['--shard', '0/2', '--listen', '/memory/x'],
      /--listen: "\/memory\/x" is not a multiaddr|--listen must be a TCP address/,
    ],
    [
      ['--shard', '1/2', '--listen', '/ip4/127.0.0.1/tcp/40002', '--bootstrap', '/ip4/127.0.0.1/udp/40001'],
      /--bootstrap: "\/ip4\/127\.0\.0\.1\/udp\/40001" must be a TCP address/,
    ],
    [
      ['--shard', '0/2', '--listen', '/ip4/0.0.0.0/tcp/40001'],
      /--listen: 0\.0\.0\.0 is not an address the other shards can reach/,
    ],
    [['--shard', '0/2', '--listen', '/ip6/::/tcp/40001'], /--listen: :: is not an address the other shards can reach/],
    [['--shard', '0/2', '--listen', '/ip4/127.0.0.1/tcp/0'], /--listen: the port must be a fixed port/],
    [['--listen', '/ip4/127.0.0.1/tcp/40001'], /--listen and --bootstrap go with --shard/],
    [['--shard', '0/7', '--listen', '/ip4/127.0.0.1/tcp/40001'], /more shards than the 6 peers/],
  ];
  // Refused before any model or network work starts, so these are quick; run them together.
  const ran = await Promise.all(cases.map(([flags]) => start([...base, ...flags], signal).done));
  for (const [i, [flags, message]] of cases.entries()) {
    const r = ran[i];
    assert.equal(r.code, 2, `${flags.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, flags.join(' '));
  }
});
