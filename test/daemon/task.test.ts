/**
 * The task travels with the mesh, with real daemon processes on loopback:
 * - A (HTTP token set) serves its TaskSpec at GET /task without the token;
 * - B starts with `--join <A>` and no model section: it fetches A's task over
 *   /meshfl/1/task, builds the identical model (same fingerprint) with its own local
 *   steps, loads the task's data set, and A and B accept each other's updates;
 * - C runs another model and bootstraps to A: each logs which field differs and how
 *   to fix it.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, test } from 'node:test';
import { parseTaskSpec, taskSpecRecord } from '../../src/peer/task.ts';
import { DaemonProcess, killAll, smallConfig, tempDir, waitFor, writeConfig } from './harness.ts';

const tmp = tempDir('meshfl-daemon-task-');
after(async () => {
  await killAll();
  tmp.remove();
});

const TOKEN = 'task-test-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };

function start(name: string, config: Record<string, unknown>, args: string[] = []): DaemonProcess {
  return new DaemonProcess(['--config', writeConfig(tmp.dir, `${name}.json`, config), ...args]);
}

/** Ids of the peers whose updates `d` holds (accepted at least once). */
async function heard(d: DaemonProcess, headers: Record<string, string> = {}): Promise<string[]> {
  const status = JSON.parse((await d.get('/status', headers)).body) as { heard: Array<{ peer: string }> };
  return status.heard.map((h) => h.peer);
}

test(
  'GET /task is public; --join builds the same model; a mismatch names the field and the fix',
  { timeout: 300_000 },
  async () => {
    const aConfig = smallConfig(path.join(tmp.dir, 'a'), 0, {
      http: { address: '127.0.0.1:0', token: TOKEN, notReadyAfterNoPeersSeconds: 3 },
    });
    const a = start('a', aConfig);
    await a.waitForLog((l) => l.msg === 'peer started', 'A started');

    // /task needs no token; /status does.
    assert.equal((await a.get('/status')).status, 401);
    const served = await a.get('/task');
    assert.equal(served.status, 200, served.body);
    const aTask = parseTaskSpec(JSON.parse(served.body));
    assert.equal(aTask.taskId, 'daemon-test');
    assert.deepEqual(aTask.model, { kind: 'mlp', hidden: [32] });
    assert.equal(aTask.modelSeed, 5);
    const aStatus = JSON.parse((await a.get('/status', AUTH)).body) as Record<string, unknown>;
    assert.match(String(aStatus.fingerprint), /^[0-9a-f]{8}$/);
    const aAddress = (aStatus.multiaddrs as string[])[0];

    // B: no task keys, only its own device settings and data shard; the task comes from A.
    const { taskId, model, codec, strategy, dataset, round, ...rest } = smallConfig(path.join(tmp.dir, 'b'), 1);
    void [taskId, model, codec, strategy, dataset];
    const b = start(
      'b',
      {
        ...rest,
        dataset: { shard: { index: 1, of: 3, seed: 3 }, evaluationSamples: 200 },
        round: { ...(round as object), localSteps: 3 },
      },
      ['--join', aAddress],
    );
    const joined = await b.waitForLog((l) => l.msg === 'joined the task', 'B joined the task');
    assert.equal(joined.address, aAddress);
    await b.waitForLog((l) => l.msg === 'peer started', 'B started');
    const loaded = b.logs.find((l) => l.msg === 'data loaded');
    assert.equal(loaded?.source, 'synthetic', "B loads the joined task's data set");
    const bStatus = await b.status();
    assert.equal(bStatus.fingerprint, aStatus.fingerprint, 'the identical model: the same fingerprint');
    const bTask = parseTaskSpec(JSON.parse((await b.get('/task')).body));
    assert.deepEqual(
      taskSpecRecord(bTask),
      { ...taskSpecRecord(aTask), localSteps: 3 },
      "A's task, with B's own local steps (a device setting)",
    );
    const [aId, bId] = [aStatus.peerId as string, bStatus.peerId as string];
    await waitFor(
      async () => (await heard(a, AUTH)).includes(bId) && (await heard(b)).includes(aId),
      'A and B accept each other',
      undefined,
      () => `${a.tail(5)}\n${b.tail(5)}`,
    );

    // C: another hidden layer. Its updates fail A's fingerprint, and A's fail C's.
    const c = start('c', {
      ...smallConfig(path.join(tmp.dir, 'c'), 2),
      model: { kind: 'mlp', hidden: [16] },
      bootstrap: [aAddress],
    });
    const cStarted = await c.waitForLog((l) => l.msg === 'peer started', 'C started');
    assert.notEqual(cStarted.fingerprint, aStatus.fingerprint);
    const cId = (await c.status()).peerId as string;
    const onA = await a.waitForLog((l) => l.msg === 'task mismatch' && l.peer === cId, 'A names the mismatch');
    assert.equal(onA.summary, `${cId} runs model.hidden mlp [16]; this daemon runs mlp [32]: set model.hidden to [16]`);
    // C hears B too (B's local steps differ, a device setting): wait for A's line.
    const onC = await c.waitForLog((l) => l.msg === 'task mismatch' && l.peer === aId, 'C names the mismatch');
    assert.match(
      String(onC.summary),
      /runs model\.hidden mlp \[32\]; this daemon runs mlp \[16\]: set model\.hidden to \[32\]$/,
    );
    assert.ok(
      a.logs.some((l) => l.msg === 'traffic rejected' && l.reason === 'wrong-fingerprint' && l.peer === cId),
      'the updates themselves were rejected',
    );
  },
);
