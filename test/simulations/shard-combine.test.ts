/**
 * Shard outputs read from files or other shards: the scenario fingerprint ignores
 * execution-only keys, and records that do not fit their shard are refused with a clear
 * ShardDataError (malformed fields, peers outside the shard's slice, duplicates, overlaps).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseScenario } from '../../simulations/scenario.ts';
import {
  combineShards,
  parseShardFile,
  SHARD_FILE_FORMAT,
  ShardDataError,
  scenarioFingerprint,
} from '../../simulations/shard/combine.ts';

const RAW = {
  name: 'fp',
  dataset: 'mnist',
  model: { kind: 'mlp', hidden: [16] },
  peers: 6,
  partition: { kind: 'iid' },
  strategies: ['mean'],
  rounds: 2,
  transport: 'libp2p-tcp',
  degree: 3,
  seed: 3,
};

test('the fingerprint ignores workers but not what is simulated', () => {
  const base = scenarioFingerprint(parseScenario(RAW));
  assert.equal(scenarioFingerprint(parseScenario({ ...RAW, workers: 4 })), base);
  assert.notEqual(scenarioFingerprint(parseScenario({ ...RAW, seed: 4 })), base);
  assert.notEqual(scenarioFingerprint(parseScenario({ ...RAW, rounds: 3 })), base);
});

const snapshot = { overall: 0.5, loss: 1.2, perClass: [0.5, 0.5], f1: [0.4, 0.6] };

function record(peer: number, round: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    peer,
    round,
    merged: snapshot,
    local: snapshot,
    bytesSent: 10,
    bytesReceived: 20,
    candidates: 2,
    ownShare: 0.5,
    byzantineShare: 0,
    mergedFrom: [peer],
    closedBy: 'enough-updates',
    atMs: 100,
    ...extra,
  };
}

/** Shard `index` of 2 over 6 peers (peers 0-2 and 3-5), one record per peer and round. */
function shardFile(index: number, change: (f: Record<string, unknown>) => void = () => {}): Record<string, unknown> {
  const peers = index === 0 ? [0, 1, 2] : [3, 4, 5];
  const f: Record<string, unknown> = {
    format: SHARD_FILE_FORMAT,
    fingerprint: 'abc',
    scenario: { peers: 6 },
    shard: { index, count: 2, peers },
    environment: {},
    interrupted: false,
    strategies: {
      mean: {
        label: 'mean',
        records: peers.flatMap((p) => [record(p, 0), record(p, 1)]),
        honestPeers: peers,
        interrupted: false,
        elapsedMs: 1,
        setupMs: 1,
        errors: [],
        errorCount: 0,
        rejectedUpdates: 0,
      },
    },
  };
  change(f);
  return f;
}

const mean = (f: Record<string, unknown>): Record<string, unknown> =>
  (f.strategies as Record<string, Record<string, unknown>>).mean;
const records = (f: Record<string, unknown>): Record<string, unknown>[] => mean(f).records as Record<string, unknown>[];

test('well-formed shard files parse and combine', () => {
  const files = [0, 1].map((i) => parseShardFile(shardFile(i), `shard ${i}`));
  const combined = combineShards(files);
  assert.equal(combined.interrupted, false);
  assert.ok(combined.strategies.mean);
  // null for an absent snapshot or share is accepted (as JSON writes undefined fields).
  const withNulls = shardFile(0, (f) => {
    records(f)[0] = record(0, 0, { merged: null, ownShare: null, byzantineShare: null });
  });
  assert.equal(parseShardFile(withNulls, 'x').strategies.mean?.records[0]?.merged, undefined);
});

test('malformed, foreign or duplicate records are refused with a clear error', () => {
  const cases: Array<[string, (f: Record<string, unknown>) => void, RegExp]> = [
    [
      'accuracy outside [0, 1]',
      (f) => {
        records(f)[0] = record(0, 0, { merged: { ...snapshot, overall: 1.5 } });
      },
      /records\[0\]\.merged: expected \{overall/,
    ],
    [
      'local snapshot without perClass',
      (f) => {
        records(f)[1] = record(0, 1, { local: { overall: 0.5, loss: 1 } });
      },
      /records\[1\]\.local/,
    ],
    [
      'ownShare a string',
      (f) => {
        records(f)[0] = record(0, 0, { ownShare: '0.5' });
      },
      /ownShare: expected a finite number or null/,
    ],
    [
      'unknown closedBy',
      (f) => {
        records(f)[0] = record(0, 0, { closedBy: 'never' });
      },
      /closedBy/,
    ],
    [
      'negative bytes',
      (f) => {
        records(f)[0] = record(0, 0, { bytesSent: -1 });
      },
      /bytesSent: expected a finite non-negative number/,
    ],
    [
      'peer of the other shard',
      (f) => {
        records(f)[0] = record(4, 0);
      },
      /peer 4 is not in this shard \(0-2\)/,
    ],
    [
      'same peer and round twice',
      (f) => {
        records(f)[1] = record(0, 0);
      },
      /peer 0's round 0 given twice/,
    ],
    [
      'honest peer outside the slice',
      (f) => {
        mean(f).honestPeers = [0, 1, 2, 3];
      },
      /honestPeers: peer 3 is not in this shard/,
    ],
    [
      'shard.peers not its slice',
      (f) => {
        (f.shard as Record<string, unknown>).peers = [0, 1, 2, 3];
      },
      /shard\.peers: shard 0\/2 of 6 peers runs peers 0-2/,
    ],
    [
      'more shards than peers',
      (f) => {
        f.scenario = { peers: 1 };
      },
      /scenario\.peers: expected an integer >= the 2 shards/,
    ],
    [
      'label differs from its key',
      (f) => {
        mean(f).label = 'krum';
      },
      /strategies\.mean: its label is "krum"/,
    ],
  ];
  for (const [what, change, message] of cases)
    assert.throws(
      () => parseShardFile(shardFile(0, change), 'shard 0'),
      (err: Error) => err instanceof ShardDataError && message.test(err.message),
      what,
    );
});

test('overlapping or mismatched shard files do not combine', () => {
  const zero = parseShardFile(shardFile(0), 'a');
  assert.throws(() => combineShards([zero, zero]), /shard 0 given twice/);
  const other = parseShardFile(
    shardFile(1, (f) => {
      f.fingerprint = 'other';
    }),
    'b',
  );
  assert.throws(() => combineShards([zero, other]), /of another run/);
  assert.throws(() => combineShards([zero]), /missing the output of shard\(s\) 1 of 2/);
});
