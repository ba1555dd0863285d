/** libp2p-specific behaviour: announce + fetch across hops, forged announcements, scoring, TCP, identity. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { createNodeLibp2p } from '../../node/node-factory.ts';
import { encodeAnnounce } from '../../src/net/frame.ts';
import type { Libp2pGossip } from '../../src/net/libp2p-gossip.ts';
import { createLibp2pGossip } from '../../src/net/libp2p-gossip.ts';
import { createMemoryLibp2p } from '../../src/net/memory-factory.ts';
import { connectTopology, waitForMesh, waitForSubscribers } from '../../src/net/topology.ts';
import { eventually, pattern, recorder, WAIT } from './harness.ts';

const running: Libp2pGossip[] = [];
after(async () => {
  await Promise.all(running.map((g) => g.stop()));
});

async function memoryGossips(n: number): Promise<Libp2pGossip[]> {
  const out: Libp2pGossip[] = [];
  for (let i = 0; i < n; i++) {
    const g = await createLibp2pGossip(await createMemoryLibp2p());
    running.push(g);
    out.push(g);
  }
  return out;
}

test('a 6 MB payload crosses two hops: the far node fetches it from its neighbour, not the author', async () => {
  const [a, b, c] = await memoryGossips(3);
  await a.node.dial(b.node.getMultiaddrs());
  await b.node.dial(c.node.getMultiaddrs());
  const rc = recorder();
  a.subscribe('line', () => {});
  b.subscribe('line', () => {});
  c.subscribe('line', rc.handler);
  await waitForMesh([a.node, b.node, c.node], 'line', { timeout: WAIT });
  assert.ok(!c.peers().includes(a.id), 'c must not be connected to the author');
  const payload = pattern(6 * 1024 * 1024, 3);
  const res = await a.publish('line', payload);
  assert.equal(res.recipients, 1);
  await eventually(() => rc.messages.length === 1, 'payload at c');
  assert.equal(rc.messages[0].from, a.id);
  assert.deepEqual(rc.messages[0].data, payload);
  assert.ok(b.cachedPayloadBytes() >= payload.byteLength, 'b kept the payload to serve c');
  assert.ok(!c.peers().includes(a.id), 'c fetched without dialing the author');
});

test('an announcement nobody can serve is ignored, not delivered', async () => {
  const [a, b] = await memoryGossips(2);
  await a.node.dial(b.node.getMultiaddrs());
  const rb = recorder();
  b.subscribe('forged', rb.handler);
  a.subscribe('forged', () => {});
  await waitForSubscribers([a.node, b.node], 'forged', { timeout: WAIT });
  // bypass Libp2pGossip.publish: announce a payload a never cached
  await a.node.services.pubsub.publish('forged', encodeAnnounce(2_000_000, new Uint8Array(32).fill(9)));
  await a.publish('forged', new TextEncoder().encode('real'));
  await eventually(() => rb.messages.length >= 1, 'real message');
  assert.deepEqual(
    rb.messages.map((m) => new TextDecoder().decode(m.data)),
    ['real'],
  );
});

test('penalize lowers the gossipsub score of a peer', async () => {
  const [a, b] = await memoryGossips(2);
  await a.node.dial(b.node.getMultiaddrs());
  await eventually(() => a.peers().includes(b.id), 'connection');
  const before = a.score(b.id);
  a.penalize(b.id, 'test');
  await eventually(() => a.score(b.id) <= before - 9, `score to drop by ~10 (was ${before}, now ${a.score(b.id)})`);
});

test('three nodes over TCP on 127.0.0.1: inline and announced payloads', async () => {
  const gossips: Libp2pGossip[] = [];
  for (let i = 0; i < 3; i++) {
    const g = await createLibp2pGossip(await createNodeLibp2p({ loopback: true }));
    running.push(g);
    gossips.push(g);
  }
  for (const g of gossips) {
    for (const ma of g.node.getMultiaddrs()) assert.match(ma.toString(), /^\/ip4\/127\.0\.0\.1\//);
  }
  await connectTopology(
    gossips.map((g) => g.node),
    { kind: 'full' },
  );
  // Plaintext is for the in-process memory transport only: TCP connections are noise.
  for (const g of gossips) {
    for (const c of g.node.getConnections()) assert.equal(c.encryption, '/noise', 'a TCP connection is noise');
  }
  const recs = gossips.map(() => recorder());
  for (const [i, g] of gossips.entries()) g.subscribe('tcp', recs[i].handler);
  await waitForSubscribers(
    gossips.map((g) => g.node),
    'tcp',
    { timeout: WAIT },
  );
  const small = pattern(100_000, 5);
  const large = pattern(2 * 1024 * 1024, 6);
  await gossips[0].publish('tcp', small);
  await gossips[1].publish('tcp', large);
  await eventually(
    () => recs[1].messages.length === 1 && recs[2].messages.length === 2 && recs[0].messages.length === 1,
    'deliveries over TCP',
  );
  assert.deepEqual(recs[1].messages[0].data, small);
  assert.deepEqual(recs[0].messages[0].data, large);
  assert.deepEqual(
    recs[2].messages.map((m) => m.data.byteLength).sort((x, y) => x - y),
    [small.byteLength, large.byteLength],
  );
});

test('memory nodes connect in plaintext, a noise-only memory node in noise; both carry requests', async () => {
  const [a, b] = await memoryGossips(2);
  const c = await createLibp2pGossip(await createMemoryLibp2p({ encryption: 'noise' }));
  running.push(c);
  for (const g of [b, c]) {
    await g.handle('/test/echo/1', async (from, request) => new Uint8Array([...request, from === a.id ? 1 : 0]));
  }
  await a.node.dial(b.node.getMultiaddrs());
  await a.node.dial(c.node.getMultiaddrs());
  const encryption = (g: Libp2pGossip, to: Libp2pGossip): string | undefined =>
    g.node.getConnections(to.node.peerId)[0]?.encryption;
  assert.equal(encryption(a, b), '/plaintext/2.0.0');
  assert.equal(encryption(b, a), '/plaintext/2.0.0');
  assert.equal(encryption(a, c), '/noise', 'noise is offered second, for peers that speak only noise');
  assert.equal(encryption(c, a), '/noise');
  // The remote id is the one its key says, and a request/response exchange goes through.
  const large = pattern(300_000, 4);
  assert.deepEqual(await a.fetch(b.id, '/test/echo/1', large), new Uint8Array([...large, 1]));
  assert.deepEqual(await a.fetch(c.id, '/test/echo/1', large), new Uint8Array([...large, 1]));
});

test('only the memory factory uses plaintext: the node and browser factories offer noise alone', () => {
  for (const file of ['../../node/node-factory.ts', '../../src/net/browser-factory.ts']) {
    const source = readFileSync(new URL(file, import.meta.url), 'utf8');
    assert.doesNotMatch(source, /@libp2p\/plaintext|plaintext\(/, `${file} must not use plaintext`);
    assert.match(source, /connectionEncrypters: \[noise\(\)\]/, `${file} encrypts with noise`);
  }
});

test('a private key gives a persistent peer id', async () => {
  const key = await generateKeyPair('Ed25519');
  const first = await createMemoryLibp2p({ privateKey: key });
  const id = first.peerId.toString();
  await first.stop();
  const second = await createMemoryLibp2p({ privateKey: key });
  try {
    assert.equal(second.peerId.toString(), id);
  } finally {
    await second.stop();
  }
});

test('the browser factory imports no Node-only module', async () => {
  const forbidden = [/^node:/, /^@libp2p\/(tcp|mdns|memory)$/, /^(fs|net|os|path|dgram)$/];
  const seen = new Set<string>();
  const visit = (url: URL): void => {
    if (seen.has(url.href)) return;
    seen.add(url.href);
    const source = readFileSync(url, 'utf8');
    // value imports only: `import type` is erased
    for (const match of source.matchAll(/^import (?!type )[^'"]*from '([^']+)';/gm)) {
      const spec = match[1];
      assert.ok(!forbidden.some((re) => re.test(spec)), `${url.pathname} imports ${spec}`);
      if (spec.startsWith('.')) visit(new URL(spec, url));
    }
  };
  visit(new URL('../../src/net/browser-factory.ts', import.meta.url));
  assert.ok(seen.size >= 3);
  const mod = await import('../../src/net/browser-factory.ts');
  assert.equal(typeof mod.createBrowserLibp2p, 'function');
});
