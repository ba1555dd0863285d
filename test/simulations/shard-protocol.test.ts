/**
 * What shards tell each other, validated: roster entries need a real peer id and
 * multiaddrs, and a shard's roster may only list its own peers (never replacing ours).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { mergeRosters } from '../../simulations/shard/network.ts';
import { decodeState, encodeJson, parseRoster, ShardProtocolError } from '../../simulations/shard/protocol.ts';
import { shardOfPeer } from '../../simulations/shard/slice.ts';

const id = async (): Promise<string> => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
const ADDR = '/ip4/127.0.0.1/tcp/4001';

test('roster entries must carry a peer id and multiaddrs', async () => {
  const good = await id();
  assert.deepEqual(parseRoster({ 3: { id: good, addrs: [ADDR] } }), { 3: { id: good, addrs: [ADDR] } });
  const cases: Array<[unknown, RegExp]> = [
    [{ 3: { id: 'not-a-peer-id', addrs: [ADDR] } }, /state\.roster\[3\]\.id: "not-a-peer-id" is not a peer id/],
    [{ 3: { id: good, addrs: ['/ip4/999.1.1.1/tcp/1'] } }, /state\.roster\[3\]\.addrs\[0\]: .* is not a multiaddr/],
    [{ 3: { id: good, addrs: [] } }, /at least one address/],
    [{ '03': { id: good, addrs: [ADDR] } }, /bad peer index "03"/],
    [{ '-1': { id: good, addrs: [ADDR] } }, /bad peer index "-1"/],
  ];
  for (const [roster, message] of cases)
    assert.throws(
      () => parseRoster(roster),
      (err: Error) => err instanceof ShardProtocolError && message.test(err.message),
      JSON.stringify(roster),
    );
  // Through the whole state message too.
  const state = { shard: 1, shards: 2, scenario: 'x', hubs: [], progress: null, collected: 0, aborted: false };
  assert.throws(
    () => decodeState(encodeJson({ ...state, roster: { 0: { id: 'x', addrs: [ADDR] } } })),
    /not a peer id/,
  );
});

test('a shard may list only its own peers and never replaces a local entry', async () => {
  const peers = 6;
  const shardOf = (p: number): number => shardOfPeer(peers, 2, p);
  const mine = { id: await id(), addrs: [ADDR] };
  const theirs = { id: await id(), addrs: ['/ip4/127.0.0.1/tcp/4002'] };
  const local = new Map([[0, mine]]);
  const progress = { strategy: 0, phase: 'roster' as const };
  const merged = mergeRosters(local, [{ shard: 1, progress, roster: { 3: theirs } }], 0, peers, shardOf);
  assert.deepEqual([...merged.keys()].sort(), [0, 3]);
  // Another strategy's roster is not used.
  assert.equal(
    mergeRosters(
      local,
      [{ shard: 1, progress: { ...progress, strategy: 1 }, roster: { 3: theirs } }],
      0,
      peers,
      shardOf,
    ).size,
    1,
  );
  assert.throws(
    () => mergeRosters(local, [{ shard: 1, progress, roster: { 0: theirs } }], 0, peers, shardOf),
    /shard 1's roster lists peer 0, which shard 0 runs/,
  );
  assert.throws(
    () => mergeRosters(local, [{ shard: 1, progress, roster: { 6: theirs } }], 0, peers, shardOf),
    /lists peer 6, outside 0\.\.5/,
  );
  assert.equal(merged.get(0), mine);
});
