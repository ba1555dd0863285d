/**
 * Healing over real libp2p nodes (memory transport): a node below its minimum of peers
 * redials its bootstrap peer until that peer is back (restarted with the same identity on
 * the same address), and a restarted node on a new address finds its old neighbour from
 * its known peers. Waits are hang guards only.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Libp2p } from '@libp2p/interface';
import { createMemoryLibp2p } from '../../src/net/memory-factory.ts';
import { Redialer } from '../../src/net/redial.ts';

const stops: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const s of stops.reverse()) await Promise.resolve(s()).catch(() => {});
});

async function until(condition: () => boolean, what: string): Promise<void> {
  const guard = Date.now() + 50_000;
  while (!condition()) {
    if (Date.now() > guard) assert.fail(`hang guard: never ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const connected = (a: Libp2p, b: Libp2p) => a.getPeers().some((p) => p.equals(b.peerId));

test('redial: the bootstrap peer restarted on the same address is reconnected', { timeout: 60_000 }, async () => {
  const key = await generateKeyPair('Ed25519');
  const address = `redial-a-${Date.now()}`;
  let a = await createMemoryLibp2p({ privateKey: key, address });
  const b = await createMemoryLibp2p();
  stops.push(() => b.stop());
  const redialer = new Redialer(b, {
    minPeers: 1,
    bootstrap: [a.getMultiaddrs()[0]?.toString() as string],
    initialBackoffMs: 50,
    maxBackoffMs: 200,
    checkIntervalMs: 50,
  });
  redialer.start();
  stops.push(() => redialer.stop());
  await until(() => connected(b, a), 'connected at start');
  await a.stop();
  await until(() => !connected(b, a), 'noticed the disconnect');
  const failedBefore = redialer.stats.failed;
  await until(() => redialer.stats.failed >= failedBefore + 2, 'retried while the peer was down');
  a = await createMemoryLibp2p({ privateKey: key, address });
  stops.push(() => a.stop());
  await until(() => connected(b, a), 'reconnected after the restart');
  assert.ok(redialer.stats.connected >= 2);
});

test('redial: a restarted node on a new address dials its known neighbour', { timeout: 60_000 }, async () => {
  const b = await createMemoryLibp2p();
  stops.push(() => b.stop());
  const known = [{ id: b.peerId.toString(), addrs: b.getMultiaddrs().map((m) => m.toString()) }];
  const a = await createMemoryLibp2p();
  stops.push(() => a.stop());
  const redialer = new Redialer(a, { minPeers: 1, known: () => known, checkIntervalMs: 50 });
  redialer.start();
  stops.push(() => redialer.stop());
  await until(() => connected(a, b), 'connected to the known neighbour');
  // At the minimum: nothing more is dialed.
  const dials = redialer.stats.dials;
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(redialer.stats.dials, dials);
});
