/**
 * End to end: two real daemon processes and two headless Chromium pages served by one of
 * them. Daemon A runs the relay (circuit relay v2 + WebSockets) and serves browser/dist;
 * daemon B bootstraps to A. Both daemons run the page's task (browser/src/task.ts). The
 * pages read A's /status, connect, reach each other over a direct WebRTC connection,
 * exchange updates with each other and with both daemons, their accuracy rises, and
 * closing one page does not stall the daemons.
 * Needs /usr/bin/chromium (CI: apt-get install -y chromium). Screenshots: test-output/browser/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import type { AppState } from '../../browser/src/state.ts';
import { MNIST_TASK } from '../../browser/src/task.ts';
import { DaemonProcess, tempDir, writeConfig } from '../daemon/harness.ts';
import { ensureBuilt } from './harness.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];
const SCREENSHOTS = path.resolve('test-output', 'browser');
/** Generous waits: a slow, busy 2-core machine runs two pages and two daemons. */
const START_TIMEOUT_MS = 90_000;
const CONNECT_TIMEOUT_MS = 90_000;
const ROUNDS_TIMEOUT_MS = 150_000;
const STOP_TIMEOUT_MS = 15_000;
const POLL_MS = 500;
const ROUNDS = 4;
const DAEMON_ROUNDS_AFTER_CLOSE = 3;
const MIN_ACCURACY_GAIN = 0.05;
/** Pages train on shards 2 and 3 of the built-in data; the daemons on shares 0 and 1 of MNIST. */
const PAGE_SHARDS = [2, 3] as const;

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

/** A daemon config of the page's task: same task id, model, initial-model seed, codec and keyframes. */
function taskConfig(dataDir: string, index: number, extra: Record<string, unknown>): Record<string, unknown> {
  const task = MNIST_TASK;
  return {
    dataDir,
    taskId: task.taskId,
    model: task.model,
    dataset: { kind: 'mnist', shard: { index, of: 2, seed: 3, limit: 2000 }, evaluationSamples: 500 },
    strategy: task.strategy,
    codec: task.codec,
    mdns: false,
    http: { address: '127.0.0.1:0' },
    round: {
      localSteps: task.localSteps,
      minFreshUpdates: 3,
      staleAfterRounds: 5,
      keyframeInterval: task.keyframeInterval,
      deadline: { initialMs: 2000, minMs: 500, maxMs: 6000 },
    },
    optimizer: { learningRate: task.learningRate },
    resources: { batchSize: task.batchSize, backend: 'wasm' },
    seed: task.modelSeed,
    logLevel: 'info',
    ...extra,
  };
}

/** SIGTERM, then SIGKILL if the daemon has not exited in time. */
async function stopDaemon(d: DaemonProcess): Promise<void> {
  if (d.exit) return;
  d.signal('SIGTERM');
  const timer = setTimeout(() => d.signal('SIGKILL'), STOP_TIMEOUT_MS);
  await d.exited;
  clearTimeout(timer);
}

async function state(page: Page): Promise<AppState> {
  return (await page.evaluate(() => (globalThis as unknown as { __meshfl: unknown }).__meshfl)) as AppState;
}

/** Polls `check` on the page's state until it returns true; fails with `what` and the last state. */
async function waitForState(page: Page, what: string, timeoutMs: number, check: (s: AppState) => boolean) {
  const deadline = Date.now() + timeoutMs;
  let last: AppState | undefined;
  while (Date.now() < deadline) {
    last = await state(page);
    if (last !== undefined && check(last)) return last;
    if (last?.phase.kind === 'failed') break;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  const brief = last && {
    phase: last.phase,
    round: last.round,
    connections: last.connections,
    neighbours: last.neighbours,
    errors: last.errors,
  };
  throw new Error(`timed out waiting for ${what}; page state: ${JSON.stringify(brief, null, 1)}`);
}

async function waitFor(
  what: string,
  timeoutMs: number,
  check: () => boolean | Promise<boolean>,
  context: () => string = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${context()}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

test(
  'two daemons and two browser pages served by one of them train together over WebSockets and WebRTC',
  { timeout: 300_000 },
  async (t) => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install it with "apt-get install -y chromium"`);
    await ensureBuilt();
    mkdirSync(SCREENSHOTS, { recursive: true });

    const tmp = tempDir('meshfl-browser-e2e-');
    cleanups.push(async () => tmp.remove());
    const daemons: DaemonProcess[] = [];
    cleanups.push(() => Promise.all(daemons.map(stopDaemon)));
    const startDaemon = (name: string, index: number, extra: Record<string, unknown>): DaemonProcess => {
      const file = writeConfig(tmp.dir, `${name}.json`, taskConfig(path.join(tmp.dir, name), index, extra));
      const d = new DaemonProcess(['--config', file]);
      daemons.push(d);
      return d;
    };
    const tails = (): string => daemons.map((d, i) => `daemon ${i}:\n${d.tail(6)}`).join('\n');

    // Daemon A: relay, WebSockets, serves the page. Daemon B bootstraps to A over TCP.
    const a = startDaemon('a', 0, { relay: true, listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'] });
    await a.waitForLog((l) => l.msg === 'peer started', 'A started', START_TIMEOUT_MS);
    const aStatus = await a.status();
    const aId = aStatus.peerId as string;
    assert.equal(aStatus.taskId, MNIST_TASK.taskId);
    assert.ok(
      (aStatus.browserMultiaddrs as string[]).some((m) => /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws\/p2p\//.test(m)),
      `A offers browsers a loopback WebSockets address: ${JSON.stringify(aStatus.browserMultiaddrs)}`,
    );
    const bootstrap = (aStatus.multiaddrs as string[]).filter((m) => /\/tcp\/\d+\/p2p\//.test(m));
    assert.equal(bootstrap.length, 1, `A has one TCP multiaddr: ${JSON.stringify(aStatus.multiaddrs)}`);
    const b = startDaemon('b', 1, { listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'], bootstrap });
    await b.waitForLog((l) => l.msg === 'peer started', 'B started', START_TIMEOUT_MS);
    const bId = (await b.status()).peerId as string;
    const daemonIds = [aId, bId];
    await waitFor(
      'A and B connected',
      CONNECT_TIMEOUT_MS,
      async () => ((await a.status()).peers as string[]).includes(bId),
      tails,
    );

    const userDataDir = mkdtempSync(path.join(tmpdir(), 'meshfl-chromium-'));
    cleanups.push(async () => rmSync(userDataDir, { recursive: true, force: true }));
    const context: BrowserContext = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
    });
    cleanups.push(() => context.close());

    // The pages are served by A and find its addresses and task id in its /status.
    const pages: Page[] = [];
    const consoleErrors: string[] = [];
    for (const shard of PAGE_SHARDS) {
      const page = await context.newPage();
      page.on('console', (m) => {
        if (m.type() === 'error') consoleErrors.push(`shard ${shard}: ${m.text()}`);
      });
      page.on('pageerror', (e) => consoleErrors.push(`shard ${shard}: ${e.message}`));
      await page.goto(`${a.httpUrl}/?${new URLSearchParams({ shard: String(shard), autostart: '1' })}`);
      pages.push(page);
    }
    const [pageA, pageB] = pages as [Page, Page];

    // Both pages connect and train.
    const running = await Promise.all(
      pages.map((p) => waitForState(p, 'the page to run', CONNECT_TIMEOUT_MS, (s) => s.phase.kind === 'running')),
    );
    const ids = running.map((s) => s.peerId as string);
    for (const s of running) assert.equal(s.taskId, MNIST_TASK.taskId, "the page joined the daemon's task");
    const started = Date.now();
    const since = (): string => `${((Date.now() - started) / 1000).toFixed(1)} s`;
    t.diagnostic(`backends: ${running.map((s) => s.backend).join(', ')}`);

    // Daemons record which pages they merged (/status neighbours); the list only holds
    // recent senders, so remember every sighting while the test runs.
    const heardByDaemon = daemonIds.map(() => new Set<string>());
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        for (const [i, d] of daemons.entries()) {
          if (d.exit) continue;
          const neighbours = (await d.status().catch(() => ({ neighbours: [] }))).neighbours as string[];
          for (const id of neighbours) heardByDaemon[i]?.add(id);
        }
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    })();
    cleanups.push(async () => {
      watching = false;
      await watcher;
    });

    // The pages hold a direct (not relay-limited) WebRTC connection to each other.
    const direct = await Promise.all(
      pages.map((p, i) =>
        waitForState(p, `a WebRTC connection to the other page`, CONNECT_TIMEOUT_MS, (s) =>
          s.connections.some((c) => c.peer === ids[1 - i] && c.transport === 'webrtc' && !c.limited),
        ),
      ),
    );
    t.diagnostic(`WebRTC between the pages after ${since()}`);
    const webrtc = direct.flatMap((s, i) =>
      s.connections.filter((c) => c.peer === ids[1 - i] && c.transport === 'webrtc' && !c.limited),
    );
    assert.ok(webrtc.every((c) => c.remoteAddr.includes('/webrtc')));
    // The listening side sees the plain /webrtc address: no relay in the data path.
    assert.ok(
      webrtc.some((c) => !c.remoteAddr.includes('/p2p-circuit')),
      `a /webrtc remote address without /p2p-circuit: ${JSON.stringify(webrtc)}`,
    );
    for (const s of direct) {
      assert.ok(
        s.connections.some((c) => c.peer === aId && c.transport === 'websockets'),
        `connected to daemon A (the relay) over WebSockets: ${JSON.stringify(s.connections)}`,
      );
    }

    // Rounds run; updates flow page <-> page and page <-> both daemons; accuracy rises.
    const trained = await Promise.all(
      pages.map((p, i) =>
        waitForState(
          p,
          `${ROUNDS} rounds with updates from every peer`,
          ROUNDS_TIMEOUT_MS,
          (s) =>
            s.history.length >= ROUNDS &&
            [ids[1 - i], ...daemonIds].every((id) => s.neighbours.some((n) => n.peer === id && n.updates > 0)),
        ),
      ),
    );
    t.diagnostic(
      `updates from every peer after ${since()}; updates per page: ` +
        trained.map((s) => s.neighbours.map((n) => `${n.peer.slice(-4)}:${n.updates}`).join(' ')).join(' | '),
    );
    for (const [i, s] of trained.entries()) {
      const first = s.history[0]?.local ?? 1;
      const last = s.history.at(-1)?.merged ?? 0;
      t.diagnostic(`page ${i}: accuracy ${first.toFixed(3)} -> ${last.toFixed(3)} over ${s.history.length} rounds`);
      assert.ok(last > first + MIN_ACCURACY_GAIN, `page ${i} accuracy rose: ${first} -> ${last}`);
    }
    await waitFor(
      'both daemons to merge updates from both pages',
      ROUNDS_TIMEOUT_MS,
      () => heardByDaemon.every((heard) => ids.every((id) => heard.has(id))),
      () => `${JSON.stringify(heardByDaemon.map((h) => [...h]))}\n${tails()}`,
    );
    for (const d of daemons) {
      const metrics = (await d.get('/metrics')).body;
      const accepted = Number(/^meshfl_updates_accepted_total (\S+)$/m.exec(metrics)?.[1]);
      assert.ok(accepted > 0, `daemon accepted updates (meshfl_updates_accepted_total ${accepted})`);
    }
    t.diagnostic(`both daemons merged both pages after ${since()}`);
    for (const [i, p] of pages.entries())
      await p.screenshot({ path: path.join(SCREENSHOTS, `page-${i}.png`), fullPage: true });

    // Closing a page does not stall the daemons (nor the other page).
    await pageB.close();
    const roundsAtClose = await Promise.all(daemons.map(async (d) => (await d.status()).round as number));
    const pageRound = (await state(pageA)).round;
    await waitFor(
      `daemons to finish ${DAEMON_ROUNDS_AFTER_CLOSE} more rounds`,
      ROUNDS_TIMEOUT_MS,
      async () => {
        const now = await Promise.all(daemons.map(async (d) => (await d.status()).round as number));
        return now.every((r, i) => r >= (roundsAtClose[i] as number) + DAEMON_ROUNDS_AFTER_CLOSE);
      },
      tails,
    );
    await waitForState(pageA, 'the remaining page to keep going', ROUNDS_TIMEOUT_MS, (s) => s.round >= pageRound + 2);
    await pageA.screenshot({ path: path.join(SCREENSHOTS, 'page-0-after-close.png'), fullPage: true });
    for (const d of daemons) assert.equal(d.exit, undefined, `daemon still running\n${d.tail()}`);
    assert.deepEqual(
      consoleErrors.filter((e) => /meshfl/.test(e)),
      [],
      'no meshfl errors in the page consoles',
    );
  },
);
