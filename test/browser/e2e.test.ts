/**
 * End to end: two headless Chromium pages (the built browser peer) join two Node peers
 * (the harness: one with the relay server). Both pages connect, reach each other over a
 * direct WebRTC connection, exchange updates with each other and with the Node peers,
 * their accuracy rises, and closing one page does not stall the Node peers.
 * Needs /usr/bin/chromium (CI: apt-get install -y chromium). Screenshots: test-output/browser/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import type { AppState } from '../../browser/src/state.ts';
import { ensureBuilt, type Harness, serveDist, startHarness } from './harness.ts';

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
/** Generous waits: a slow, busy 2-core machine runs two pages and two Node peers. */
const CONNECT_TIMEOUT_MS = 90_000;
const ROUNDS_TIMEOUT_MS = 150_000;
const POLL_MS = 500;
const ROUNDS = 4;
const NODE_ROUNDS_AFTER_CLOSE = 3;
const MIN_ACCURACY_GAIN = 0.05;

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

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

async function waitFor(what: string, timeoutMs: number, check: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

test(
  'two browser pages and two Node peers train together over WebSockets and WebRTC',
  {
    timeout: 300_000,
  },
  async (t) => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install it with "apt-get install -y chromium"`);
    await ensureBuilt();
    mkdirSync(SCREENSHOTS, { recursive: true });

    const { url, server } = await serveDist();
    cleanups.push(() => new Promise<void>((resolve) => (server as Server).close(() => resolve())));
    const harness: Harness = await startHarness();
    cleanups.push(() => harness.stop());

    const userDataDir = mkdtempSync(path.join(tmpdir(), 'meshfl-chromium-'));
    cleanups.push(async () => rmSync(userDataDir, { recursive: true, force: true }));
    const context: BrowserContext = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
    });
    cleanups.push(() => context.close());

    const pages: Page[] = [];
    const consoleErrors: string[] = [];
    for (const shard of [2, 3]) {
      const page = await context.newPage();
      page.on('console', (m) => {
        if (m.type() === 'error') consoleErrors.push(`shard ${shard}: ${m.text()}`);
      });
      page.on('pageerror', (e) => consoleErrors.push(`shard ${shard}: ${e.message}`));
      const query = new URLSearchParams({ bootstrap: harness.wsAddr, shard: String(shard), autostart: '1' });
      await page.goto(`${url}index.html?${query}`);
      pages.push(page);
    }
    const [a, b] = pages as [Page, Page];

    // Both pages connect and train.
    const running = await Promise.all(
      pages.map((p) => waitForState(p, 'the page to run', CONNECT_TIMEOUT_MS, (s) => s.phase.kind === 'running')),
    );
    const ids = running.map((s) => s.peerId as string);
    const started = Date.now();
    const since = (): string => `${((Date.now() - started) / 1000).toFixed(1)} s`;
    t.diagnostic(`backends: ${running.map((s) => s.backend).join(', ')}`);

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
    const relayId = harness.relay.gossip.id;
    for (const s of direct) {
      assert.ok(
        s.connections.some((c) => c.peer === relayId && c.transport === 'websockets'),
        'connected to the relay over WebSockets',
      );
    }

    // Rounds run; updates flow browser <-> browser and browser <-> Node; accuracy rises.
    const nodeIds = [harness.relay.gossip.id, harness.other.gossip.id];
    const trained = await Promise.all(
      pages.map((p, i) =>
        waitForState(
          p,
          `${ROUNDS} rounds with updates from every peer`,
          ROUNDS_TIMEOUT_MS,
          (s) =>
            s.history.length >= ROUNDS &&
            [ids[1 - i], ...nodeIds].every((id) => s.neighbours.some((n) => n.peer === id && n.updates > 0)),
        ),
      ),
    );
    t.diagnostic(
      `updates from every peer after ${since()}; Node peer rounds ${harness.relay.rounds}, ${harness.other.rounds}; ` +
        `first update per page: ${trained.map((s) => s.neighbours.map((n) => `${n.peer.slice(-4)}:${n.updates}`).join(' ')).join(' | ')}`,
    );
    for (const [i, s] of trained.entries()) {
      const first = s.history[0]?.local ?? 1;
      const last = s.history.at(-1)?.merged ?? 0;
      t.diagnostic(`page ${i}: accuracy ${first.toFixed(3)} -> ${last.toFixed(3)} over ${s.history.length} rounds`);
      assert.ok(last > first + MIN_ACCURACY_GAIN, `page ${i} accuracy rose: ${first} -> ${last}`);
    }
    await waitFor('Node peers to accept updates from both pages', ROUNDS_TIMEOUT_MS, () =>
      [harness.relay, harness.other].every((n) => ids.every((id) => (n.accepted.get(id) ?? 0) > 0)),
    );
    for (const [i, p] of pages.entries())
      await p.screenshot({ path: path.join(SCREENSHOTS, `page-${i}.png`), fullPage: true });

    // Closing a page does not stall the Node peers (nor the other page).
    await b.close();
    const after = [harness.relay.rounds, harness.other.rounds];
    const pageRound = (await state(a)).round;
    await waitFor(`Node peers to finish ${NODE_ROUNDS_AFTER_CLOSE} more rounds`, ROUNDS_TIMEOUT_MS, () =>
      [harness.relay, harness.other].every((n, i) => n.rounds >= (after[i] as number) + NODE_ROUNDS_AFTER_CLOSE),
    );
    await waitForState(a, 'the remaining page to keep going', ROUNDS_TIMEOUT_MS, (s) => s.round >= pageRound + 2);
    await a.screenshot({ path: path.join(SCREENSHOTS, 'page-0-after-close.png'), fullPage: true });
    assert.deepEqual(
      consoleErrors.filter((e) => /meshfl/.test(e)),
      [],
      'no meshfl errors in the page consoles',
    );
  },
);
