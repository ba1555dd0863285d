/**
 * End to end: two real daemon processes and two headless Chromium pages served by one of
 * them. Both daemons run `npm start`'s default config unchanged (only data dir, ports,
 * shard and bootstrap are set by flags). Daemon A runs the relay (circuit relay v2 +
 * WebSockets) and serves browser/dist; daemon B bootstraps to A. The pages are opened at
 * `/` with no query string: they read A's /status and /task (the default TaskSpec) and
 * join with no clicks, reach each other over a direct WebRTC
 * connection, exchange updates with each other and with A, both daemons merge both pages,
 * and the pages' accuracy rises. A is then killed (SIGKILL): both pages show the lost connection as an error, and
 * after A restarts (same HTTP port, new libp2p ports) they reconnect and exchange updates
 * with it again. Closing one page does not stall the daemons.
 * Needs /usr/bin/chromium (CI: apt-get install -y chromium). Screenshots: test-output/browser/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import type { AppState } from '../../browser/src/state.ts';
import { DaemonProcess, freePort, tempDir } from '../daemon/harness.ts';
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
/** A page notices a lost daemon within its link check interval; reconnecting waits for A to start. */
const LOST_TIMEOUT_MS = 60_000;
const RECONNECT_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 15_000;
/** How long a busy daemon may take to answer /status (each request times out after 10 s). */
const POLL_MS = 500;
const ROUNDS = 4;
const DAEMON_ROUNDS_AFTER_CLOSE = 3;
const MIN_ACCURACY_GAIN = 0.05;
/** Two pages, opened at `/` with no query string (each picks a built-in data shard itself). */
const PAGE_NAMES = ['page 0', 'page 1'] as const;

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

/** `npm start`'s config, as is: the pages must federate with the default daemon. */
const DEFAULT_CONFIG = path.resolve('node/daemon/default-config.json');
const LOOPBACK_LISTEN = '/ip4/127.0.0.1/tcp/0,/ip4/127.0.0.1/tcp/0/ws';

/**
 * Flags that let several default daemons share one machine (data dir, ports, shard,
 * bootstrap); nothing about the task changes.
 */
function placement(dataDir: string, http: string, shard: number, bootstrap: readonly string[]): string[] {
  return [
    '--config',
    DEFAULT_CONFIG,
    '--data-dir',
    dataDir,
    '--listen',
    LOOPBACK_LISTEN,
    '--http',
    http,
    '--shard-index',
    String(shard),
    ...(bootstrap.length > 0 ? ['--bootstrap', bootstrap.join(',')] : []),
  ];
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

/**
 * Polls `check` on the page's state until it returns true; fails with `what` and the last
 * state. While `paused` holds, the timeout starts over (a wait counted in the page's rounds).
 */
async function waitForState(
  page: Page,
  what: string,
  timeoutMs: number,
  check: (s: AppState) => boolean,
  context: () => string = () => '',
  paused: (s: AppState) => boolean = () => false,
) {
  let deadline = Date.now() + timeoutMs;
  let last: AppState | undefined;
  while (Date.now() < deadline) {
    last = await state(page);
    if (last !== undefined && check(last)) return last;
    if (last !== undefined && paused(last)) deadline = Date.now() + timeoutMs;
    if (last?.phase.kind === 'failed') break;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  const brief = last && {
    phase: last.phase,
    link: last.link,
    round: last.round,
    connections: last.connections,
    neighbours: last.neighbours,
    rejected: last.rejected.slice(0, 3),
    errors: last.errors,
  };
  throw new Error(`timed out waiting for ${what}; page state: ${JSON.stringify(brief, null, 1)}\n${context()}`);
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
  // A busy machine with a page that shuns the restarted daemon twice (16 rounds) needs more than 10 minutes.
  { timeout: 900_000 },
  async (t) => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install it with "apt-get install -y chromium"`);
    await ensureBuilt();
    mkdirSync(SCREENSHOTS, { recursive: true });

    const tmp = tempDir('meshfl-browser-e2e-');
    cleanups.push(async () => tmp.remove());
    // Every daemon process started, restarted ones included; stopped at the end.
    const started: DaemonProcess[] = [];
    cleanups.push(() => Promise.all(started.map(stopDaemon)));
    const placements = new Map<string, string[]>();
    const startDaemon = (name: string, shard: number, http: string, bootstrap: readonly string[]): DaemonProcess => {
      const args = placement(path.join(tmp.dir, name), http, shard, bootstrap);
      placements.set(name, args);
      const d = new DaemonProcess(args);
      started.push(d);
      return d;
    };
    /** Restarts a daemon with the same flags and data dir (same peer id and HTTP port). */
    const restartDaemon = (name: string): DaemonProcess => {
      const d = new DaemonProcess(placements.get(name) as string[]);
      started.push(d);
      return d;
    };
    // The daemons now running: A is replaced when it restarts.
    const daemons: DaemonProcess[] = [];
    const tails = (): string => daemons.map((d, i) => `daemon ${i}:\n${d.tail(6)}`).join('\n');

    // Daemon A: relay, WebSockets, serves the page on a fixed HTTP port (pages re-read its
    // /status there after it restarts). Daemon B bootstraps to A over TCP.
    const aHttp = `127.0.0.1:${await freePort()}`;
    let a = startDaemon('a', 0, aHttp, []);
    daemons.push(a);
    await a.waitForLog((l) => l.msg === 'peer started', 'A started', START_TIMEOUT_MS);
    const aStatus = await statusOf(a);
    const aId = aStatus.peerId as string;
    const defaultTask = JSON.parse((await a.get('/task')).body) as { taskId: string; model: unknown };
    assert.equal(aStatus.taskId, defaultTask.taskId);
    assert.ok(
      (aStatus.browserMultiaddrs as string[]).some((m) => /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws\/p2p\//.test(m)),
      `A offers browsers a loopback WebSockets address: ${JSON.stringify(aStatus.browserMultiaddrs)}`,
    );
    const bootstrap = (aStatus.multiaddrs as string[]).filter((m) => /\/tcp\/\d+\/p2p\//.test(m));
    assert.equal(bootstrap.length, 1, `A has one TCP multiaddr: ${JSON.stringify(aStatus.multiaddrs)}`);
    const b = startDaemon('b', 1, '127.0.0.1:0', bootstrap);
    daemons.push(b);
    await b.waitForLog((l) => l.msg === 'peer started', 'B started', START_TIMEOUT_MS);
    const bId = (await statusOf(b)).peerId as string;
    const daemonIds = [aId, bId];
    await waitFor(
      'A and B connected',
      CONNECT_TIMEOUT_MS,
      async () => (((await a.status().catch(() => ({ peers: [] }))).peers as string[]) ?? []).includes(bId),
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

    // The pages are served by A, find its addresses and task id in its /status, and join
    // and train with no clicks (no ?autostart either).
    const pages: Page[] = [];
    const consoleErrors: string[] = [];
    for (const shard of PAGE_NAMES) {
      const page = await context.newPage();
      page.on('console', (m) => {
        if (m.type() === 'error') consoleErrors.push(`${shard}: ${m.text()}`);
      });
      page.on('pageerror', (e) => consoleErrors.push(`${shard}: ${e.message}`));
      await page.goto(`${a.httpUrl}/`);
      pages.push(page);
    }
    const [pageA, pageB] = pages as [Page, Page];
    /** Failure context: every open page's state in brief, the daemons' neighbours and log tails. */
    const everything = async (): Promise<string> => {
      const briefs = await Promise.all(
        pages.map(async (p, i) => {
          if (p.isClosed()) return `page ${i}: closed`;
          const s = await state(p).catch(() => undefined);
          return `page ${i}: ${JSON.stringify(s && { peerId: s.peerId, phase: s.phase, link: s.link, round: s.round, connections: s.connections.map((c) => `${c.peer.slice(-6)}:${c.transport}${c.limited ? '(limited)' : ''}`), neighbours: s.neighbours.map((n) => `${n.peer.slice(-6)}:${n.updates}:${n.dial?.kind ?? '-'}`), rejected: s.rejected.slice(0, 3), errors: s.errors.slice(0, 3) })}`;
        }),
      );
      const statuses = await Promise.all(
        daemons.map(async (d, i) => {
          if (d.exit) return `daemon ${i}: exited`;
          const st = await d.status().catch(() => undefined);
          return `daemon ${i}: ${JSON.stringify(st && { peerId: st.peerId, round: st.round, peers: st.peers, neighbours: st.neighbours })}`;
        }),
      );
      return [...briefs, ...statuses, tails()].join('\n');
    };
    let lastContext = '';
    const failureContext = (): string => lastContext;
    const contextRefresher = setInterval(() => {
      everything().then(
        (text) => {
          lastContext = text;
        },
        () => {},
      );
    }, 5_000);
    cleanups.push(async () => clearInterval(contextRefresher));

    // Both pages connect and train.
    const running = await Promise.all(
      pages.map((p) =>
        waitForState(p, 'the page to run', CONNECT_TIMEOUT_MS, (s) => s.phase.kind === 'running', tails),
      ),
    );
    const ids = running.map((s) => s.peerId as string);
    for (const s of running) assert.equal(s.taskId, defaultTask.taskId, "the page joined the daemon's task");
    const t0 = Date.now();
    const since = (): string => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
    t.diagnostic(`backends: ${running.map((s) => s.backend).join(', ')}`);

    // Daemons record which pages they merged (/status neighbours); the list only holds
    // recent senders, so remember every sighting while the test runs. Index 0 is whichever
    // process is A at the time; a restarted A starts a fresh set.
    let heardByDaemon = daemonIds.map(() => new Set<string>());
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
        waitForState(
          p,
          `a WebRTC connection to the other page`,
          CONNECT_TIMEOUT_MS,
          (s) => s.connections.some((c) => c.peer === ids[1 - i] && c.transport === 'webrtc' && !c.limited),
          failureContext,
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
          `${ROUNDS} rounds with updates from the other page and from A`,
          ROUNDS_TIMEOUT_MS,
          // From the other page and from A. B reaches a page only through A's gossip, so a
          // page that missed B's keyframe waits for the next one (every 10 of B's rounds,
          // minutes on a loaded machine): B's side is checked below, where B merges the pages.
          (s) =>
            s.history.length >= ROUNDS &&
            [ids[1 - i], aId].every((id) => s.neighbours.some((n) => n.peer === id && n.updates > 0)),
          failureContext,
        ),
      ),
    );
    t.diagnostic(
      `updates from the other page and A after ${since()}; updates per page: ` +
        trained.map((s) => s.neighbours.map((n) => `${n.peer.slice(-4)}:${n.updates}`).join(' ')).join(' | '),
    );
    // Accuracy rises above the first round's (50 local steps already reach ~0.7 with the
    // default task, so the rise takes some rounds of merging; waited for, not sampled).
    const rose = await Promise.all(
      pages.map((p, i) =>
        waitForState(
          p,
          `page ${i}'s merged accuracy to rise ${MIN_ACCURACY_GAIN} above its first round's`,
          ROUNDS_TIMEOUT_MS,
          (s) => (s.history.at(-1)?.merged ?? 0) > (s.history[0]?.local ?? 1) + MIN_ACCURACY_GAIN,
          failureContext,
        ),
      ),
    );
    for (const [i, s] of rose.entries()) {
      const first = s.history[0]?.local ?? 1;
      const last = s.history.at(-1)?.merged ?? 0;
      t.diagnostic(`page ${i}: accuracy ${first.toFixed(3)} -> ${last.toFixed(3)} over ${s.history.length} rounds`);
    }
    await waitFor(
      'both daemons to merge updates from both pages',
      ROUNDS_TIMEOUT_MS,
      () => heardByDaemon.every((heard) => ids.every((id) => heard.has(id))),
      () => `${JSON.stringify(heardByDaemon.map((h) => [...h]))}\n${tails()}`,
    );
    for (const d of daemons) {
      assert.ok((await accepted(d)) > 0, 'each daemon accepted updates');
      assert.equal(await wrongFingerprints(d), 0, 'the daemon and the pages run the same task');
    }
    for (const p of pages) {
      const rejected = (await state(p)).rejected.filter((r) => r.reason === 'wrong-fingerprint');
      assert.deepEqual(rejected, [], 'the page rejected no update as wrong-fingerprint');
    }
    t.diagnostic(`both daemons merged both pages after ${since()}`);
    for (const [i, p] of pages.entries())
      await p.screenshot({ path: path.join(SCREENSHOTS, `page-${i}.png`), fullPage: true });

    // Kill A: the pages show the lost daemon as an error (not a quiet solo run) ...
    a.signal('SIGKILL');
    await a.exited;
    const fromA = async (p: Page): Promise<number> =>
      (await state(p)).neighbours.find((n) => n.peer === aId)?.updates ?? 0;
    const updatesFromA = await Promise.all(pages.map(fromA));
    await Promise.all(
      pages.map((p) =>
        waitForState(p, 'the page to notice the lost daemon', LOST_TIMEOUT_MS, (s) => s.link?.kind === 'lost'),
      ),
    );
    for (const p of pages) {
      const shown = await p.locator('#status').textContent();
      assert.match(shown ?? '', /lost the connection to the daemon/, `the page says so: ${shown}`);
      assert.equal(await p.locator('#status').getAttribute('data-phase'), 'lost');
    }
    await pageA.screenshot({ path: path.join(SCREENSHOTS, 'page-0-daemon-lost.png'), fullPage: true });
    t.diagnostic(`both pages show the lost daemon after ${since()}`);

    // ... and after A restarts (same id and HTTP port, new libp2p ports) they reconnect and
    // exchange updates with it again.
    a = restartDaemon('a');
    daemons[0] = a;
    heardByDaemon = daemonIds.map(() => new Set<string>());
    await a.waitForLog((l) => l.msg === 'peer started', 'A restarted', START_TIMEOUT_MS);
    assert.equal((await statusOf(a)).peerId, aId, 'A kept its peer id');
    await Promise.all(
      pages.map((p) =>
        waitForState(
          p,
          'the page to reconnect to the restarted daemon',
          RECONNECT_TIMEOUT_MS,
          (s) => s.link?.kind === 'connected' && s.link.reconnects >= 1,
          tails,
        ),
      ),
    );
    t.diagnostic(`both pages reconnected after ${since()}`);
    await Promise.all(
      pages.map(async (p, i) => {
        const before = updatesFromA[i];
        // A page may shun the restarted daemon (its first models can be behind the pages'),
        // for SHUN_TERM_ROUNDS of the page's rounds, doubled for a second shun: the wait for
        // its updates starts when the page's shun of it is over, however long its rounds are.
        await waitForState(
          p,
          'updates from the restarted daemon',
          ROUNDS_TIMEOUT_MS,
          (s) => (s.neighbours.find((n) => n.peer === aId)?.updates ?? 0) > before,
          tails,
          (s) => (s.neighbours.find((n) => n.peer === aId)?.shunnedUntil ?? 0) > s.round,
        );
      }),
    );
    await waitFor(
      'the restarted daemon to merge updates from both pages',
      ROUNDS_TIMEOUT_MS,
      () => ids.every((id) => heardByDaemon[0]?.has(id)),
      () => `${JSON.stringify([...(heardByDaemon[0] ?? [])])}\n${tails()}`,
    );
    // (it may have merged the pages first from snapshots, which are not counted as updates)
    await waitFor(
      'the restarted daemon to accept updates',
      ROUNDS_TIMEOUT_MS,
      async () => (await accepted(a).catch(() => 0)) > 0,
      tails,
    );
    t.diagnostic(`updates flow with the restarted daemon after ${since()}`);
    // Whom the pages shunned (a restarted daemon's models are behind for a while), and why
    // their merges rejected each neighbour's models: shown, not asserted.
    for (const [i, p] of pages.entries()) {
      const now = await state(p);
      const shunned = now.neighbours.filter((n) => n.shunnedUntil !== undefined);
      const name = (id: string) =>
        id === aId ? 'A' : id === bId ? 'B' : ids.includes(id) ? PAGE_NAMES[ids.indexOf(id)] : id.slice(-6);
      const text = shunned.map((n) => `${name(n.peer)} until round ${n.shunnedUntil}`);
      t.diagnostic(`${PAGE_NAMES[i]} (round ${now.round}) shuns: ${text.join(', ') || 'none'}`);
      const rejections = now.neighbours
        .filter((n) => Object.keys(n.mergeRejections).length > 0)
        .map((n) => `${name(n.peer)}: ${JSON.stringify(n.mergeRejections)}`);
      t.diagnostic(`${PAGE_NAMES[i]} merge rejections: ${rejections.join('; ') || 'none'}`);
    }
    await pageA.screenshot({ path: path.join(SCREENSHOTS, 'page-0-reconnected.png'), fullPage: true });

    // Closing a page does not stall the daemons (nor the other page).
    await pageB.close();
    const roundsAtClose = await Promise.all(daemons.map(async (d) => (await statusOf(d)).round as number));
    const pageRound = (await state(pageA)).round;
    await waitFor(
      `daemons to finish ${DAEMON_ROUNDS_AFTER_CLOSE} more rounds`,
      ROUNDS_TIMEOUT_MS,
      async () => {
        const now = await Promise.all(daemons.map(async (d) => (await statusOf(d)).round as number));
        return now.every((r, i) => r >= roundsAtClose[i] + DAEMON_ROUNDS_AFTER_CLOSE);
      },
      tails,
    );
    await waitForState(pageA, 'the remaining page to keep going', ROUNDS_TIMEOUT_MS, (s) => s.round >= pageRound + 2);
    await pageA.screenshot({ path: path.join(SCREENSHOTS, 'page-0-after-close.png'), fullPage: true });
    for (const d of daemons) assert.equal(d.exit, undefined, `daemon still running\n${d.tail()}`);
    assert.deepEqual(
      // \b404\b: a status, not a port such as ws://127.0.0.1:40439 (the dropped connection
      // to the killed daemon is expected and logged by Chromium itself).
      consoleErrors.filter((e) => /meshfl|favicon|\b404\b/.test(e)),
      [],
      'no meshfl errors and no missing files in the page consoles',
    );
  },
);

const statusOf = (d: DaemonProcess): Promise<Record<string, unknown>> => d.status();
const metricsOf = async (d: DaemonProcess): Promise<string> => (await d.get('/metrics')).body;

/** A daemon's wrong-fingerprint rejections, summed over stages. */
async function wrongFingerprints(d: DaemonProcess): Promise<number> {
  const metrics = await metricsOf(d);
  let total = 0;
  for (const m of metrics.matchAll(/^meshfl_updates_rejected_total\{([^}]*)\} (\S+)$/gm)) {
    if ((m[1] ?? '').includes('reason="wrong-fingerprint"')) total += Number(m[2]);
  }
  return total;
}

/** A daemon's meshfl_updates_accepted_total. */
async function accepted(d: DaemonProcess): Promise<number> {
  const metrics = await metricsOf(d);
  return Number(/^meshfl_updates_accepted_total (\S+)$/m.exec(metrics)?.[1]);
}
