/**
 * Three real daemon processes on loopback: B and C bootstrap to A's address read from its
 * /status, all complete rounds and accuracy rises on each; /metrics parses as strict
 * Prometheus text, with every round in the duration histograms and the process metrics; B
 * killed with SIGKILL restarts from its data directory with the same
 * peer id from its last checkpoint and rejoins (A accepts its updates again); no
 * checkpoint on disk is corrupt; SIGTERM exits 0 after a final checkpoint; A's /health
 * is not-ready while it has been alone for the configured time.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { DataStore } from '../../node/daemon/store.ts';
import { decodeModelFile } from '../../src/model/model-file.ts';
import {
  DaemonProcess,
  killAll,
  type LogLine,
  smallConfig,
  tempDir,
  WAIT_MS,
  waitFor,
  writeConfig,
} from './harness.ts';
import { parsePrometheus, sampleValue } from './prometheus.ts';

const tmp = tempDir('meshfl-daemon-mesh-');
after(async () => {
  await killAll();
  tmp.remove();
});

const ACCURACY_GAIN = 0.15;

function start(
  name: string,
  index: number,
  bootstrap: string[] = [],
  extra: Record<string, unknown> = {},
): DaemonProcess {
  const dataDir = path.join(tmp.dir, name);
  const file = writeConfig(tmp.dir, `${name}.json`, { ...smallConfig(dataDir, index), bootstrap, ...extra });
  return new DaemonProcess(['--config', file]);
}

async function health(d: DaemonProcess): Promise<number> {
  return (await d.get('/health')).status;
}

function accuracies(d: DaemonProcess, since = 0): { first: number; last: number; merged: boolean } {
  const rounds = d.rounds().slice(since);
  const first = rounds.find((r) => typeof r.localAccuracy === 'number')?.localAccuracy as number;
  const last = rounds.at(-1)?.mergedAccuracy as number;
  return { first, last, merged: rounds.some((r) => (r.candidates as number) >= 1) };
}

/** Every checkpoint on disk decodes (CRC and header); returns the newest meta round. */
function checkAllCheckpoints(name: string): number {
  const store = new DataStore(path.join(tmp.dir, name), 3);
  const files = store.checkpointFiles();
  assert.ok(files.length >= 1, `${name} has checkpoints`);
  for (const f of files) decodeModelFile(readFileSync(f), f);
  return Number(decodeModelFile(readFileSync(files[0])).meta.round);
}

async function terminate(d: DaemonProcess, name: string): Promise<LogLine> {
  d.signal('SIGTERM');
  const exit = await d.exited;
  assert.deepEqual(exit, { code: 0, signal: null }, `${name} exits 0 on SIGTERM\n${d.tail()}`);
  const final = d.logs.find((l) => l.msg === 'final checkpoint written');
  assert.ok(final, `${name} logged its final checkpoint`);
  return final;
}

test('three daemons bootstrap, learn, survive a SIGKILL restart and stop cleanly', { timeout: 300_000 }, async (t) => {
  // A also serves browsers: circuit relay, WebSockets and WebRTC-Direct.
  const a = start('a', 0, [], {
    relay: true,
    listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws', '/ip4/127.0.0.1/udp/0/webrtc-direct'],
  });
  await a.waitForLog((l) => l.msg === 'peer started', 'A started');
  const aStatus = await a.status();
  const browser = aStatus.browserMultiaddrs as string[];
  assert.ok(
    browser.some((m) => /\/tcp\/\d+\/ws\/p2p\//.test(m)),
    `a WebSockets address for browsers: ${browser}`,
  );
  assert.ok(
    browser.some((m) => /\/webrtc-direct\/certhash\/.+\/p2p\//.test(m)),
    `a WebRTC-Direct address: ${browser}`,
  );
  assert.deepEqual(a.logs.find((l) => l.msg === 'browsers can dial')?.multiaddrs, browser, 'printed in the log too');
  const aId = aStatus.peerId as string;
  const bootstrap = (aStatus.multiaddrs as string[]).filter((m) => /\/tcp\/\d+\/p2p\//.test(m));
  assert.equal(bootstrap.length, 1, `A has one TCP multiaddr: ${JSON.stringify(aStatus.multiaddrs)}`);

  // Alone for the configured 3 s, A turns not-ready.
  await waitFor(
    async () => (await health(a)) === 503,
    'A /health 503 while alone',
    WAIT_MS,
    () => a.tail(),
  );

  let b = start('b', 1, bootstrap);
  const c = start('c', 2, bootstrap);
  const [bStart, cStart] = await Promise.all([
    b.waitForLog((l) => l.msg === 'peer started', 'B started'),
    c.waitForLog((l) => l.msg === 'peer started', 'C started'),
  ]);
  assert.ok(bStart && cStart);
  const bId = (await b.status()).peerId as string;
  await waitFor(
    async () => (await health(a)) === 200,
    'A /health 200 with peers',
    WAIT_MS,
    () => a.tail(),
  );

  // Rounds with merges and rising accuracy on every daemon.
  const all = [a, b, c] as const;
  const learned = (d: DaemonProcess): boolean => {
    const acc = accuracies(d);
    return acc.merged && acc.last > acc.first + ACCURACY_GAIN;
  };
  await waitFor(
    () => all.every(learned),
    'accuracy rising on all three',
    WAIT_MS * 2,
    () => all.map((d) => d.tail(4)).join('\n'),
  );
  // On failure, say what each daemon sees: its peers and its rejections by stage and reason.
  let lastDiagnosis = '';
  const diagnose = async (): Promise<void> => {
    const lines = await Promise.all(
      all.map(async (d, i) => {
        const status = await d.status().catch(() => undefined);
        const metrics = await d.get('/metrics').catch(() => undefined);
        const rejected = (metrics?.body ?? '')
          .split('\n')
          .filter((l) => l.startsWith('meshfl_updates_rejected_total{'));
        return `daemon ${i}: peers ${JSON.stringify(status?.peers)} rejected ${rejected.join(' ')}`;
      }),
    );
    lastDiagnosis = lines.join('\n');
  };
  let diagnosing: Promise<void> | undefined;
  const diagnoser = setInterval(() => {
    // One diagnosis at a time: a slow daemon must not collect a pile of requests.
    diagnosing ??= diagnose()
      .catch(() => {})
      .finally(() => {
        diagnosing = undefined;
      });
  }, 5_000);
  t.after(async () => {
    clearInterval(diagnoser);
    await diagnosing;
  });
  // Accuracy can rise from local training before a loaded daemon has accepted an update.
  const accepted = async (d: DaemonProcess): Promise<boolean> =>
    sampleValue(parsePrometheus((await d.get('/metrics')).body), 'meshfl_updates_accepted_total') >= 1;
  await waitFor(
    async () => (await Promise.all(all.map(accepted))).every(Boolean),
    'an accepted update on all three',
    WAIT_MS,
    () => `${all.map((d) => d.tail(4)).join('\n')}\n${lastDiagnosis}`,
  );
  for (const [i, d] of all.entries()) {
    const metrics = await d.get('/metrics');
    assert.match(metrics.type, /^text\/plain; version=0\.0\.4/);
    const families = parsePrometheus(metrics.body);
    assert.ok(sampleValue(families, 'meshfl_rounds_total') >= 2);
    assert.ok(sampleValue(families, 'meshfl_peers') >= 1);
    assert.ok(sampleValue(families, 'meshfl_accuracy', { stage: 'merged' }) > 0);
    assert.ok(sampleValue(families, 'meshfl_bytes_sent_total') > 0);
    assert.ok(sampleValue(families, 'meshfl_updates_accepted_total') >= 1);
    // One scrape runs in one turn of the event loop, so its series agree with each other:
    // both duration histograms hold every round, and there is a score for each connected peer.
    const rounds = sampleValue(families, 'meshfl_rounds_total');
    assert.equal(sampleValue(families, 'meshfl_round_duration_seconds_count'), rounds, `daemon ${i} rounds timed`);
    assert.equal(sampleValue(families, 'meshfl_merge_duration_seconds_count'), rounds, `daemon ${i} merges timed`);
    assert.ok(sampleValue(families, 'meshfl_round_duration_seconds_sum') > 0);
    assert.equal(families.get('meshfl_peer_score')?.samples.length, sampleValue(families, 'meshfl_peers'));
    // prom-client's default process metrics, unprefixed.
    assert.ok(sampleValue(families, 'process_resident_memory_bytes') > 0);
    assert.ok(sampleValue(families, 'process_cpu_seconds_total') > 0);
    const status = await d.status();
    assert.ok((status.round as number) >= 2 && (status.peers as string[]).length >= 1, `daemon ${i} status`);
  }
  t.diagnostic(`accuracy first->last: ${all.map((d) => `${accuracies(d).first}->${accuracies(d).last}`).join(' ')}`);

  // SIGKILL B mid-run; wait until A has done enough rounds for B to age out of its candidates.
  const aRoundsAtKill = a.rounds().length;
  b.signal('SIGKILL');
  assert.equal((await b.exited).signal, 'SIGKILL');
  const checkpointRound = checkAllCheckpoints('b');
  assert.ok(checkpointRound > 0);
  await waitFor(
    () => a.rounds().length >= aRoundsAtKill + 4,
    'A continues without B',
    WAIT_MS,
    () => a.tail(),
  );
  await waitFor(async () => !((await a.status()).neighbours as string[]).includes(bId), 'B aged out of A', WAIT_MS);

  b = start('b', 1, bootstrap);
  const identity = await b.waitForLog((l) => l.msg === 'loaded the peer identity', 'B identity');
  assert.equal(identity.peerId, bId, 'same peer id after restart');
  const resumed = await b.waitForLog((l) => l.msg === 'resumed from checkpoint', 'B resumed');
  assert.equal(resumed.round, checkpointRound, 'resumed from the newest checkpoint');
  assert.ok(resumed.round > 0);
  assert.ok(!b.logs.some((l) => l.msg === 'skipping an unusable checkpoint'), 'no corrupt checkpoint after SIGKILL');
  // Rejoined: B merges neighbours again and A accepts B's new updates (its seqs continue).
  await waitFor(
    () => b.rounds().some((r) => (r.candidates as number) >= 1 && (r.round as number) >= checkpointRound),
    'B merges after restart',
    WAIT_MS,
    () => b.tail(),
  );
  await waitFor(
    async () => ((await a.status()).neighbours as string[]).includes(bId),
    'A hears B again',
    WAIT_MS,
    () => a.tail(),
  );
  const bStatus = await b.status();
  assert.equal(bStatus.peerId, bId);
  assert.ok((bStatus.round as number) > checkpointRound);

  // SIGTERM B and C: exit 0 with a final checkpoint; A, alone again, turns not-ready.
  for (const [name, d] of [
    ['b', b],
    ['c', c],
  ] as const) {
    const final = await terminate(d, name);
    const newest = checkAllCheckpoints(name);
    assert.equal(path.basename(final.file as string), `round-${String(newest).padStart(9, '0')}.mflm`);
  }
  await waitFor(
    async () => (await health(a)) === 503,
    'A /health 503 after its peers left',
    WAIT_MS,
    () => a.tail(),
  );
  const body = JSON.parse((await a.get('/health')).body) as Record<string, unknown>;
  assert.equal(body.status, 'not-ready');
  assert.equal(body.peers, 0);
  await terminate(a, 'a');
  checkAllCheckpoints('a');
  assert.ok(aId.startsWith('12D3Koo'));
});
