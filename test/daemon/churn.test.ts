/**
 * Churn with real daemon processes (issue 14, "How to verify it"): 4 daemons; at seeded
 * random moments one is killed with SIGKILL, stays down a seeded while, and restarts on
 * the same port or a new one. Checked each time: the mesh heals (an old neighbour merges
 * the restarted peer's new updates; the time is measured and reported, only a hang guard
 * bounds it), no checkpoint is lost (it resumes from its newest checkpoint, and every
 * checkpoint file is intact), and seqs are monotone (for every observer, the seq it holds
 * of every peer never decreases, and a restarted peer publishes above its old seqs).
 * At the end the mean accuracy is at least what it was at the first kill.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { DataStore } from '../../node/daemon/store.ts';
import { decodeModelFile } from '../../src/model/model-file.ts';
import { DaemonProcess, freePort, killAll, smallConfig, tempDir, waitFor, writeConfig } from './harness.ts';

const tmp = tempDir('meshfl-daemon-churn-');
after(async () => {
  await killAll();
  tmp.remove();
});

const N = 4;
const KILLS = 4;
const SEED = 1214;
/** Hang guard of one heal: start-up alone takes seconds on a busy 2-core machine. */
const HEAL_GUARD_MS = 150_000;
const round = { localSteps: 2, minFreshUpdates: 2, deadline: { initialMs: 800, minMs: 200, maxMs: 1500 } };

/** mulberry32: a small seeded generator for kill times, victims, down times and ports. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Node {
  readonly name: string;
  readonly index: number;
  port: number;
  d: DaemonProcess;
  id: string;
}

function spawn(node: Pick<Node, 'name' | 'index' | 'port'>, bootstrap: string[]): DaemonProcess {
  const file = writeConfig(tmp.dir, `${node.name}-${node.port}.json`, {
    ...smallConfig(path.join(tmp.dir, node.name), node.index),
    dataset: { kind: 'synthetic', shard: { index: node.index, of: N, seed: 3 }, evaluationSamples: 200 },
    listen: [`/ip4/127.0.0.1/tcp/${node.port}`],
    bootstrap,
    round,
    // Slow learning: accuracy still rises through the churn (the synthetic task is easy).
    optimizer: { learningRate: 0.002 },
  });
  return new DaemonProcess(['--config', file]);
}

async function status(d: DaemonProcess): Promise<Record<string, unknown> | undefined> {
  if (d.exit !== undefined || !d.logs.some((l) => l.msg === 'http listening')) return undefined;
  try {
    return await d.status();
  } catch {
    return undefined;
  }
}

function meanAccuracy(nodes: readonly Node[], lastRounds = 3): number {
  const per = nodes.map((n) => {
    const acc = n.d
      .rounds()
      .map((r) => r.mergedAccuracy)
      .filter((x): x is number => typeof x === 'number')
      .slice(-lastRounds);
    return acc.reduce((s, x) => s + x, 0) / Math.max(1, acc.length);
  });
  return per.reduce((s, x) => s + x, 0) / per.length;
}

test(
  'churn: 4 daemons, seeded SIGKILLs and restarts; heals, keeps checkpoints, seqs monotone',
  { timeout: 900_000 },
  async (t) => {
    const random = rng(SEED);
    const nodes: Node[] = [];
    for (let i = 0; i < N; i++) {
      const node = { name: `n${i}`, index: i, port: await freePort() };
      const first = nodes[0];
      const d = spawn(node, first === undefined ? [] : [`/ip4/127.0.0.1/tcp/${first.port}/p2p/${first.id}`]);
      await d.waitForLog((l) => l.msg === 'peer started', `${node.name} started`);
      nodes.push({ ...node, d, id: (await d.status()).peerId as string });
    }
    // Seq monotonicity as every observer sees it, sampled all along.
    const held = new Map<string, number>();
    const violations: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        for (const o of nodes) {
          const s = await status(o.d);
          for (const h of (s?.heard as Array<{ peer: string; seq: number }> | undefined) ?? []) {
            const key = `${o.name}<-${h.peer}`;
            if (h.seq < (held.get(key) ?? 0)) violations.push(`${key}: ${held.get(key)} -> ${h.seq}`);
            held.set(key, Math.max(h.seq, held.get(key) ?? 0));
          }
        }
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
    t.after(() => {
      sampling = false;
    });

    const mergedBy = async (observer: Node, peer: string, afterSeq: number): Promise<boolean> => {
      const s = await status(observer.d);
      const used = (s?.lastMerge as { used: Array<{ peer: string; seq: number }> } | null)?.used ?? [];
      return used.some((u) => u.peer === peer && u.seq > afterSeq);
    };
    // Everyone merges someone before the churn starts.
    await waitFor(
      async () =>
        (
          await Promise.all(
            nodes.map(async (n) => ((await status(n.d))?.lastMerge as { used: unknown[] } | null)?.used.length ?? 0),
          )
        ).every((k) => k > 0),
      'every daemon merging',
      undefined,
      () => nodes.map((n) => n.d.tail(3)).join('\n'),
    );

    let accuracyAtFirstKill: number | undefined;
    const heals: string[] = [];
    for (let k = 0; k < KILLS; k++) {
      await new Promise((r) => setTimeout(r, 2000 + random() * 4000));
      const victim = nodes[Math.floor(random() * N)];
      const downMs = 1000 + random() * 5000;
      const samePort = random() < 0.5;
      accuracyAtFirstKill ??= meanAccuracy(nodes);
      const before = await victim.d.status();
      const seqBefore = before.seq as number;
      victim.d.signal('SIGKILL');
      await victim.d.exited;
      const store = new DataStore(path.join(tmp.dir, victim.name), 3);
      const newest = store.newestCheckpoint(victim.id, 'daemon-test').checkpoint;
      assert.ok(newest, `${victim.name} has a checkpoint when killed`);
      for (const f of store.checkpointFiles()) decodeModelFile(readFileSync(f), f); // every file intact
      await new Promise((r) => setTimeout(r, downMs));
      if (!samePort) victim.port = await freePort();
      const spawned = Date.now();
      victim.d = spawn(victim, []);
      const resumed = await victim.d.waitForLog(
        (l) => l.msg === 'resumed from checkpoint',
        `${victim.name} resumed`,
        HEAL_GUARD_MS,
      );
      assert.equal(resumed.round, newest.meta.round, 'resumed from its newest checkpoint: none lost');
      assert.ok((resumed.resumeAfterSeq as number) >= seqBefore, 'publishes above every seq it had published');
      const others = nodes.filter((n) => n !== victim);
      await waitFor(
        async () => (await Promise.all(others.map((o) => mergedBy(o, victim.id, seqBefore)))).some(Boolean),
        `an old neighbour merging ${victim.name}'s new updates`,
        HEAL_GUARD_MS,
        () => victim.d.tail(),
      );
      const seconds = (Date.now() - spawned) / 1000;
      heals.push(
        `${victim.name} (${samePort ? 'same' : 'new'} port, down ${(downMs / 1000).toFixed(1)} s): ${seconds.toFixed(1)} s`,
      );
    }
    // Some rounds after the last heal, then the final accuracy.
    const target = nodes.map((n) => n.d.rounds().length + 5);
    await waitFor(() => nodes.every((n, i) => n.d.rounds().length >= target[i]), 'five more rounds each');
    const finalAccuracy = meanAccuracy(nodes);
    sampling = false;
    await sampler;
    t.diagnostic(
      `heal times (restart -> an old neighbour merges its new updates): ${heals.join('; ')}; ` +
        `mean accuracy at first kill ${accuracyAtFirstKill?.toFixed(3)}, final ${finalAccuracy.toFixed(3)}`,
    );
    assert.deepEqual(violations, [], 'no observer ever saw a seq go backwards');
    assert.ok(
      finalAccuracy >= (accuracyAtFirstKill ?? 1),
      `final ${finalAccuracy} vs at first kill ${accuracyAtFirstKill}`,
    );
    for (const n of nodes) n.d.signal('SIGTERM');
    for (const n of nodes) assert.deepEqual(await n.d.exited, { code: 0, signal: null }, n.d.tail());
  },
);
