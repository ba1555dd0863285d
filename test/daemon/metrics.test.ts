/**
 * DaemonMetrics in-process, read back through a strict Prometheus parser: values before and
 * after rounds, the duration histograms, bounded label sets (scores of connected peers only,
 * rejections by stage and reason), one registry per instance, a failing scrape answered 500,
 * and docs/DAEMON.md's table of series against the code.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { register as globalRegister } from 'prom-client';
import { startHttpServer } from '../../node/daemon/http.ts';
import { createLogger } from '../../node/daemon/logger.ts';
import { DaemonMetrics, type MetricsSnapshot } from '../../node/daemon/metrics.ts';
import type { RoundSummary } from '../../src/peer/events.ts';
import { type Family, parsePrometheus, sampleValue } from './prometheus.ts';

const IDLE: MetricsSnapshot = { peers: 0, bytesIn: 0, bytesOut: 0 };
const ACC = { overall: 0.5, loss: 1.2, perClass: [], f1: [] };

function roundSummary(over: Partial<RoundSummary> = {}): RoundSummary {
  return {
    round: 7,
    trainLoss: 0.9,
    trainMs: 10,
    waitMs: 20,
    mergeMs: 30,
    roundMs: 1500,
    closedBy: 'deadline',
    stepsClosedBy: ['deadline'],
    candidates: 2,
    merge: {
      strategy: 'mean',
      ownShare: 0.4,
      used: [
        { peer: 'a', seq: 1, share: 0.35 },
        { peer: 'b', seq: 1, share: 0.25 },
      ],
      rejected: [],
    },
    local: ACC,
    merged: { ...ACC, overall: 0.75 },
    bytesSent: 100,
    bytesReceived: 200,
    totalBytesSent: 100,
    totalBytesReceived: 200,
    ...over,
  };
}

async function scrape(m: DaemonMetrics): Promise<Map<string, Family>> {
  return parsePrometheus((await m.exposition()).body);
}

function samples(families: Map<string, Family>, name: string): Family['samples'] {
  const f = families.get(name);
  assert.ok(f, `family ${name}`);
  return f.samples;
}

test('metrics: before the first round every family is there, with "nothing yet" values', async () => {
  const m = new DaemonMetrics(() => IDLE);
  const exposition = await m.exposition();
  assert.match(exposition.contentType, /^text\/plain; version=0\.0\.4/);
  const f = parsePrometheus(exposition.body);
  assert.equal(sampleValue(f, 'meshfl_rounds_total'), 0);
  assert.equal(sampleValue(f, 'meshfl_round'), -1);
  assert.ok(Number.isNaN(sampleValue(f, 'meshfl_train_loss')));
  assert.equal(sampleValue(f, 'meshfl_merge_own_share'), 1);
  assert.equal(sampleValue(f, 'meshfl_round_duration_seconds_count'), 0);
  assert.equal(sampleValue(f, 'meshfl_merge_duration_seconds_count'), 0);
  assert.equal(sampleValue(f, 'meshfl_fetch_bytes_in_flight_limit'), 0);
  for (const empty of ['meshfl_accuracy', 'meshfl_loss', 'meshfl_peer_score', 'meshfl_fetches']) {
    assert.deepEqual(samples(f, empty), [], empty);
  }
  // prom-client's default metrics, unprefixed.
  assert.ok(sampleValue(f, 'process_resident_memory_bytes') > 0);
  assert.ok(f.has('nodejs_eventloop_lag_seconds'));
});

test('metrics: rounds set the gauges, the share summary and both duration histograms', async () => {
  const m = new DaemonMetrics(() => IDLE);
  m.onRound(roundSummary());
  let f = await scrape(m);
  assert.equal(sampleValue(f, 'meshfl_rounds_total'), 1);
  assert.equal(sampleValue(f, 'meshfl_round'), 7);
  assert.equal(sampleValue(f, 'meshfl_accuracy', { stage: 'merged' }), 0.75);
  assert.equal(sampleValue(f, 'meshfl_loss', { stage: 'local' }), 1.2);
  assert.equal(sampleValue(f, 'meshfl_train_loss'), 0.9);
  assert.equal(sampleValue(f, 'meshfl_merge_candidates'), 2);
  assert.equal(sampleValue(f, 'meshfl_merge_own_share'), 0.4);
  assert.equal(sampleValue(f, 'meshfl_merge_share', { quantile: '1' }), 0.35);
  assert.equal(sampleValue(f, 'meshfl_merge_share', { quantile: '0' }), 0.25);
  assert.equal(sampleValue(f, 'meshfl_merge_share_count'), 2);
  // 1.5 s round and 30 ms merge: each in the first bucket that holds it, and none below.
  assert.equal(sampleValue(f, 'meshfl_round_duration_seconds_bucket', { le: '1' }), 0);
  assert.equal(sampleValue(f, 'meshfl_round_duration_seconds_bucket', { le: '2.5' }), 1);
  assert.equal(sampleValue(f, 'meshfl_round_duration_seconds_sum'), 1.5);
  assert.equal(sampleValue(f, 'meshfl_merge_duration_seconds_bucket', { le: '0.025' }), 0);
  assert.equal(sampleValue(f, 'meshfl_merge_duration_seconds_bucket', { le: '0.05' }), 1);
  assert.equal(sampleValue(f, 'meshfl_merge_duration_seconds_sum'), 0.03);

  // A round without evaluation (round.evaluateEvery > 1) keeps the last evaluated accuracy;
  // a round without neighbours still times its merge.
  m.onRound(roundSummary({ round: 8, local: undefined, merged: undefined, merge: undefined, roundMs: 400_000 }));
  f = await scrape(m);
  assert.equal(sampleValue(f, 'meshfl_round'), 8);
  assert.equal(sampleValue(f, 'meshfl_accuracy', { stage: 'merged' }), 0.75);
  assert.equal(sampleValue(f, 'meshfl_merge_own_share'), 1);
  assert.equal(sampleValue(f, 'meshfl_merge_share_count'), 2);
  assert.equal(sampleValue(f, 'meshfl_round_duration_seconds_count'), 2);
  assert.equal(sampleValue(f, 'meshfl_round_duration_seconds_bucket', { le: '300' }), 1);
  assert.equal(sampleValue(f, 'meshfl_round_duration_seconds_bucket', { le: '600' }), 2);
  assert.equal(sampleValue(f, 'meshfl_merge_duration_seconds_count'), 2);
  assert.equal(m.rounds, 2);
  assert.equal(m.lastRound?.round, 8);
});

test('metrics: scores only for the peers connected now; a disconnected peer leaves no series', async () => {
  let live: MetricsSnapshot = {
    ...IDLE,
    peers: 2,
    scores: new Map([
      ['peerA', -12.5],
      ['peerB', 3],
    ]),
  };
  const m = new DaemonMetrics(() => live);
  let f = await scrape(m);
  assert.equal(sampleValue(f, 'meshfl_peer_score', { peer: 'peerA' }), -12.5);
  assert.equal(sampleValue(f, 'meshfl_peer_score', { peer: 'peerB' }), 3);
  live = {
    ...IDLE,
    peers: 2,
    scores: new Map([
      ['peerB', 4],
      ['peerC', -90],
    ]),
  };
  f = await scrape(m);
  assert.deepEqual(
    samples(f, 'meshfl_peer_score').map((s) => [s.labels.peer, s.value]),
    [
      ['peerB', 4],
      ['peerC', -90],
    ],
  );
  assert.equal(sampleValue(f, 'meshfl_peers'), 2);
  // Many fresh identities passing through one at a time never add up.
  for (let i = 0; i < 200; i++) {
    live = { ...IDLE, peers: 1, scores: new Map([[`sybil${i}`, -100]]) };
    f = await scrape(m);
    assert.equal(samples(f, 'meshfl_peer_score').length, 1);
  }
  live = IDLE;
  assert.deepEqual(samples(await scrape(m), 'meshfl_peer_score'), []);
});

test('metrics: rejections are counted per (stage, reason) pair, with odd reasons escaped', async () => {
  const m = new DaemonMetrics(() => IDLE);
  m.onRejected('non-finite');
  m.onRejected('non-finite');
  m.onRejected('non-finite', 'snapshot');
  m.onRejected('we"ird\\reason');
  m.onRejected('graylisted', 'message', 5);
  const f = await scrape(m);
  const rejected = (reason: string, stage: string): number =>
    sampleValue(f, 'meshfl_updates_rejected_total', { reason, stage });
  assert.equal(rejected('non-finite', 'validation'), 2);
  assert.equal(rejected('non-finite', 'snapshot'), 1);
  assert.equal(rejected('we"ird\\reason', 'validation'), 1);
  assert.equal(rejected('graylisted', 'message'), 5);
  assert.equal(samples(f, 'meshfl_updates_rejected_total').length, 4);
});

test("metrics: the peer's totals and fetch budget are read at every scrape", async () => {
  let live: MetricsSnapshot = IDLE;
  const m = new DaemonMetrics(() => live);
  m.onUpdateAccepted();
  m.onSnapshotFetched();
  m.onCheckpointWritten();
  m.onCheckpointWritten();
  m.onError();
  let f = await scrape(m);
  assert.equal(sampleValue(f, 'meshfl_bytes_received_total'), 0);
  assert.equal(sampleValue(f, 'meshfl_updates_accepted_total'), 1);
  assert.equal(sampleValue(f, 'meshfl_snapshots_fetched_total'), 1);
  assert.equal(sampleValue(f, 'meshfl_checkpoints_written_total'), 2);
  assert.equal(sampleValue(f, 'meshfl_errors_total'), 1);
  const fetch = { bytesInFlight: 10, peakBytesInFlight: 40, maxBytes: 400, running: 1, queued: 3, cacheBytes: 77 };
  live = { peers: 3, bytesIn: 5000, bytesOut: 7000, fetch };
  f = await scrape(m);
  assert.equal(sampleValue(f, 'meshfl_bytes_received_total'), 5000);
  assert.equal(sampleValue(f, 'meshfl_bytes_sent_total'), 7000);
  assert.equal(sampleValue(f, 'meshfl_peers'), 3);
  assert.equal(sampleValue(f, 'meshfl_fetch_bytes_in_flight'), 10);
  assert.equal(sampleValue(f, 'meshfl_fetch_bytes_in_flight_peak'), 40);
  assert.equal(sampleValue(f, 'meshfl_fetch_bytes_in_flight_limit'), 400);
  assert.equal(sampleValue(f, 'meshfl_fetches', { state: 'running' }), 1);
  assert.equal(sampleValue(f, 'meshfl_fetches', { state: 'queued' }), 3);
  assert.equal(sampleValue(f, 'meshfl_payload_cache_bytes'), 77);
  // Read again, not added up: the counter mirrors the peer's total.
  live = { ...live, bytesIn: 6000 };
  assert.equal(sampleValue(await scrape(m), 'meshfl_bytes_received_total'), 6000);
});

test("metrics: each instance has its own registry (two daemons in a process), none in prom-client's global one", async () => {
  const a = new DaemonMetrics(() => IDLE);
  const b = new DaemonMetrics(() => IDLE);
  a.onRound(roundSummary());
  a.onRejected('bad-frame', 'frame');
  const [fa, fb] = await Promise.all([scrape(a), scrape(b)]);
  assert.equal(sampleValue(fa, 'meshfl_rounds_total'), 1);
  assert.equal(sampleValue(fb, 'meshfl_rounds_total'), 0);
  assert.equal(sampleValue(fb, 'meshfl_round_duration_seconds_count'), 0);
  assert.deepEqual(samples(fb, 'meshfl_updates_rejected_total'), []);
  assert.ok(sampleValue(fb, 'process_resident_memory_bytes') > 0);
  assert.equal(globalRegister.getSingleMetric('meshfl_rounds_total'), undefined);
  assert.equal(globalRegister.getSingleMetric('process_resident_memory_bytes'), undefined);
});

test('metrics: a scrape that fails is logged and answered 500, not an unhandled rejection', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  process.on('unhandledRejection', onUnhandled);
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  const m = new DaemonMetrics(() => {
    throw new Error('snapshot exploded');
  });
  await assert.rejects(m.exposition(), /snapshot exploded/);
  const server = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    token: undefined,
    exportOrigins: [],
    staticRoot: path.join(import.meta.dirname, 'no-such-page'),
    logger: createLogger({ level: 'error', stream }),
    handlers: {
      health: () => ({ ready: true, body: {} }),
      metrics: () => m.exposition(),
      status: () => ({}),
      task: () => undefined,
      exportModel: async () => undefined,
    },
  });
  try {
    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 500);
    assert.equal(await res.text(), 'internal error\n');
    const logged = chunks.join('');
    assert.match(logged, /http request failed/);
    assert.match(logged, /snapshot exploded/);
  } finally {
    await server.close();
    process.off('unhandledRejection', onUnhandled);
  }
  assert.deepEqual(unhandled, []);
});

test('metrics: docs/DAEMON.md lists every meshfl_ family with its type and labels, and its process metrics exist', async () => {
  const docs = readFileSync(path.join(import.meta.dirname, '../../docs/DAEMON.md'), 'utf8');
  const section = docs.slice(docs.indexOf('\n## Metrics\n'), docs.indexOf('\n## Logs\n'));
  // Rows: | `name` | type | `label`, `label` | meaning |
  const documented = new Map<string, { type: string; labels: string[]; linuxOnly: boolean }>();
  for (const line of section.split('\n')) {
    const row = /^\| `([a-z_]+)` \| (\w+) \|([^|]*)\| (.*) \|$/.exec(line);
    if (!row) continue;
    const [, name, type, labels, meaning] = row as unknown as [string, string, string, string, string];
    const names = [...labels.matchAll(/`([a-z_]+)`/g)].map((x) => x[1]).sort();
    documented.set(name, { type, labels: names, linuxOnly: meaning.includes('Linux only') });
  }
  const m = new DaemonMetrics(() => ({
    ...IDLE,
    scores: new Map([['p', 1]]),
    fetch: { bytesInFlight: 0, peakBytesInFlight: 0, maxBytes: 1, running: 0, queued: 0, cacheBytes: 0 },
  }));
  m.onRound(roundSummary());
  m.onRejected('bad-frame', 'frame');
  const families = await scrape(m);
  const own = [...families.keys()].filter((n) => n.startsWith('meshfl_')).sort();
  assert.deepEqual(
    own,
    [...documented.keys()].filter((n) => n.startsWith('meshfl_')).sort(),
    'the meshfl_ families in the code and in the docs',
  );
  assert.ok(documented.size > own.length, 'some process metrics documented');
  for (const [name, doc] of documented) {
    if (doc.linuxOnly && process.platform !== 'linux') continue;
    const family = families.get(name);
    assert.ok(family, `${name} is documented but not exposed`);
    assert.equal(family.type, doc.type, `${name} type`);
    // A labelled family can have no series yet (no GC so far); the meshfl_ ones all have some here.
    if (family.samples.length === 0 && !name.startsWith('meshfl_')) continue;
    const labels = [...new Set(family.samples.flatMap((s) => Object.keys(s.labels)))].sort();
    assert.deepEqual(labels, doc.labels, `${name} labels`);
  }
});

test('prometheus parser: strict, it refuses what Prometheus would', () => {
  for (const bad of [
    'x 1\n',
    '# TYPE x gauge\nx 1\n',
    '# HELP x h\n# TYPE x counter\nx 1\n',
    '# HELP x h\n# TYPE x gauge\nx{a="1} 1\n',
    '# HELP x h\n# TYPE x gauge\nx 1\nx 2\n',
    '# HELP x h\n# TYPE x gauge\nx one\n',
    '# HELP x h\n# TYPE x gauge\nx 1',
    '# HELP h h\n# TYPE h histogram\nh_bucket 1\nh_sum 1\nh_count 1\n',
    '# HELP h h\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    '# HELP h h\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
    '# HELP h h\n# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n',
    '# HELP h h\n# TYPE h histogram\nh 1\n',
  ]) {
    assert.throws(() => parsePrometheus(bad), Error, JSON.stringify(bad));
  }
  const ok = parsePrometheus(
    '# HELP h h\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 2\n\n# HELP g h\n# TYPE g gauge\ng Nan\n',
  );
  assert.equal(sampleValue(ok, 'h_count'), 2);
  assert.ok(Number.isNaN(sampleValue(ok, 'g')));
});

test('deploy/: every series the Grafana dashboard queries is one the daemon exposes, with those labels', async () => {
  const dashboard = JSON.parse(
    readFileSync(path.join(import.meta.dirname, '../../deploy/grafana/dashboards/meshfl.json'), 'utf8'),
  ) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
  const m = new DaemonMetrics(() => IDLE);
  m.onRound(roundSummary());
  m.onRejected('bad-signature', 'wire');
  const families = await scrape(m);
  // A sample name, e.g. meshfl_round_duration_seconds_bucket, belongs to a family by prefix.
  const exposed = (name: string) =>
    [...families.values()].some((f) => f.samples.some((s) => s.name === name)) || families.has(name);
  const labelsOf = (name: string) =>
    new Set(
      [...families.values()]
        .flatMap((f) => f.samples.filter((s) => s.name === name))
        .flatMap((s) => Object.keys(s.labels)),
    );
  const PROMQL = new Set(['rate', 'sum', 'by', 'histogram_quantile', 'le', 'instance', 'job', 'reason', 'stage']);
  let queried = 0;
  for (const panel of dashboard.panels) {
    assert.ok(panel.targets.length > 0, panel.title);
    for (const { expr } of panel.targets) {
      const names = (expr.match(/\b[a-z_][a-z0-9_]*_[a-z0-9_]+\b/g) ?? []).filter((n) => !PROMQL.has(n));
      assert.ok(names.length > 0, `${panel.title}: ${expr}`);
      for (const name of names) {
        assert.ok(exposed(name), `${panel.title}: ${name} is not exposed`);
        queried++;
      }
      // Labels grouped or legended by must exist on the queried series (instance and job are Prometheus's).
      for (const label of expr.match(/\b(?:reason|stage)\b/g) ?? []) {
        assert.ok(
          names.some((n) => labelsOf(n).has(label)),
          `${panel.title}: no queried series has label ${label}`,
        );
      }
    }
  }
  assert.ok(queried >= 10, `the dashboard queries ${queried} series`);
});
