/**
 * The daemon's pieces in-process: config validation and overrides, the data store
 * (identity, checkpoints, corruption, pruning), safe static paths, readiness, HTTP and
 * logs (the metrics themselves: metrics.test.ts).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import { type DaemonConfig, parseDaemonConfig } from '../../node/daemon/config.ts';
import { ConfigError } from '../../node/daemon/config-error.ts';
import { applyOverrides, readConfigFile } from '../../node/daemon/config-sources.ts';
import { PeerPresence } from '../../node/daemon/health.ts';
import { startHttpServer } from '../../node/daemon/http.ts';
import { createLogger } from '../../node/daemon/logger.ts';
import { checkDataDir, checkDataFiles } from '../../node/daemon/preflight.ts';
import { RejectLog } from '../../node/daemon/reject-log.ts';
import { readStatic } from '../../node/daemon/static-files.ts';
import {
  checkDataDirPath,
  DataStore,
  KNOWN_PEERS_KEEP,
  lockRecord,
  QUARANTINE_KEEP,
  StoreError,
} from '../../node/daemon/store.ts';
import { DEFAULT_THREADS } from '../../node/data-parallel/threads.ts';
import { layer } from '../../src/model/weights.ts';
import { DEFAULT_TASK, encodeTaskSpec, parseTaskSpec, type TaskSpec, taskSpecRecord } from '../../src/peer/task.ts';
import { tempDir } from './harness.ts';

const tmp = tempDir('meshfl-daemon-units-');
const PEER = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA';
after(() => tmp.remove());

/** The task a config defines (named data sets only: custom data completes it at start). */
function taskOf(c: DaemonConfig): TaskSpec {
  assert.equal(c.task.kind, 'config');
  return parseTaskSpec(c.task.kind === 'config' ? c.task.input : {});
}

function configError(raw: unknown, env: Record<string, string> = {}, flags: Record<string, unknown> = {}): string {
  try {
    const { raw: merged, sources } = applyOverrides(raw, env, flags);
    parseDaemonConfig(merged, sources);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `a ConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail(`no error for ${JSON.stringify(raw)}`);
}

test('config: defaults, and every error names its key', () => {
  const c = parseDaemonConfig({});
  assert.equal(c.http.host, '127.0.0.1');
  assert.equal(c.http.port, 9464);
  assert.equal(c.checkpoints.keep, 3);
  assert.equal(c.mdns, false);
  assert.deepEqual(taskSpecRecord(taskOf(c)), taskSpecRecord(DEFAULT_TASK), "the default config's task is the core's");
  assert.equal(c.round.localEpochs, undefined);
  assert.equal(c.round.neighbours, 8, 'D = 8 neighbours by default');
  assert.equal(parseDaemonConfig({ round: { neighbours: 'all' } }).round.neighbours, 'all');
  assert.equal(c.round.gossipSteps, 2, 'two gossip steps with D neighbours');
  assert.equal(parseDaemonConfig({ round: { neighbours: 'all' } }).round.gossipSteps, 1);
  assert.equal(parseDaemonConfig({ round: { neighbours: 'all', gossipSteps: 3 } }).round.gossipSteps, 3);
  assert.equal(c.round.shunAfter, 2, 'shunning with D neighbours');
  assert.equal(parseDaemonConfig({ round: { neighbours: 'all' } }).round.shunAfter, 0);
  assert.equal(parseDaemonConfig({ round: { shunAfter: 0 } }).round.shunAfter, 0);
  const cases: Array<[unknown, RegExp]> = [
    [{ round: { neighbours: 0 } }, /^round\.neighbours: must be an integer in \[1, 10000\]/],
    [{ round: { neighbours: 'some' } }, /^round\.neighbours: must be "all" or an integer/],
    [{ round: { gossipSteps: 0 } }, /^round\.gossipSteps: must be an integer in \[1, 8\]/],
    [{ round: { gossipSteps: 9 } }, /^round\.gossipSteps: must be an integer in \[1, 8\]/],
    [{ round: { shunAfter: -1 } }, /^round\.shunAfter: must be an integer in \[0, 64\]/],
    [{ dataDri: 'x' }, /^dataDri: unknown key/],
    [{ round: { localSteps: 0 } }, /^round\.localSteps: must be an integer in \[1,/],
    [{ round: { localSteps: 2, localEpochs: 1 } }, /^round\.localEpochs: set either/],
    [{ round: { deadline: { initialMs: 10, minMs: 50 } } }, /^round\.deadline\.initialMs: must be in \[minMs, maxMs\]/],
    [{ dataset: { kind: 'imagenet' } }, /^dataset\.kind: must be one of mnist/],
    [{ dataset: { kind: 'idx' } }, /^dataset\.dir: missing \(required\)/],
    [{ dataset: { kind: 'mnist', file: 'x' } }, /^dataset\.file: unknown key/],
    [{ dataset: { shard: { index: 2, of: 2 } } }, /^dataset\.shard\.index: must be less than/],
    [{ dataset: { shard: { partition: { kind: 'dirichlet' } } } }, /^dataset\.shard\.partition: .*alpha/],
    [{ strategy: 'avarage' }, /^strategy: unknown merge strategy/],
    [{ strategy: 'oracle' }, /^strategy: "oracle" needs ground truth .* simulations only/],
    [{ strategy: { name: 'oracle', options: {} } }, /^strategy: "oracle" needs ground truth/],
    [{ strategy: { name: 'trimmed-mean', options: { trim: 7 } } }, /^strategy: /],
    [{ codec: 'int9' }, /^codec: /],
    [{ model: { kind: 'rnn' } }, /^model\.kind: must be "mlp", "cnn" or "tfjs", got "rnn"/],
    [{ model: { kind: 'mlp', hidden: [0] } }, /^model\.hidden: must be an array of positive integers/],
    [{ seed: -1 }, /^seed: must be an integer in \[0,/],
    [{ trainable: 'head' }, /^backbone: required when trainable is "head"/],
    [{ taskId: 'a b' }, /^taskId: must be/],
    [{ http: { address: 'localhost' } }, /^http\.address: must be host:port/],
    [{ http: { address: '0.0.0.0:80' } }, /^http\.token: required when http\.address binds a non-loopback/],
    [{ http: { address: '[::]:80' } }, /^http\.token: required/],
    [{ listen: [] }, /^listen: must name at least one address/],
    [{ listen: ['/ip4/127.0.0.1/tcp/abc'] }, /^listen: "\/ip4\/127\.0\.0\.1\/tcp\/abc" is not a multiaddr/],
    [{ listen: ['/ip4/999.0.0.1/tcp/1'] }, /^listen: .* is not a multiaddr \(invalid IPv4 address/],
    [{ listen: ['/ip4/127.0.0.1/udp/1/quic-v1'] }, /^listen: .*cannot listen there/],
    [{ listen: ['/dns4/example.org/tcp/1'] }, /^listen: .*cannot listen there/],
    [{ listen: ['/ip4/127.0.0.1/udp/1/webrtc-direct'] }, /^listen: .*only with relay: true/],
    [{ bootstrap: ['/ip4/1.2.3.4/tcp/1'] }, /^bootstrap: .* has no \/p2p\/<peer id>/],
    [{ bootstrap: ['/ip4/1.2.3.4/tcp/1/p2p/xyz'] }, /^bootstrap: .*invalid peer id/],
    [{ bootstrap: [`/ip4/1.2.3.4/tcp/99999/p2p/${PEER}`] }, /^bootstrap: .*invalid port/],
    [{ announce: ['/dns4/example.org/tcp/443/wss/foo'] }, /^announce: .*unknown protocol "foo"/],
    [{ announce: ['wss://x'] }, /^announce: .*not a multiaddr/],
    [{ mdns: 'maybe' }, /^mdns: must be true\/false/],
    [{ resources: { backend: 'gpu' } }, /^resources\.backend: must be one of wasm, cpu, auto/],
    [{ resources: { threads: 0 } }, /^resources\.threads: /],
    [{ resources: { threads: 65 } }, /^resources\.threads: /],
    [{ resources: { threads: 1.5 } }, /^resources\.threads: /],
    [{ resources: { threads: 'all' } }, /^resources\.threads: /],
    [{ checkpoints: { keep: 0 } }, /^checkpoints\.keep: /],
    [[1, 2], /^config: the file must hold an object/],
  ];
  for (const [raw, expected] of cases) assert.match(configError(raw), expected, JSON.stringify(raw));
  // A token allows a public bind; loopback needs none.
  assert.equal(parseDaemonConfig({ http: { address: '0.0.0.0:8080', token: 's3cret' } }).http.token, 's3cret');
  assert.equal(parseDaemonConfig({ http: { address: '127.0.0.2:1' } }).http.port, 1);
  const relayed = parseDaemonConfig({ relay: true, listen: ['/ip6/::1/tcp/0/ws', '/ip4/0.0.0.0/udp/0/webrtc-direct'] });
  assert.equal(relayed.listen?.length, 2);
});

test('config: resources.threads defaults to the cores (at most 4); --threads and MESHFL_THREADS set it', () => {
  assert.equal(parseDaemonConfig({}).resources.threads, DEFAULT_THREADS);
  assert.equal(parseDaemonConfig({ resources: { threads: 1 } }).resources.threads, 1);
  assert.equal(parseDaemonConfig(applyOverrides({}, {}, { threads: '3' }).raw).resources.threads, 3);
  assert.equal(parseDaemonConfig(applyOverrides({}, { MESHFL_THREADS: '2' }, {}).raw).resources.threads, 2);
  assert.throws(() => parseDaemonConfig(applyOverrides({}, {}, { threads: '0' }).raw), /resources\.threads/);
});

test('config: the task keys form a TaskSpec; custom data leaves its shape to the loaded data', () => {
  const c = parseDaemonConfig({
    taskId: 'lab',
    model: { kind: 'mlp', hidden: [64] },
    seed: 4,
    codec: 'topk:0.1+int8',
    strategy: { name: 'trimmed-mean', options: { trim: 0.2 } },
    round: { localSteps: 9, keyframeInterval: 4 },
    optimizer: { learningRate: 0.01, momentum: 0.5 },
    resources: { batchSize: 8 },
    dataset: { kind: 'fashion-mnist' },
  });
  assert.equal(
    encodeTaskSpec(taskOf(c)),
    '{"taskId":"lab","model":{"kind":"mlp","hidden":[64]},"modelSeed":4,"codec":"topk:0.1+int8",' +
      '"strategy":{"name":"trimmed-mean","options":{"trim":0.2}},"batchSize":8,"learningRate":0.01,' +
      '"localSteps":9,"keyframeInterval":4,"dataset":"fashion-mnist","inputShape":[28,28,1],"classes":10}',
  );
  assert.equal(c.optimizer.momentum, 0.5, 'momentum stays a device setting');
  const csv = parseDaemonConfig({ model: 'cnn', dataset: { kind: 'csv', file: 'x.csv' } });
  assert.equal(csv.task.kind === 'config' ? csv.task.input.dataset : undefined, 'custom');
});

test('config: join without a model section takes the task from the peer, keeping device settings', () => {
  const address = `/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`;
  const joined = parseDaemonConfig({ join: address, resources: { batchSize: 8 }, round: { localSteps: 3 } });
  assert.deepEqual(joined.task, { kind: 'join', address, choices: { batchSize: 8, localSteps: 3 } });
  assert.deepEqual(joined.bootstrap, [address], 'the joined peer is dialed like a bootstrap peer');
  assert.equal(joined.dataset.kind, 'joined-task', "no dataset.kind: the joined task's data set");
  assert.equal(parseDaemonConfig({ join: address, dataset: { kind: 'mnist' } }).dataset.kind, 'mnist');
  const flag = parseDaemonConfig(applyOverrides({}, {}, { join: address }).raw);
  assert.equal(flag.task.kind, 'join', 'from --join');
  // With a model section this config defines the task and only dials the peer.
  const own = parseDaemonConfig({ join: address, model: 'mlp' });
  assert.equal(own.task.kind, 'config');
  assert.deepEqual(own.bootstrap, [address]);
  assert.match(configError({ join: address, taskId: 'x' }), /^taskId: comes from the joined peer/);
  assert.match(configError({ join: address, codec: 'fp16' }), /^codec: comes from the joined peer/);
  assert.match(configError({ join: address, strategy: 'oracle' }), /^strategy: "oracle" needs ground truth/);
  assert.match(configError({ join: '/ip4/1.2.3.4/tcp/1' }), /^join: .* has no \/p2p\/<peer id>/);
  assert.match(configError({}, { MESHFL_JOIN: 'nope' }), /^join \(from MESHFL_JOIN\): /);
});

test('config: validation bounds (defaults, off with 0, errors name the key)', () => {
  assert.deepEqual(parseDaemonConfig({}).validation, {
    valueBound: 1e4,
    normFactor: 10,
    deltaNormFactor: 1000,
    normWarmup: 8,
  });
  assert.match(configError({ validation: { deltaNormFactor: 1 } }), /^validation\.deltaNormFactor: must be above 1/);
  const off = parseDaemonConfig({ validation: { valueBound: 0, normFactor: 0 } }).validation;
  assert.equal(off.valueBound, 0);
  assert.equal(off.normFactor, 0);
  assert.match(
    configError({ validation: { normFactor: 0.5 } }),
    /^validation\.normFactor: must be 0 \(off\) or above 1/,
  );
  assert.match(configError({ validation: { valueBound: -1 } }), /^validation\.valueBound: must be a number/);
  assert.match(configError({ validation: { bound: 1 } }), /^validation\.bound: unknown key/);
});

test('config: environment variables override the file, flags override both, errors name the source', () => {
  const file = {
    taskId: 'from-file',
    http: { address: '127.0.0.1:1000' },
    relay: false,
    bootstrap: [`/ip4/1.2.3.4/tcp/1/p2p/${PEER}`],
  };
  const env = {
    MESHFL_TASK_ID: 'from-env',
    MESHFL_RELAY: 'on',
    MESHFL_BOOTSTRAP: `/ip4/1.1.1.1/tcp/1/p2p/${PEER}, /ip6/::1/tcp/2/p2p/${PEER}`,
    MESHFL_HTTP: '127.0.0.1:2000',
  };
  const { raw, sources } = applyOverrides(file, env, { http: '127.0.0.1:3000' });
  const c = parseDaemonConfig(raw, sources);
  assert.equal(taskOf(c).taskId, 'from-env');
  assert.equal(c.relay, true);
  assert.deepEqual(c.bootstrap, [`/ip4/1.1.1.1/tcp/1/p2p/${PEER}`, `/ip6/::1/tcp/2/p2p/${PEER}`]);
  assert.equal(c.http.port, 3000);
  assert.equal(file.taskId, 'from-file', 'the file value is not mutated');
  assert.match(configError({}, { MESHFL_HTTP: 'x' }), /^http\.address \(from MESHFL_HTTP\): must be host:port/);
  assert.match(configError({}, { MESHFL_BATCH_SIZE: 'big' }), /^resources\.batchSize \(from MESHFL_BATCH_SIZE\)/);
  assert.match(configError({}, {}, { relay: 'perhaps' }), /^relay \(from --relay\): must be true\/false/);
  assert.match(
    configError({}, { MESHFL_HTTP: '0.0.0.0:1' }),
    /^http\.token: required .*MESHFL_HTTP_TOKEN/,
    'the token error tells how to set it',
  );
});

test('config: the shard index from --shard-index over MESHFL_SHARD_INDEX over the file, checked', () => {
  const file = { dataset: { kind: 'synthetic', shard: { index: 0, of: 4 } } };
  const index = (env: Record<string, string>, flags: Record<string, unknown> = {}): number => {
    const { raw, sources } = applyOverrides(file, env, flags);
    return parseDaemonConfig(raw, sources).dataset.shard.index;
  };
  assert.equal(index({}), 0);
  assert.equal(index({ MESHFL_SHARD_INDEX: '2' }), 2);
  assert.equal(index({ MESHFL_SHARD_INDEX: '2' }, { 'shard-index': '3' }), 3);
  assert.equal(index({ MESHFL_SHARD_INDEX: '' }), 0, 'an empty variable is unset');
  assert.equal(file.dataset.shard.index, 0, 'the file value is not mutated');
  // Without a dataset section the index goes into the defaults (of 1): only 0 fits.
  assert.equal(parseDaemonConfig(applyOverrides({}, {}, { 'shard-index': '0' }).raw).dataset.shard.index, 0);
  assert.match(
    configError(file, {}, { 'shard-index': '4' }),
    /^dataset\.shard\.index \(from --shard-index\): must be less than shard\.of \(4\)$/,
  );
  assert.match(
    configError(file, { MESHFL_SHARD_INDEX: 'one' }),
    /^dataset\.shard\.index \(from MESHFL_SHARD_INDEX\): must be an integer in \[0, \d+\], got "one"$/,
  );
  for (const bad of ['-1', '1.5', '']) {
    assert.match(configError(file, {}, { 'shard-index': bad }), /^dataset\.shard\.index \(from --shard-index\): /, bad);
  }
});

test('config files: JSON and YAML, with errors naming the file', () => {
  const yaml = path.join(tmp.dir, 'c.yaml');
  writeFileSync(yaml, 'taskId: y-task\nround:\n  localSteps: 7\nmdns: off\n');
  const c = parseDaemonConfig(readConfigFile(yaml));
  assert.equal(taskOf(c).taskId, 'y-task');
  assert.equal(taskOf(c).localSteps, 7);
  const example = parseDaemonConfig(
    readConfigFile(path.resolve(import.meta.dirname, '../../node/daemon/example-config.yaml')),
  );
  assert.equal(taskOf(example).taskId, 'mnist-lab', 'the shipped example config is valid');
  const bad = path.join(tmp.dir, 'bad.json');
  writeFileSync(bad, '{"taskId": }');
  assert.throws(
    () => readConfigFile(bad),
    (e: Error) => e instanceof ConfigError && /bad\.json: not valid JSON/.test(e.message),
  );
  assert.throws(
    () => readConfigFile(path.join(tmp.dir, 'none.json')),
    (e: Error) => e instanceof ConfigError && /none\.json: cannot read config file \(ENOENT\)/.test(e.message),
  );
});

test('store: a private key created once with mode 0600, checkpoints pruned, corrupt ones skipped', async () => {
  const dir = path.join(tmp.dir, 'store');
  const store = new DataStore(dir, 3);
  const first = await store.identity();
  assert.equal(first.created, true);
  assert.equal(statSync(path.join(dir, 'peer.key')).mode & 0o777, 0o600);
  const again = await new DataStore(dir, 3).identity();
  assert.equal(again.created, false);
  assert.ok(again.key.equals(first.key), 'the same identity is loaded');

  const model = {
    spec: { kind: 'mlp' as const, hidden: [2] },
    inputShape: [3],
    numClasses: 2,
    weights: [layer('dense0/kernel', [3, 2], [1, 2, 3, 4, 5, 6])],
  };
  const meta = (round: number) => ({ round, seq: round * 2, peerId: 'me', taskId: 't', savedAt: 'now' });
  for (let r = 1; r <= 5; r++) store.saveCheckpoint(model, meta(r));
  assert.deepEqual(
    store.checkpointFiles().map((f) => path.basename(f)),
    ['round-000000005.mflm', 'round-000000004.mflm', 'round-000000003.mflm'],
  );
  // Corrupt the newest: it is reported and the next one is used.
  const newest = store.checkpointFiles()[0];
  const bytes = readFileSync(newest);
  bytes[bytes.length - 10] = bytes[bytes.length - 10] ^ 0xff;
  writeFileSync(newest, bytes);
  const { checkpoint, skipped } = store.newestCheckpoint('me', 't');
  assert.equal(checkpoint?.meta.round, 4);
  assert.equal(checkpoint?.meta.seq, 8);
  assert.equal(skipped.length, 1);
  assert.match(skipped[0]?.reason ?? '', /checksum mismatch/);
  assert.equal(store.newestCheckpoint('someone-else', 't').checkpoint, undefined, 'another peer id is not resumed');

  writeFileSync(path.join(dir, 'peer.key'), 'garbage');
  await assert.rejects(
    new DataStore(dir, 3).identity(),
    (e: Error) => e instanceof StoreError && /peer\.key: not a valid/.test(e.message),
  );
  const blocker = path.join(tmp.dir, 'blocker');
  writeFileSync(blocker, '');
  assert.throws(
    () => new DataStore(path.join(blocker, 'x'), 3),
    (e: Error) => e instanceof StoreError && /ENOTDIR/.test(e.message),
  );
});

test('store: lock() keeps a second daemon out while the holder lives, and takes over a stale lock', () => {
  const dir = path.join(tmp.dir, 'locked');
  const release = new DataStore(dir, 3).lock();
  const record = JSON.parse(readFileSync(path.join(dir, 'daemon.lock'), 'utf8'));
  assert.equal(record.pid, process.pid);
  assert.match(record.bootId, /^[0-9a-f-]{36}$/, 'Linux: the boot id is recorded');
  assert.match(record.startTime, /^\d+$/, 'Linux: the process start time is recorded');
  release();
  assert.equal(existsSync(path.join(dir, 'daemon.lock')), false, 'release removes the lock');

  // A lock held by another live process (a child that stays up until we end it).
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  try {
    writeFileSync(path.join(dir, 'daemon.lock'), `${child.pid}\n`);
    assert.throws(
      () => new DataStore(dir, 3).lock(),
      (e: Error) => e instanceof StoreError && e.message.includes(`is in use by process ${child.pid}`),
    );
    // The same live pid with its recorded boot id and start time: still in use.
    const live = lockRecord(child.pid as number);
    writeFileSync(path.join(dir, 'daemon.lock'), JSON.stringify(live));
    assert.throws(() => new DataStore(dir, 3).lock(), /is in use by process/);
    // The pid was reused (another start time), or the machine rebooted (another boot id): stale.
    for (const reused of [
      { ...live, startTime: String(Number(live.startTime) + 1) },
      { ...live, bootId: '00000000-0000-0000-0000-000000000000' },
    ]) {
      writeFileSync(path.join(dir, 'daemon.lock'), JSON.stringify(reused));
      const taken = new DataStore(dir, 3).lock();
      assert.equal(JSON.parse(readFileSync(path.join(dir, 'daemon.lock'), 'utf8')).pid, process.pid);
      taken();
    }
  } finally {
    child.kill('SIGKILL');
  }
  // A dead process's lock, and an unreadable one, are taken over; leftovers of writes go.
  const dead = spawnSync(process.execPath, ['-e', '0']).pid;
  for (const content of [`${dead}\n`, 'garbage']) {
    writeFileSync(path.join(dir, 'daemon.lock'), content);
    writeFileSync(path.join(dir, 'peer.key.tmp-123'), 'half');
    const again = new DataStore(dir, 3).lock();
    assert.equal(JSON.parse(readFileSync(path.join(dir, 'daemon.lock'), 'utf8')).pid, process.pid);
    assert.equal(existsSync(path.join(dir, 'peer.key.tmp-123')), false, 'interrupted writes removed');
    again();
  }
});

test('store: the seq high-water mark belongs to its peer id; unreadable marks are reported, not fatal', () => {
  const dir = path.join(tmp.dir, 'seq');
  const store = new DataStore(dir, 3);
  assert.deepEqual(store.seqMark('me'), { seq: 0 });
  store.saveSeqMark('me', 41);
  assert.deepEqual(store.seqMark('me'), { seq: 41 });
  assert.deepEqual(store.seqMark('someone-else'), { seq: 0 }, 'a new identity starts at 0');
  writeFileSync(path.join(dir, 'peer.seq'), '{"peerId": "me", "seq": -3}');
  const bad = store.seqMark('me');
  assert.equal(bad.seq, 0);
  assert.match(bad.problem ?? '', /peer\.seq: unreadable/);
});

test('store: known peers round-trip through peers.json, newest first, bounded; junk is reported', () => {
  const dir = path.join(tmp.dir, 'peers');
  const store = new DataStore(dir, 1);
  assert.deepEqual(store.knownPeers(), { peers: [] });
  const many = Array.from({ length: KNOWN_PEERS_KEEP + 5 }, (_, i) => ({
    id: `p${i}`,
    addrs: [`/ip4/127.0.0.1/tcp/${1000 + i}/p2p/p${i}`],
    lastSeen: new Date(1_000_000 + i * 1000).toISOString(),
  }));
  store.saveKnownPeers(many);
  const back = store.knownPeers().peers;
  assert.equal(back.length, KNOWN_PEERS_KEEP);
  assert.equal(back[0]?.id, `p${KNOWN_PEERS_KEEP + 4}`, 'most recently seen first');
  writeFileSync(path.join(dir, 'peers.json'), '{"peers": 3}');
  assert.match(store.knownPeers().problem ?? '', /peers\.json: unreadable/);
  assert.deepEqual(parseDaemonConfig({}).mesh, { minPeers: 3, redialMaxBackoffMs: 10_000 });
  assert.match(configError({ mesh: { minPeers: -1 } }), /^mesh\.minPeers: /);
});

test('store: unusable checkpoints are quarantined, at most QUARANTINE_KEEP kept', () => {
  const dir = path.join(tmp.dir, 'quarantine');
  const store = new DataStore(dir, 2);
  const model = {
    spec: { kind: 'mlp' as const, hidden: [2] },
    inputShape: [3],
    numClasses: 2,
    weights: [layer('dense0/kernel', [3, 2], [1, 2, 3, 4, 5, 6])],
  };
  for (let r = 1; r <= 2; r++)
    store.saveCheckpoint(model, { round: r, seq: r, peerId: 'me', taskId: 't', savedAt: '' });
  // Higher rounds that are garbage, and one that does not fit: all skipped, the others remain.
  for (const r of [7, 8, 9, 10, 11])
    writeFileSync(path.join(store.checkpointDir, `round-0000000${String(r).padStart(2, '0')}.mflm`), 'junk');
  const found = store.newestCheckpoint('me', 't', (m) => (m.weights.length === 1 ? undefined : 'other model'));
  assert.equal(found.checkpoint?.meta.round, 2);
  assert.equal(found.skipped.length, 5);
  for (const s of found.skipped) store.quarantine(s.file);
  assert.equal(store.quarantined().length, QUARANTINE_KEEP);
  assert.deepEqual(
    store.checkpointFiles().map((f) => path.basename(f)),
    ['round-000000002.mflm', 'round-000000001.mflm'],
  );
  const unfit = store.newestCheckpoint('me', 't', () => 'does not fit');
  assert.equal(unfit.checkpoint, undefined);
  assert.match(unfit.skipped[0]?.reason ?? '', /does not fit/);
});

test('store and preflight: pseudo file systems, missing files and unwritable paths are operator errors', () => {
  for (const bad of ['/proc/meshfl', '/proc', '/sys/x/y']) {
    assert.throws(
      () => checkDataDirPath(bad),
      (e: Error) => e instanceof StoreError && /pseudo file system/.test(e.message),
    );
    assert.throws(() => new DataStore(bad, 1), StoreError, 'refused before mkdirSync');
  }
  checkDataDirPath(path.join(tmp.dir, 'fine', 'deeper'));
  checkDataDir(path.join(tmp.dir, 'fine', 'deeper'));
  const blocker = path.join(tmp.dir, 'preflight-file');
  writeFileSync(blocker, '');
  assert.throws(() => checkDataDir(path.join(blocker, 'd')), /not a writable directory \(ENOTDIR\)/);
  const base = parseDaemonConfig({});
  assert.throws(
    () => checkDataFiles({ ...base, dataset: { ...base.dataset, kind: 'idx', dir: path.join(tmp.dir, 'nope') } }),
    /^DataError: dataset \(idx\): .*nope: none of train-images-idx3-ubyte/,
  );
  assert.throws(
    () =>
      checkDataFiles({
        ...base,
        dataset: { ...base.dataset, kind: 'csv', file: path.join(tmp.dir, 'x.csv'), testFile: undefined },
      }),
    /dataset \(csv\): .*x\.csv: cannot read \(ENOENT\)/,
  );
  assert.throws(
    () => checkDataFiles({ ...base, backbone: path.join(tmp.dir, 'b.mflm') }),
    /^StoreError: backbone: .*b\.mflm/,
  );
  checkDataFiles(base);
});

test('static files: content types, index.html, and no way out of the root', async () => {
  const root = path.join(tmp.dir, 'www');
  mkdirSync(path.join(root, 'assets'), { recursive: true });
  writeFileSync(path.join(root, 'index.html'), '<p>hi</p>');
  writeFileSync(path.join(root, 'assets', 'app.js'), 'x');
  writeFileSync(path.join(tmp.dir, 'secret.txt'), 'secret');
  symlinkSync(path.join(tmp.dir, 'secret.txt'), path.join(root, 'link.txt'));
  const index = await readStatic(root, '/');
  assert.equal(index.kind === 'file' && index.contentType, 'text/html; charset=utf-8');
  const js = await readStatic(root, '/assets/app.js');
  assert.equal(js.kind === 'file' && js.contentType, 'text/javascript; charset=utf-8');
  for (const bad of [
    '/../secret.txt',
    '/%2e%2e/secret.txt',
    '/assets/..%2f..%2fsecret.txt',
    '/link.txt',
    '/a%00b',
    '/%zz',
  ]) {
    const r = await readStatic(root, bad);
    assert.notEqual(r.kind, 'file', `${bad} must not be served`);
  }
  assert.equal((await readStatic(root, '/nope.js')).kind, 'not-found');
});

test('readiness: not ready after the configured time without peers, ready again with one', () => {
  let now = 1000;
  const p = new PeerPresence(5000, () => now);
  assert.equal(p.ready(), true);
  now += 5000;
  assert.equal(p.ready(), false);
  p.observe(1);
  assert.equal(p.ready(), true);
  now += 60_000;
  assert.equal(p.ready(), true);
  p.observe(0);
  now += 4999;
  assert.equal(p.ready(), true);
  now += 1;
  assert.equal(p.ready(), false);
});

test('http: bearer token guards the API, the page and /task are public, and HEAD/405 behave', async () => {
  const silent = createLogger({ level: 'error', stream: sink().stream });
  const root = path.join(tmp.dir, 'no-page');
  const server = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    token: 'tok',
    exportOrigins: [],
    staticRoot: root,
    logger: silent,
    handlers: {
      health: () => ({ ready: false, body: { status: 'not-ready' } }),
      metrics: async () => ({
        contentType: 'text/plain; version=0.0.4; charset=utf-8',
        body: '# HELP m h\n# TYPE m gauge\nm 1\n',
      }),
      status: () => ({ peerId: 'me' }),
      task: () => task,
      exportModel: async () => undefined,
    },
  });
  let task: string | undefined;
  try {
    const url = `http://127.0.0.1:${server.port}`;
    const get = (p: string, init: RequestInit = {}) =>
      fetch(`${url}${p}`, { ...init, signal: AbortSignal.timeout(10_000) });
    assert.equal((await get('/metrics')).status, 401);
    assert.equal((await get('/status', { headers: { authorization: 'Bearer nope' } })).status, 401);
    const metrics = await get('/metrics', { headers: { authorization: 'Bearer tok' } });
    assert.equal(metrics.status, 200);
    assert.equal(metrics.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(await metrics.text(), '# HELP m h\n# TYPE m gauge\nm 1\n');
    assert.equal((await get('/health', { headers: { authorization: 'Bearer tok' } })).status, 503);
    // /task is public: no token needed; 503 until the task is known (a joining daemon).
    assert.equal((await get('/task')).status, 503);
    task = encodeTaskSpec(DEFAULT_TASK);
    const served = await get('/task');
    assert.equal(served.status, 200);
    assert.equal(served.headers.get('content-type'), 'application/json');
    const body = await served.text();
    assert.equal(body, task, 'the canonical encoding, byte for byte');
    assert.deepEqual(parseTaskSpec(JSON.parse(body)), DEFAULT_TASK);
    const page = await get('/');
    assert.equal(page.status, 200);
    assert.match(await page.text(), /not built/);
    assert.equal((await get('/x.js')).status, 404);
    assert.equal((await get('/', { method: 'POST' })).status, 405);
  } finally {
    await server.close();
  }
});

test('reject log: the first refusal per peer at once, then one summary per interval; bounded overall', () => {
  const out = sink();
  let now = 0;
  const log = new RejectLog(createLogger({ level: 'info', stream: out.stream }), {
    intervalMs: 1000,
    maxLinesPerInterval: 3,
    now: () => now,
  });
  log.note('a', 'frame', 'bad-frame');
  log.note('a', 'frame', 'bad-frame');
  log.note('a', 'validation', 'non-finite', 'x', 2);
  now = 1000;
  log.note('a', 'frame', 'bad-frame');
  const lines = out
    .text()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  assert.deepEqual(
    [lines[0].msg, lines[0].peer, lines[0].stage, lines[0].reason],
    ['traffic rejected', 'a', 'frame', 'bad-frame'],
  );
  assert.deepEqual(lines[1].suppressed, { 'frame/bad-frame': 1, 'validation/non-finite': 2 });
  // Many fresh peer ids: at most 3 lines per interval.
  now = 5000;
  for (let i = 0; i < 50; i++) log.note(`sybil-${i}`, 'frame', 'bad-frame');
  assert.equal(out.text().trim().split('\n').length, 5);
  assert.equal(log.dropped, 47);
});

test('logs: JSON lines off a terminal, readable lines on one, levels filtered', () => {
  const json = sink();
  const log = createLogger({ level: 'info', stream: json.stream, now: () => new Date(0) });
  log.setContext({ peer: 'p1', round: 3 });
  log.debug('hidden');
  log.info('round done', { accuracy: 0.5, error: new Error('boom') });
  assert.deepEqual(JSON.parse(json.text().trim()), {
    level: 'info',
    time: '1970-01-01T00:00:00.000Z',
    peer: 'p1',
    round: 3,
    msg: 'round done',
    accuracy: 0.5,
    error: 'boom',
  });
  const tty = sink(true);
  const human = createLogger({ level: 'warn', stream: tty.stream, now: () => new Date(0) });
  human.info('hidden');
  human.warn('update rejected', { reason: 'non-finite' });
  assert.equal(tty.text(), '00:00:00.000 WARN  update rejected reason=non-finite\n');
});

function sink(isTTY = false): { stream: NodeJS.WritableStream & { isTTY?: boolean }; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  }) as Writable & { isTTY?: boolean };
  stream.isTTY = isTTY;
  return { stream, text: () => chunks.join('') };
}
