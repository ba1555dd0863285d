/**
 * A peer in a web page: joins the swarm through a relay (a meshfl daemon started with a
 * circuit-relay server), trains in the browser with the tfjs wasm backend and reports
 * each round to the page. Bundle it with any bundler (Vite, esbuild: platform "browser")
 * and serve the tfjs .wasm files (from @tensorflow/tfjs-backend-wasm/dist) at WASM_PATH.
 *
 * The relay address comes from the page URL: page.html?relay=/ip4/.../ws/p2p/12D3...
 *
 * The task is defined here (synthetic stand-in data). To take part in a daemon's task
 * instead, ask it: `GET /task` on its HTTP address, or `fetchTask(gossip, daemonPeerId)`
 * over libp2p once connected; both give a validated TaskSpec, and your data must fit it.
 */
import {
  createBrowserLibp2p,
  createLibp2pGossip,
  createPeer,
  makeSynthetic,
  parseTaskSpec,
  partitionDataset,
  peerDataFor,
  type RoundSummary,
} from 'meshfl';

/** Where the page serves tfjs-backend-wasm's .wasm files (a URL prefix ending in '/'). */
const WASM_PATH = '/wasm/';

/** Every peer of this task builds the same model from it: a small MLP on 8x8 synthetic samples. */
const TASK = parseTaskSpec({
  taskId: 'browser-demo',
  dataset: 'synthetic',
  model: { kind: 'mlp', hidden: [32] },
  codec: 'topk:0.1+int8',
});

export async function joinSwarm(relay: string, show: (line: string) => void): Promise<() => Promise<void>> {
  const node = await createBrowserLibp2p({ bootstrap: [relay] });
  const gossip = await createLibp2pGossip(node);
  // Stand-in data: a real page would load its user's own samples (e.g. parseIdx on a fetched file).
  const { train } = makeSynthetic({ seed: Date.now() % 1000 });
  const [share] = partitionDataset(train, { kind: 'iid' }, { peers: 1, seed: 0 });
  const peer = await createPeer(TASK, {
    gossip,
    data: peerDataFor(train, share),
    seed: Date.now() % 1000,
    backendOptions: { wasmPaths: WASM_PATH },
  });
  peer.addEventListener('round:end', (e: CustomEvent<RoundSummary>) => {
    const r = e.detail;
    show(`round ${r.round}: ${r.candidates} neighbour models, accuracy ${r.merged?.overall.toFixed(3) ?? 'n/a'}`);
  });
  await peer.start();
  const running = peer.run();
  return async () => {
    await peer.stop();
    await running;
    await node.stop();
  };
}

const relay = new URLSearchParams(globalThis.location?.search ?? '').get('relay');
if (relay !== null) {
  const log = document.createElement('pre');
  document.body.append(log);
  await joinSwarm(relay, (line) => {
    log.textContent += `${line}\n`;
  });
}
