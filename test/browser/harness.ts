/**
 * A small stand-in for the daemon in browser tests: a Node libp2p node with a circuit
 * relay server and WebSockets on 127.0.0.1 running a Peer of the browser task, a second
 * Node peer connected to it over TCP, and a static HTTP server for browser/dist (built
 * here with Vite when missing).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mnistAssets } from '../../browser/build/mnist-assets.ts';
import { type AssetBytes, builtinShard, parseBuiltin } from '../../browser/src/builtin-data.ts';
import type { AssetName } from '../../browser/src/shard-layout.ts';
import { ASSETS } from '../../browser/src/shard-layout.ts';
import { MNIST_TASK } from '../../browser/src/task.ts';
import { createTaskPeer } from '../../browser/src/task-peer.ts';
import { createLibp2pGossip, type Libp2pGossip } from '../../src/net/libp2p-gossip.ts';
import { createNodeLibp2p } from '../../src/net/node-factory.ts';
import type { Peer } from '../../src/peer/peer.ts';
import { initBackend } from '../../src/train/backend.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const DIST = path.join(REPO, 'browser', 'dist');
const DIAL_TIMEOUT_MS = 10_000;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
};

/** Builds browser/dist with Vite unless it exists. */
export async function ensureBuilt(): Promise<void> {
  if (existsSync(path.join(DIST, 'index.html'))) return;
  const { build } = await import('vite');
  await build({ configFile: path.join(REPO, 'browser', 'vite.config.ts'), logLevel: 'warn' });
  if (!existsSync(path.join(DIST, 'index.html'))) throw new Error(`vite build did not produce ${DIST}/index.html`);
}

/** Serves browser/dist on 127.0.0.1; resolves to its base URL. */
export async function serveDist(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = path.join(DIST, pathname === '/' ? 'index.html' : pathname);
    if (!file.startsWith(DIST) || !existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}

export interface NodePeer {
  readonly gossip: Libp2pGossip;
  readonly peer: Peer;
  readonly accepted: Map<string, number>;
  rounds: number;
  running: Promise<void> | undefined;
}

export interface Harness {
  readonly relay: NodePeer;
  readonly other: NodePeer;
  /** The relay's WebSockets multiaddr (with /p2p/) a page dials. */
  readonly wsAddr: string;
  stop(): Promise<void>;
}

function builtinBytes(): AssetBytes {
  const byFile = new Map(mnistAssets().map((a) => [a.fileName, a.bytes]));
  return Object.fromEntries(
    (Object.keys(ASSETS) as AssetName[]).map((name) => [name, byFile.get(ASSETS[name]) as Uint8Array]),
  ) as AssetBytes;
}

/** Two Node peers of the browser task (shards 0 and 1); the first is the relay. Rounds start at once. */
export async function startHarness(): Promise<Harness> {
  await initBackend('wasm');
  const builtin = parseBuiltin(builtinBytes());
  const relayNode = await createNodeLibp2p({ loopback: true, relayServer: true });
  const otherNode = await createNodeLibp2p({ loopback: true });
  const nodePeers: NodePeer[] = [];
  for (const [index, node] of [relayNode, otherNode].entries()) {
    const gossip = await createLibp2pGossip(node);
    const peer = createTaskPeer({ task: MNIST_TASK, data: builtinShard(builtin, index), gossip, seed: 100 + index });
    const entry: NodePeer = { gossip, peer, accepted: new Map(), rounds: 0, running: undefined };
    peer.addEventListener('update:accepted', (e) =>
      entry.accepted.set(e.detail.from, (entry.accepted.get(e.detail.from) ?? 0) + 1),
    );
    peer.addEventListener('round:end', () => {
      entry.rounds++;
    });
    await peer.start();
    nodePeers.push(entry);
  }
  await otherNode.dial(relayNode.getMultiaddrs(), { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) });
  const wsAddr = relayNode
    .getMultiaddrs()
    .map((a) => a.toString())
    .find((a) => a.includes('/ws/'));
  if (!wsAddr) throw new Error(`relay has no WebSockets address: ${relayNode.getMultiaddrs().join(', ')}`);
  for (const p of nodePeers) p.running = p.peer.run();
  const [relay, other] = nodePeers as [NodePeer, NodePeer];
  return {
    relay,
    other,
    wsAddr,
    async stop() {
      await Promise.allSettled(nodePeers.map((p) => p.peer.stop()));
      await Promise.allSettled(nodePeers.map((p) => p.running));
      await Promise.allSettled(nodePeers.map((p) => p.gossip.stop()));
    },
  };
}
