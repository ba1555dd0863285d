/**
 * What a remote peer can cost: fetch admission (running, per peer, queued, bytes in flight),
 * announced sizes checked against the topic's limit, and the request framing answers
 * (an oversized length prefix gets status 02 at once, a stalled one is closed).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { FetchLimiter, type Release } from '../../src/net/fetch-limiter.ts';
import type { Rejection } from '../../src/net/gossip.ts';
import { createLibp2pGossip, type Libp2pGossip } from '../../src/net/libp2p-gossip.ts';
import { createMemoryLibp2p } from '../../src/net/memory-factory.ts';
import { RateLimiter } from '../../src/peer/rate-limit.ts';
import { HostilePeer, parseResponse, varint } from './hostile.ts';

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
});

const never = new AbortController().signal;

test('FetchLimiter: running, per-peer and byte limits; FIFO without head-of-line blocking; bounded queue', async () => {
  const l = new FetchLimiter({ maxRunning: 3, maxRunningPerPeer: 2, maxQueuedPerPeer: 3, maxQueued: 4, maxBytes: 100 });
  const a1 = (await l.acquire('a', 40, never)) as Release;
  const a2 = (await l.acquire('a', 40, never)) as Release;
  assert.equal(l.stats.running, 2);
  let a3: Release | undefined;
  void l.acquire('a', 10, never).then((r) => {
    a3 = r;
  });
  // 'a' is at its running limit; 'b' behind it is not blocked by it, but bytes are: 80 + 30 > 100.
  let b1: Release | undefined;
  void l.acquire('b', 30, never).then((r) => {
    b1 = r;
  });
  assert.equal(l.stats.queued, 2);
  assert.equal(await l.acquire('a', 10, never), undefined, "a's queue (3 running or waiting) is full");
  assert.equal(await l.acquire('c', 101, never), undefined, 'larger than the whole budget');
  a1();
  await Promise.resolve();
  assert.ok(a3 !== undefined && b1 !== undefined, 'both waiting fetches fit now');
  assert.equal(l.stats.bytesInFlight, 80);
  assert.ok(l.stats.peakBytesInFlight <= 100);
  // A waiter whose signal aborts is refused and leaves the queue.
  const ac = new AbortController();
  const waiting = l.acquire('d', 50, ac.signal);
  assert.equal(l.stats.queued, 1);
  ac.abort();
  assert.equal(await waiting, undefined);
  assert.equal(l.stats.queued, 0);
  a2();
  a3?.();
  b1?.();
  assert.equal(l.stats.bytesInFlight, 0);
  assert.equal(l.stats.refused, 3);
});

test('RateLimiter: per-key burst and refill, and a shared budget over all keys', () => {
  let now = 0;
  const r = new RateLimiter({ burst: 2, perSecond: 1, totalBurst: 3, totalPerSecond: 10 }, { now: () => now });
  assert.deepEqual([r.take('a'), r.take('a'), r.take('a')], [true, true, false]);
  assert.equal(r.take('b'), true);
  assert.equal(r.take('c'), false, 'the shared bucket is empty');
  now += 1000;
  assert.deepEqual([r.take('a'), r.take('a')], [true, false]);
});

async function target(init: Parameters<typeof createLibp2pGossip>[1] = {}): Promise<Libp2pGossip> {
  const g = await createLibp2pGossip(await createMemoryLibp2p(), init);
  closers.push(() => g.stop());
  return g;
}

async function hostile(g: Libp2pGossip): Promise<HostilePeer> {
  const h = await HostilePeer.create('memory');
  closers.push(() => h.stop());
  await h.connect(g.node.getMultiaddrs());
  return h;
}

test(
  'request framing: oversized prefixes get "request too large" at once; a stalled prefix is closed',
  { timeout: 60_000 },
  async () => {
    const g = await target({ requestReadTimeout: 300 });
    await g.handle('/test/echo', async (_from, req) => req, { maxRequestBytes: 1024, stage: 'snapshot' });
    const rejected: Rejection[] = [];
    g.addEventListener('rejected', (e) => rejected.push(e.detail));
    const h = await hostile(g);
    const ask = async (bytes: Uint8Array) =>
      HostilePeer.readAll(await h.rawRequest(g.node.peerId, '/test/echo', bytes), 30_000);
    for (const prefix of [varint(2 ** 31), varint(1025), new Uint8Array(6).fill(0xff)]) {
      const r = await ask(prefix);
      const response = parseResponse(r.bytes);
      assert.equal(response?.status, 2, `status 02 for ${[...prefix]}`);
      assert.match(new TextDecoder().decode(response?.body), /^request too large/);
      assert.equal(r.ended, 'closed');
    }
    // An incomplete prefix that never completes: closed by the responder (not by our 30 s guard).
    const stalled = await ask(Uint8Array.of(0xff, 0xff));
    assert.equal(stalled.ended, 'reset');
    assert.equal(stalled.bytes.byteLength, 0);
    // A truncated body likewise.
    assert.equal((await ask(Uint8Array.of(10, 1, 2))).ended, 'reset');
    // And a good request is still answered.
    const ok = parseResponse((await ask(Uint8Array.of(2, 7, 8))).bytes);
    assert.deepEqual([ok?.status, [...(ok?.body ?? [])]], [0, [7, 8]]);
    assert.deepEqual(
      rejected.map((r) => `${r.stage}/${r.reason}`),
      [...Array(3).fill('snapshot/request-too-large'), 'snapshot/bad-request', 'snapshot/bad-request'],
    );
  },
);

test(
  'announcements: sizes above the topic limit are lies; fetches are admitted within the budget',
  { timeout: 60_000 },
  async () => {
    const topic = '/meshfl/1/caps/updates';
    const LIMIT = 100_000;
    const g = await target({ maxFetchesQueuedPerPeer: 6 });
    g.subscribe(topic, () => {}, undefined, { maxPayloadBytes: LIMIT });
    assert.equal(g.fetchStats().maxBytes, 4 * LIMIT, 'bytes in flight: 4 x the topic limit');
    const rejected: Rejection[] = [];
    g.addEventListener('rejected', (e) => rejected.push(e.detail));
    const h = await hostile(g);
    // A source that accepts fetch requests and never answers (until released).
    const stalls: Array<() => void> = [];
    let served = 0;
    await h.servePayloads(async () => {
      served++;
      await new Promise<void>((resolve) => stalls.push(resolve));
      return undefined;
    });
    const announce = (size: number, n: number) => {
      const a = new Uint8Array(37);
      a[0] = 1;
      new DataView(a.buffer).setUint32(1, size);
      a.fill(n, 5);
      return a;
    };
    await h.publish(g.node.peerId, topic, announce(LIMIT + 1, 0));
    for (let i = 1; i <= 10; i++) await h.publish(g.node.peerId, topic, announce(LIMIT, i));
    const count = (stage: string, reason: string) =>
      rejected.filter((r) => r.stage === stage && r.reason === reason).length;
    while (count('fetch', 'busy') < 4 || served < 2) await new Promise((r) => setTimeout(r, 20));
    const stats = g.fetchStats();
    assert.equal(count('frame', 'implausible-size'), 1);
    assert.equal(stats.running, 2, 'two fetches per propagation source');
    assert.equal(stats.queued, 4, 'up to 6 running or waiting per source, the rest refused');
    assert.equal(count('fetch', 'busy'), 4);
    assert.ok(stats.peakBytesInFlight <= stats.maxBytes);
    assert.equal(served, 2);
    for (const s of stalls) s();
  },
);
