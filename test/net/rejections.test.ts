/**
 * Every refused message is reported with its stage, reason and peer (issue 14: a rogue
 * peer's 2,032 malformed messages showed as 0): gossipsub's own drops (undecodable RPCs,
 * bad signatures, oversized frames, everything from a graylisted peer), bad frames and
 * implausible announcements, and payload fetches that fail. A hostile libp2p peer with
 * no gossipsub of its own writes the raw RPCs.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { Rejection } from '../../src/net/gossip.ts';
import { createLibp2pGossip, type Libp2pGossip } from '../../src/net/libp2p-gossip.ts';
import { createMemoryLibp2p } from '../../src/net/memory-factory.ts';
import { sha256 } from '../../src/net/util.ts';
import { HostilePeer } from './hostile.ts';

const TOPIC = '/meshfl/1/rejections/updates';
const MAX_INBOUND = 256 * 1024;
const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
});

async function until(condition: () => boolean, what: string, seen: () => unknown): Promise<void> {
  // Hang guard only: the test's own timeout bounds the wait.
  while (!condition()) {
    await new Promise((r) => setTimeout(r, 20));
    if (Date.now() > deadline) assert.fail(`never saw ${what}: ${JSON.stringify(seen())}`);
  }
}
let deadline = 0;

test('every refusal below the Peer is reported with stage, reason and peer', { timeout: 120_000 }, async () => {
  deadline = Date.now() + 100_000;
  const gossip: Libp2pGossip = await createLibp2pGossip(
    await createMemoryLibp2p({ gossip: { maxInboundDataLength: MAX_INBOUND } }),
    { maxPayloadBytes: 1024 * 1024 },
  );
  closers.push(() => gossip.stop());
  assert.equal(gossip.messageRejectsVisible, true, 'the gossipsub hooks are installed');
  const delivered: Uint8Array[] = [];
  gossip.subscribe(TOPIC, (m) => delivered.push(m.data));
  const events: Rejection[] = [];
  gossip.addEventListener('rejected', (e) => events.push(e.detail));
  const count = (stage: string, reason: string) =>
    events.filter((e) => e.stage === stage && e.reason === reason).reduce((n, e) => n + e.count, 0);

  const evil = await HostilePeer.create('memory');
  closers.push(() => evil.stop());
  await evil.connect(gossip.node.getMultiaddrs());
  const target = gossip.node.peerId;
  const frame = (kind: number, rest: Uint8Array) => new Uint8Array([kind, ...rest]);

  // A valid inline message is delivered (the hostile peer's raw RPCs work at all).
  await evil.publish(target, TOPIC, frame(0, Uint8Array.of(1, 2, 3)));
  await until(
    () => delivered.length === 1,
    'the valid message',
    () => events,
  );

  // fetch: an announcement whose payload the (only) source serves as junk.
  const payload = new Uint8Array(100_000).fill(7);
  const hash = await sha256(payload);
  await evil.servePayloads(async () => new Uint8Array(100_000).fill(9));
  const announce = new Uint8Array(37);
  announce[0] = 1;
  new DataView(announce.buffer).setUint32(1, payload.byteLength);
  announce.set(hash, 5);
  await evil.publish(target, TOPIC, announce);
  await until(
    () => count('fetch', 'unavailable') === 1,
    'fetch/unavailable',
    () => events,
  );
  assert.equal(count('fetch', 'bad-payload'), 1);

  // frame: an announcement beyond maxPayloadBytes (ignored, no fetch).
  const huge = announce.slice();
  new DataView(huge.buffer).setUint32(1, 64 * 1024 * 1024);
  await evil.publish(target, TOPIC, huge);
  await until(
    () => count('frame', 'announce-too-large') === 1,
    'frame/announce-too-large',
    () => events,
  );

  // message: bytes that are not an RPC, and a message with a bad signature.
  await evil.sendRpcFrames(target, [Uint8Array.of(0xff, 0xff, 0xff, 0xff)]);
  await until(
    () => count('message', 'undecodable-rpc') === 1,
    'message/undecodable-rpc',
    () => events,
  );
  await evil.sendRpcFrames(target, [
    HostilePeer.rpc([await evil.message(TOPIC, frame(0, Uint8Array.of(4)), { badSignature: true })]),
  ]);
  await until(
    () => count('message', 'invalid-invalid-signature') === 1,
    'message/invalid-signature',
    () => events,
  );

  // frame: unknown frame kinds, until gossipsub graylists the sender (score below -80).
  for (let i = 0; i < 3; i++) await evil.publish(target, TOPIC, frame(7, Uint8Array.of(i)));
  await until(
    () => count('frame', 'bad-frame') === 3,
    'frame/bad-frame x3',
    () => events,
  );
  await until(
    () => gossip.score(evil.id) < -80,
    'graylisting',
    () => gossip.score(evil.id),
  );
  // gossipsub keeps accepting, for 1 s, a peer whose score was >= 0 at an earlier RPC (its
  // acceptFrom whitelist): wait that out.
  await new Promise((r) => setTimeout(r, 1500));

  // message: everything from a graylisted peer is dropped before validation, and counted.
  const two = [
    await evil.message(TOPIC, frame(0, Uint8Array.of(5))),
    await evil.message(TOPIC, frame(0, Uint8Array.of(6))),
  ];
  await evil.sendRpcFrames(target, [HostilePeer.rpc(two)]);
  await until(
    () => count('message', 'graylisted') === 2,
    'message/graylisted x2',
    () => events,
  );

  // message: a frame longer than maxInboundDataLength (gossipsub drops the stream).
  await evil.sendRpcFrames(target, [new Uint8Array(MAX_INBOUND + 1)]);
  await until(
    () => count('message', 'rpc-too-large') === 1,
    'message/rpc-too-large',
    () => events,
  );

  assert.equal(delivered.length, 1, 'nothing but the valid message was delivered');
  for (const e of events) assert.equal(e.peer, evil.id, `${e.stage}/${e.reason} names the hostile peer`);
});
