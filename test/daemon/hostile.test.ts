/**
 * A hostile libp2p peer (test/net/hostile.ts: no gossipsub of its own, raw RPCs and hand
 * framed requests) against a real daemon process A, with an honest daemon B next to it
 * (issue 14, "How to verify it"). It sends garbage frames, framed-but-invalid updates of
 * every reason, a huge-value and a NaN keyframe, an update 100x the usual norm, replays,
 * oversized and lying announcements, a stalling payload source, a snapshot flood,
 * oversized, malformed and stalled requests, and enough bad frames to be graylisted.
 *
 * Every validation-stage attack comes from a fresh identity (one message each), so no
 * score builds up and the expected count per stage and reason is exact. gossipsub drops
 * exact duplicates (same author and seqno) before any validator: a duplicated message is
 * counted once. Asserted: A stays healthy and keeps merging B, every message is counted at
 * its stage, the bytes held for unvalidated payloads stay within their limit, RSS within
 * the baseline + 64 MB, and no checkpoint of A or B holds a value out of bounds.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { DataStore } from '../../node/daemon/store.ts';
import { DEFAULT_VALUE_BOUND, firstOutOfBound } from '../../src/model/bounds.ts';
import { decodeModelFile } from '../../src/model/model-file.ts';
import type { Weights } from '../../src/model/weights.ts';
import { parseTaskSpec, taskWireSchema } from '../../src/peer/task.ts';
import { parseCodec } from '../../src/wire/codec-spec.ts';
import { encodeMessage, maxUpdateSize, type UpdateFields } from '../../src/wire/message.ts';
import type { TaskSchema } from '../../src/wire/schema.ts';
import { encodeSnapshotRequest } from '../../src/wire/snapshot.ts';
import { updatesTopic } from '../../src/wire/topic.ts';
import { concat, HostilePeer, parseResponse, varint } from '../net/hostile.ts';
import { DaemonProcess, killAll, smallConfig, tempDir, waitFor, writeConfig } from './harness.ts';
import { parsePrometheus } from './prometheus.ts';

const tmp = tempDir('meshfl-daemon-hostile-');
const hostiles: HostilePeer[] = [];
after(async () => {
  await Promise.allSettled(hostiles.map((h) => h.stop()));
  await killAll();
  tmp.remove();
});

const TASK = 'daemon-test';
const TOPIC = updatesTopic(TASK);
const RSS_SLACK_MB = 64;
// All-to-all over the gossip topic: the attacks arrive as topic messages from fresh
// identities, which a D-neighbour peer ignores (it takes updates only from its followees).
const round = {
  localSteps: 2,
  minFreshUpdates: 1,
  neighbours: 'all',
  deadline: { initialMs: 500, minMs: 200, maxMs: 1000 },
};

function start(name: string, index: number, extra: Record<string, unknown> = {}): DaemonProcess {
  const file = writeConfig(tmp.dir, `${name}.json`, {
    ...smallConfig(path.join(tmp.dir, name), index),
    round,
    ...extra,
  });
  return new DaemonProcess(['--config', file]);
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? Number.NaN) / 1024;
}

/** meshfl_updates_rejected_total by "stage/reason", and the fetch gauges. */
async function metrics(d: DaemonProcess): Promise<{ rejected: Map<string, number>; gauge: (n: string) => number }> {
  const families = parsePrometheus((await d.get('/metrics')).body);
  const rejected = new Map<string, number>();
  for (const s of families.get('meshfl_updates_rejected_total')?.samples ?? []) {
    rejected.set(`${s.labels.stage}/${s.labels.reason}`, s.value);
  }
  const gauge = (n: string): number => families.get(n)?.samples[0]?.value ?? Number.NaN;
  return { rejected, gauge };
}

function patch(bytes: Uint8Array, edit: (v: DataView) => void): Uint8Array {
  const copy = bytes.slice();
  edit(new DataView(copy.buffer));
  return copy;
}

/** Framed-but-invalid updates, one per reason (docs/PROTOCOL.md "Validation"). */
function invalidUpdates(schema: TaskSchema, model: Weights): Array<[reason: string, bytes: Uint8Array]> {
  const fields = (o: Partial<UpdateFields> = {}): UpdateFields => ({
    kind: 'keyframe',
    taskId: TASK,
    fingerprint: schema.fingerprint,
    seq: 7,
    base: 7,
    samples: 10,
    codec: parseCodec('fp32'),
    ...o,
  });
  const payload = 31 + TASK.length;
  const keyframe = encodeMessage(fields(), model);
  const delta = (codec: string, w: Weights = model) =>
    encodeMessage(fields({ kind: 'delta', seq: 8, base: 7, codec: parseCodec(codec) }), w);
  // Top-k keeps the largest values: make them the first ones, so the indices are 0, +1, +1, ...
  const descending = model.map((l) => ({ ...l, values: l.values.map((_, i) => l.values.length - i) }));
  const filled = (v: number) => model.map((l) => ({ ...l, values: new Float32Array(l.values.length).fill(v) }));
  const nan = keyframe.slice();
  new DataView(nan.buffer).setFloat32(nan.byteLength - 4, Number.NaN, true);
  return [
    ['undecodable', patch(keyframe, (v) => v.setUint8(0, 0x58))],
    ['bad-version', patch(keyframe, (v) => v.setUint8(4, 2))],
    ['bad-codec', patch(keyframe, (v) => v.setUint8(6, 9))],
    ['wrong-task', encodeMessage(fields({ taskId: 'other-task' }), model)],
    [
      'wrong-fingerprint',
      encodeMessage(fields({ fingerprint: ((schema.fingerprintWord ^ 1) >>> 0).toString(16).padStart(8, '0') }), model),
    ],
    ['wrong-shape', patch(keyframe, (v) => v.setUint16(28, model.length + 1, true))],
    ['bad-index', patch(delta('topk:0.5', descending), (v) => v.setUint8(payload + 8 + 1, 0))],
    ['bad-scale', patch(delta('int8'), (v) => v.setFloat32(payload + 4, Number.NaN, true))],
    ['bad-samples', patch(keyframe, (v) => v.setUint32(24, 2_000_000_000, true))],
    ['bad-seq', patch(keyframe, (v) => v.setUint32(20, 6, true))],
    ['non-finite', nan],
    ['out-of-range', encodeMessage(fields(), filled(3e38))],
    // 50 everywhere: within the value bound, but far above the norm of any honest delta.
    ['out-of-range', delta('fp32', filled(50))],
  ];
}

async function hostile(a: DaemonProcess): Promise<{ h: HostilePeer; target: ReturnType<typeof peerIdFromString> }> {
  const h = await HostilePeer.create('tcp');
  hostiles.push(h);
  const status = await a.status();
  await h.connect((status.multiaddrs as string[]).map((m) => multiaddr(m)));
  return { h, target: peerIdFromString(status.peerId as string) };
}

const inline = (bytes: Uint8Array) => concat([Uint8Array.of(0), bytes]);
function announce(size: number, fill: number): Uint8Array {
  const a = new Uint8Array(37);
  a[0] = 1;
  new DataView(a.buffer).setUint32(1, size);
  a.fill(fill, 5);
  return a;
}

test(
  'a hostile peer against a real daemon: counted, contained, and honest rounds go on',
  { timeout: 300_000 },
  async (t) => {
    const a = start('a', 0);
    await a.waitForLog((l) => l.msg === 'peer started', 'A started');
    const aStatus = await a.status();
    const b = start('b', 1, { bootstrap: [(aStatus.multiaddrs as string[])[0]] });
    await b.waitForLog((l) => l.msg === 'peer started', 'B started');
    const bId = (await b.status()).peerId as string;
    // Warm-up: both merge each other, A's norm limits are learned (8 accepted deltas per layer).
    await waitFor(
      async () =>
        ((await a.status()).lastMerge as { used: { peer: string }[] } | null)?.used.some((u) => u.peer === bId) ===
          true && a.rounds().length >= 10,
      'A merging B after 10 rounds',
      undefined,
      () => a.tail(),
    );
    const pid = a.child.pid as number;
    const rssBefore = rssMb(pid);
    let rssMax = rssBefore;
    const sampler = setInterval(() => {
      rssMax = Math.max(rssMax, rssMb(pid));
    }, 200);
    sampler.unref();
    t.after(() => clearInterval(sampler));
    const roundsBefore = a.rounds().length;

    const store = new DataStore(path.join(tmp.dir, 'a'), 3);
    const cp = store.newestCheckpoint(aStatus.peerId as string, TASK).checkpoint;
    assert.ok(cp, 'A has a checkpoint');
    const model = cp.model.weights;
    // A's schema from its public task, as any peer would build it: the fingerprint must match.
    const task = parseTaskSpec(JSON.parse((await a.get('/task')).body));
    const schema = taskWireSchema(task, model);
    assert.equal(schema.fingerprint, aStatus.fingerprint);
    const topicLimit = maxUpdateSize(schema);

    // validation: one fresh identity per invalid update.
    const invalid = invalidUpdates(schema, model);
    for (const [, bytes] of invalid) {
      const { h, target } = await hostile(a);
      await h.publish(target, TOPIC, inline(bytes));
    }
    // validation (ignored, not penalised): a replay with a new gossipsub seqno, and an older seq.
    {
      const { h, target } = await hostile(a);
      const kf = (seq: number) =>
        inline(
          encodeMessage(
            {
              kind: 'keyframe',
              taskId: TASK,
              fingerprint: schema.fingerprint,
              seq,
              base: seq,
              samples: 1,
              codec: parseCodec('fp32'),
            },
            model,
          ),
        );
      await h.publish(target, TOPIC, kf(5));
      await h.publish(target, TOPIC, kf(5));
      await h.publish(target, TOPIC, kf(3));
    }
    // message: garbage RPC frames, a bad signature, an unsigned message, an RPC over 4 MiB.
    {
      const { h, target } = await hostile(a);
      await h.sendRpcFrames(
        target,
        Array.from({ length: 20 }, (_, i) => Uint8Array.of(0xff, 0xff, i, 0xff)),
      );
      await h.sendRpcFrames(target, [
        HostilePeer.rpc([await h.message(TOPIC, inline(Uint8Array.of(1)), { badSignature: true })]),
      ]);
      await h.sendRpcFrames(target, [HostilePeer.rpc([{ topic: TOPIC, data: inline(Uint8Array.of(1)) }])]);
      const big = 4 * 1024 * 1024 + 16; // framed by hand: it-length-prefixed refuses to encode it
      await h.sendRpcFrames(target, [concat([varint(big), new Uint8Array(big)])], { raw: true });
    }
    // frame: a bad frame sent twice as the very same message (a duplicate: counted once).
    {
      const { h, target } = await hostile(a);
      const rpc = HostilePeer.rpc([await h.message(TOPIC, Uint8Array.of(7, 7))]);
      await h.sendRpcFrames(target, [rpc, rpc]);
    }
    // frame: four 64 MiB announcements (issue 14) and one just above the task's largest
    // update (implausible for this task), and one above the 64 MiB payload maximum.
    {
      const { h, target } = await hostile(a);
      for (let i = 0; i < 4; i++) await h.publish(target, TOPIC, announce(64 * 1024 * 1024, i));
      await h.publish(target, TOPIC, announce(65 * 1024 * 1024, 5));
    }
    {
      const { h, target } = await hostile(a);
      await h.publish(target, TOPIC, announce(topicLimit + 1, 9));
    }
    // fetch: a lying announcement (junk whose hash does not match), and a source that stalls
    // 10 announcements for 1 s each (2 run at once, the rest wait: bytes in flight bounded).
    {
      const { h, target } = await hostile(a);
      await h.servePayloads(async () => new Uint8Array(topicLimit - 100).fill(1));
      await h.publish(target, TOPIC, announce(topicLimit - 100, 11));
    }
    const stalling = await hostile(a);
    await stalling.h.servePayloads(async () => {
      await new Promise((r) => setTimeout(r, 1000));
      return undefined;
    });
    for (let i = 0; i < 10; i++) await stalling.h.publish(stalling.target, TOPIC, announce(topicLimit, 20 + i));
    // snapshot: a flood of 30 requests, then oversized, malformed and stalled requests.
    const snapshot = await hostile(a);
    const request = encodeSnapshotRequest({ taskId: TASK, fingerprint: schema.fingerprint });
    const snapshots: number[] = [];
    const floodStart = Date.now();
    for (let i = 0; i < 30; i++) {
      const s = await snapshot.h.rawRequest(
        snapshot.target,
        '/meshfl/1/snapshot',
        concat([varint(request.length), request]),
      );
      snapshots.push(parseResponse((await HostilePeer.readAll(s, 30_000)).bytes)?.status ?? -1);
    }
    const floodSeconds = (Date.now() - floodStart) / 1000;
    for (const bytes of [varint(2 ** 31), new Uint8Array(6).fill(0xff), Uint8Array.of(0xff, 0xff)]) {
      const s = await snapshot.h.rawRequest(snapshot.target, '/meshfl/1/snapshot', bytes);
      await HostilePeer.readAll(s, 30_000);
    }
    // message: graylisted. Three bad frames take the score below -80; after gossipsub's 1 s
    // whitelist, every message of the next RPC is dropped before validation.
    const gray = await hostile(a);
    for (let i = 0; i < 3; i++) await gray.h.publish(gray.target, TOPIC, Uint8Array.of(9, i));
    await waitFor(async () => {
      const f = parsePrometheus((await a.get('/metrics')).body);
      const s = f.get('meshfl_peer_score')?.samples.find((x) => x.labels.peer === gray.h.id);
      return s !== undefined && s.value < -80;
    }, 'the graylisted peer');
    await new Promise((r) => setTimeout(r, 1500));
    const five = await Promise.all(
      Array.from({ length: 5 }, (_, i) => gray.h.message(TOPIC, inline(Uint8Array.of(i)))),
    );
    await gray.h.sendRpcFrames(gray.target, [HostilePeer.rpc(five)]);

    const expected = new Map<string, number>([
      ...invalid.map(([reason]): [string, number] => [`validation/${reason}`, 0]),
      ['validation/replayed', 1],
      ['validation/stale-seq', 1],
      ['message/undecodable-rpc', 20],
      ['message/invalid-invalid-signature', 1],
      ['message/invalid-invalid-seqno', 1],
      ['message/rpc-too-large', 1],
      ['message/graylisted', 5],
      ['frame/bad-frame', 4],
      ['frame/announce-too-large', 1],
      ['frame/implausible-size', 5],
      ['fetch/bad-payload', 1],
      ['fetch/unavailable', 11],
      // A token every 10 s: on a slow machine the flood may earn one more.
      ['snapshot/rate-limited', snapshots.filter((x) => x === 1).length],
      ['snapshot/request-too-large', 2],
      ['snapshot/bad-request', 1],
    ]);
    for (const [reason] of invalid)
      expected.set(`validation/${reason}`, (expected.get(`validation/${reason}`) ?? 0) + 1);
    let seen = new Map<string, number>();
    await waitFor(
      async () => {
        seen = (await metrics(a)).rejected;
        return [...expected].every(([k, n]) => (seen.get(k) ?? 0) >= n);
      },
      'every hostile message counted',
      undefined,
      () => JSON.stringify({ expected: [...expected], seen: [...seen] }),
    );
    // Exactly: nothing counted twice, nothing else refused (B's traffic included).
    assert.deepEqual(
      [...seen].filter(([k]) => !k.startsWith('validation/stale-seq')).sort(),
      [...expected].filter(([k]) => !k.startsWith('validation/stale-seq')).sort(),
    );
    assert.deepEqual(snapshots.slice(0, 4), [0, 0, 0, 1], 'a burst of 3 snapshots, then "retry later"');
    assert.ok(snapshots.every((x) => x === 0 || x === 1));
    assert.ok(snapshots.filter((x) => x === 0).length <= 3 + Math.ceil(floodSeconds / 10), `served ${snapshots}`);

    // Honest rounds go on, A keeps merging B, and it is healthy.
    await waitFor(
      () => a.rounds().length >= roundsBefore + 15,
      'A ran 15 more rounds',
      undefined,
      () => a.tail(),
    );
    await waitFor(
      async () =>
        ((await a.status()).lastMerge as { used: { peer: string }[] } | null)?.used.some((u) => u.peer === bId) ===
        true,
      'A merging B after the attacks',
    );
    assert.equal((await a.get('/health')).status, 200);
    clearInterval(sampler);
    const m = await metrics(a);
    const rssAfter = rssMb(pid);
    assert.ok(m.gauge('meshfl_fetch_bytes_in_flight_peak') <= m.gauge('meshfl_fetch_bytes_in_flight_limit'));
    assert.ok(m.gauge('meshfl_fetch_bytes_in_flight_peak') > 0, 'the stalling source did hold fetch budget');
    assert.ok(rssAfter <= rssBefore + RSS_SLACK_MB, `RSS ${rssBefore.toFixed(0)} -> ${rssAfter.toFixed(0)} MB`);
    const warns = a.logs.filter((l) => l.msg === 'traffic rejected');
    const total = [...seen.values()].reduce((x, y) => x + y, 0);
    t.diagnostic(
      `refused ${total} messages: ${[...seen].map(([k, n]) => `${k}=${n}`).join(' ')}; warn lines ${warns.length}; ` +
        `RSS before ${rssBefore.toFixed(0)} MB, max ${rssMax.toFixed(0)}, after ${rssAfter.toFixed(0)}; ` +
        `fetch bytes in flight peak ${m.gauge('meshfl_fetch_bytes_in_flight_peak')} of ${m.gauge('meshfl_fetch_bytes_in_flight_limit')}; ` +
        `rounds during the attack ${a.rounds().length - roundsBefore}`,
    );
    assert.ok(warns.length >= 1 && warns.every((l) => typeof l.peer === 'string'), 'warn lines name the peer');

    // No checkpoint of A or B holds a value out of bounds (the final ones included).
    for (const d of [a, b]) d.signal('SIGTERM');
    for (const d of [a, b]) assert.deepEqual(await d.exited, { code: 0, signal: null }, d.tail());
    for (const name of ['a', 'b']) {
      for (const f of new DataStore(path.join(tmp.dir, name), 3).checkpointFiles()) {
        for (const l of decodeModelFile(readFileSync(f), f).weights) {
          assert.equal(firstOutOfBound(l.values, DEFAULT_VALUE_BOUND), -1, `${f} ${l.name}`);
        }
      }
    }
  },
);
