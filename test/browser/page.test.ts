/**
 * The page's logic outside a browser: the daemon link over real libp2p nodes (memory
 * transport) losing its daemon and finding it again at a new address, the backoff, the
 * training speed, the lost-link message and the URL parameters. Waits are hang guards only.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Multiaddr } from '@multiformats/multiaddr';
import { LINK_BACKOFF_MAX_MS, LINK_BACKOFF_MIN_MS } from '../../browser/src/constants.ts';
import { DaemonLink, type LinkState, linkBackoffMs } from '../../browser/src/daemon-link.ts';
import { readUrlParams } from '../../browser/src/params.ts';
import { TrainingSpeed } from '../../browser/src/speed.ts';
import { linkText } from '../../browser/src/view.ts';
import { createMemoryLibp2p } from '../../src/net/memory-factory.ts';

const stops: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const s of stops.reverse()) await Promise.resolve(s()).catch(() => {});
});

async function until(condition: () => boolean, what: string): Promise<void> {
  const guard = Date.now() + 60_000;
  while (!condition()) {
    if (Date.now() > guard) assert.fail(`hang guard: never ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test(
  'daemon link: a lost daemon is reported, redialled, and found again at its new address',
  { timeout: 90_000 },
  async () => {
    const key = await generateKeyPair('Ed25519');
    let daemon = await createMemoryLibp2p({ privateKey: key, address: `link-daemon-${Date.now()}` });
    const page = await createMemoryLibp2p();
    stops.push(() => page.stop());
    const first = daemon.getMultiaddrs()[0];
    await page.dial(first);
    // The daemon's current address, as its /status would give it (undefined while it is down).
    let current: Multiaddr | undefined = first;
    const states: LinkState[] = [];
    const link = new DaemonLink({
      node: page,
      addr: first,
      resolve: async () => current,
      dial: async (addr, signal) => {
        await page.dial(addr, { signal: AbortSignal.any([signal, AbortSignal.timeout(5_000)]) });
      },
      onChange: (s) => states.push(s),
    });
    link.start();
    stops.push(() => link.stop());
    assert.equal(link.state.kind, 'connected');

    await daemon.stop();
    current = undefined;
    await until(() => link.state.kind === 'lost', 'noticed the lost daemon');
    await until(() => link.state.kind === 'lost' && link.state.attempt >= 2, 'retried while the daemon was down');
    const lost = link.state as LinkState;
    assert.ok(lost.kind === 'lost' && lost.error !== undefined, 'the failed dial is reported');

    daemon = await createMemoryLibp2p({ privateKey: key, address: `link-daemon-moved-${Date.now()}` });
    stops.push(() => daemon.stop());
    current = daemon.getMultiaddrs()[0];
    await until(() => link.state.kind === 'connected', 'reconnected at the new address');
    assert.deepEqual(link.state.kind === 'connected' && link.state.reconnects, 1);
    assert.equal(link.addr.toString(), current.toString(), 'the link follows the daemon to its new address');
    assert.ok(page.getPeers().some((p) => p.equals(daemon.peerId)));
    assert.ok(states.some((s) => s.kind === 'lost') && states.at(-1)?.kind === 'connected');
  },
);

test('daemon link: stop() ends a redial loop in progress', { timeout: 30_000 }, async () => {
  const daemon = await createMemoryLibp2p();
  const page = await createMemoryLibp2p();
  stops.push(() => page.stop());
  const addr = daemon.getMultiaddrs()[0];
  await page.dial(addr);
  let dials = 0;
  const link = new DaemonLink({
    node: page,
    addr,
    resolve: async () => undefined,
    dial: async (a, signal) => {
      dials++;
      await page.dial(a, { signal });
    },
    onChange: () => {},
  });
  link.start();
  await daemon.stop();
  await until(() => dials >= 1, 'a redial started');
  await link.stop();
  const after = dials;
  await new Promise((r) => setTimeout(r, LINK_BACKOFF_MIN_MS * 2));
  assert.equal(dials, after, 'no dial after stop()');
});

test('link backoff doubles from the minimum and is capped', () => {
  assert.equal(linkBackoffMs(1), LINK_BACKOFF_MIN_MS);
  assert.equal(linkBackoffMs(2), 2 * LINK_BACKOFF_MIN_MS);
  assert.equal(linkBackoffMs(50), LINK_BACKOFF_MAX_MS);
});

test('a lost link is an error line naming the attempt and the last failure; a live one says nothing', () => {
  const now = 100_000;
  const text = linkText({ kind: 'lost', since: now - 12_000, attempt: 3, error: 'ECONNREFUSED' }, now);
  assert.match(
    text ?? '',
    /^Error: lost the connection to the daemon 12 s ago; reconnecting, attempt 3 \(last try: ECONNREFUSED\)/,
  );
  assert.equal(linkText({ kind: 'connected', since: now, reconnects: 2 }, now), undefined);
  assert.equal(linkText(undefined, now), undefined);
});

test('training speed: samples per second over recent rounds, round 0 (warm-up) left out', () => {
  const speed = new TrainingSpeed(8 * 32);
  assert.equal(speed.samplesPerSecond(), undefined);
  speed.push({ round: 0, trainMs: 10_000 });
  assert.equal(speed.samplesPerSecond(), undefined);
  speed.push({ round: 1, trainMs: 100 });
  speed.push({ round: 2, trainMs: 300 });
  assert.equal(speed.samplesPerSecond(), (2 * 256 * 1000) / 400);
});

test('URL parameters: autostart is on by default when a daemon is known, ?autostart=0 waits, others are refused', () => {
  const at = (search: string) => ({ search, hostname: '127.0.0.1' }) as Location;
  assert.equal(readUrlParams(at('?shard=1')).autostart, undefined);
  assert.equal(readUrlParams(at('?shard=1&autostart=0')).autostart, false);
  assert.equal(readUrlParams(at('?shard=1&autostart=1')).autostart, true);
  assert.throws(() => readUrlParams(at('?shard=1&autostart=yes')), /autostart=yes must be 1 or 0/);
  assert.throws(() => readUrlParams(at('?shard=99')), /shard=99/);
  assert.equal(readUrlParams(at('?shard=0')).loopbackPage, true);
});

test('URL parameters: neighbours default to D = 8 with the Peer\'s gossip steps; "all", D and steps are validated', () => {
  const at = (search: string) => ({ search, hostname: '127.0.0.1' }) as Location;
  const plain = readUrlParams(at('?shard=1'));
  assert.equal(plain.neighbours, 8);
  assert.equal(plain.gossipSteps, undefined);
  assert.equal(readUrlParams(at('?shard=1&neighbours=all')).neighbours, 'all');
  assert.equal(readUrlParams(at('?shard=1&neighbours=12&gossipSteps=3')).neighbours, 12);
  assert.equal(readUrlParams(at('?shard=1&neighbours=12&gossipSteps=3')).gossipSteps, 3);
  for (const bad of ['0', '-1', '1.5', 'x', '', '10001'])
    assert.throws(() => readUrlParams(at(`?shard=1&neighbours=${bad}`)), /neighbours=.* must be "all" or an integer/);
  for (const bad of ['0', '9', '1.5', 'two', ''])
    assert.throws(
      () => readUrlParams(at(`?shard=1&gossipSteps=${bad}`)),
      /gossipSteps=.* must be an integer in \[1, 8\]/,
    );
});
