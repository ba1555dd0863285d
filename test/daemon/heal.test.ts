/**
 * Healing with real daemon processes (issue 14, problem 1: B never reconnected to a
 * restarted A). B bootstraps to A. A is killed with SIGKILL, stays down 8 s, and restarts
 * on the same port without its peers.json: only B's redial can heal, and B merges A's new
 * updates. A is killed again and restarted on another port: B's bootstrap address is now
 * dead, and A finds B from its peers.json.
 * The heal times are reported (diagnostics), not asserted: hang guards only.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { DaemonProcess, freePort, killAll, smallConfig, tempDir, waitFor, writeConfig } from './harness.ts';

const tmp = tempDir('meshfl-daemon-heal-');
after(async () => {
  await killAll();
  tmp.remove();
});

/** Hang guard for one heal (generous: start-up alone takes seconds on a busy machine). */
const HEAL_GUARD_MS = 150_000;

const round = { localSteps: 2, minFreshUpdates: 1, deadline: { initialMs: 500, minMs: 200, maxMs: 1000 } };

function startA(port: number): DaemonProcess {
  const file = writeConfig(tmp.dir, `a-${port}.json`, {
    ...smallConfig(path.join(tmp.dir, 'a'), 0),
    listen: [`/ip4/127.0.0.1/tcp/${port}`],
    round,
  });
  return new DaemonProcess(['--config', file]);
}

function knows(name: string, id: string): boolean {
  try {
    return readFileSync(path.join(tmp.dir, name, 'peers.json'), 'utf8').includes(id);
  } catch {
    return false;
  }
}

interface Heard {
  peer: string;
  seq: number;
}

async function merged(b: DaemonProcess, peer: string, afterSeq: number): Promise<boolean> {
  if (!b.logs.some((l) => l.msg === 'http listening')) return false;
  const s = await b.status();
  const last = s.lastMerge as { used: Heard[] } | null;
  return last?.used.some((u) => u.peer === peer && u.seq > afterSeq) ?? false;
}

/** Kills A, restarts it (on `port`), and returns seconds from the restart to B merging A's new updates. */
async function restartAndHeal(
  a: DaemonProcess,
  b: DaemonProcess,
  port: number,
  options: { downMs: number; forgetPeers: boolean },
): Promise<{ a: DaemonProcess; fromSpawn: number; fromListening: number }> {
  const status = await a.status();
  const id = status.peerId as string;
  const seq = status.seq as number;
  a.signal('SIGKILL');
  await a.exited;
  await waitFor(async () => !((await b.status()).peers as string[]).includes(id), 'B noticed A is gone');
  // Down for a while (B's redials fail and back off); optionally A forgets its neighbours,
  // so that only B's redial can heal (issue 14's scenario).
  await new Promise((r) => setTimeout(r, options.downMs));
  if (options.forgetPeers) rmSync(path.join(tmp.dir, 'a', 'peers.json'), { force: true });
  const spawned = Date.now();
  const next = startA(port);
  const listening = await next.waitForLog((l) => l.msg === 'libp2p listening', 'A listening', HEAL_GUARD_MS);
  const listenedAt = Date.parse(listening.time as string);
  await waitFor(
    () => merged(b, id, seq),
    `B merging A's updates after seq ${seq}`,
    HEAL_GUARD_MS,
    () => b.tail(),
  );
  const healed = Date.now();
  return { a: next, fromSpawn: (healed - spawned) / 1000, fromListening: (healed - listenedAt) / 1000 };
}

test(
  'a restarted peer (same port, then a new port) is reconnected and merged again',
  { timeout: 600_000 },
  async (t) => {
    const port = await freePort();
    let a = startA(port);
    await a.waitForLog((l) => l.msg === 'peer started', 'A started');
    const aId = (await a.status()).peerId as string;
    const bootstrap = [`/ip4/127.0.0.1/tcp/${port}/p2p/${aId}`];
    const b = new DaemonProcess([
      '--config',
      writeConfig(tmp.dir, 'b.json', { ...smallConfig(path.join(tmp.dir, 'b'), 1), bootstrap, round }),
    ]);
    await waitFor(
      () => merged(b, aId, 0),
      'B merging A',
      undefined,
      () => b.tail(),
    );
    // A has saved B in its peers.json (a second after they connected).
    const bId = (await b.status()).peerId as string;
    await waitFor(() => knows('a', bId), 'A saved B in peers.json');
    const same = await restartAndHeal(a, b, port, { downMs: 8000, forgetPeers: true });
    a = same.a;
    assert.ok(
      a.logs.some((l) => l.msg === 'healing' && l.knownPeers === 0),
      'A restarted without known peers: B redialed it',
    );
    await waitFor(
      () => knows('a', bId),
      'restarted A saved B in peers.json',
      undefined,
      () =>
        a.logs
          .filter((l) => l.msg !== 'round done')
          .slice(-30)
          .map((l) => JSON.stringify(l).slice(0, 300))
          .join('\n'),
    );
    const moved = await restartAndHeal(a, b, await freePort(), { downMs: 2000, forgetPeers: false });
    a = moved.a;
    assert.ok(
      a.logs.some((l) => l.msg === 'healing' && (l.knownPeers as number) >= 1),
      'A restarted on a new port knowing B from peers.json',
    );
    t.diagnostic(
      `heal seconds (restart -> B merges A's new updates): same port ${same.fromSpawn.toFixed(1)} from spawn / ${same.fromListening.toFixed(1)} from listening; new port ${moved.fromSpawn.toFixed(1)} / ${moved.fromListening.toFixed(1)}`,
    );
    for (const d of [a, b]) d.signal('SIGTERM');
    for (const d of [a, b]) assert.deepEqual(await d.exited, { code: 0, signal: null }, d.tail());
  },
);
