/**
 * Composition root of the browser peer: reads the page parameters, pre-fills the daemon
 * address, wires the controls to a Session and the store to the view.
 */
import type { PeerData } from '../../src/peer/peer.ts';
import { builtinShard, fetchBuiltin } from './builtin-data.ts';
import { fetchDaemonStatus, fetchDaemonTask, type PageParams, preferredDaemonAddr, readUrlParams } from './params.ts';
import { Session } from './session.ts';
import { SHARD_COUNT } from './shard-layout.ts';
import { initialState, Store } from './state.ts';
import { MNIST_TASK, type TaskConfig, withPageSettings, withTaskId } from './task.ts';
import { readUserFiles, userPeerData } from './user-data.ts';
import { render } from './view.ts';

function input(id: string): HTMLInputElement {
  const found = document.getElementById(id);
  if (!(found instanceof HTMLInputElement) && !(found instanceof HTMLSelectElement)) {
    throw new Error(`page control #${id} is missing`);
  }
  return found as HTMLInputElement;
}

function button(id: string): HTMLButtonElement {
  const found = document.getElementById(id);
  if (!(found instanceof HTMLButtonElement)) throw new Error(`page button #${id} is missing`);
  return found;
}

function dataLoader(task: TaskConfig, baseUrl: string, files: readonly File[], shard: number) {
  return async (signal: AbortSignal): Promise<PeerData> => {
    const builtin = await fetchBuiltin(baseUrl, signal);
    if (files.length === 0) return builtinShard(builtin, shard);
    return userPeerData(await readUserFiles(files, task), builtin.evaluation, shard);
  };
}

async function main(): Promise<void> {
  const baseUrl = document.baseURI;
  const shardSelect = input('shard');
  for (let i = 0; i < SHARD_COUNT; i++) shardSelect.append(new Option(`built-in MNIST shard ${i}`, String(i)));
  let params: PageParams;
  const store = new Store(initialState(MNIST_TASK.taskId, undefined, '–'));
  store.subscribe(render);
  try {
    params = readUrlParams(window.location);
  } catch (err) {
    store.update({ phase: { kind: 'failed', error: (err as Error).message } });
    return;
  }
  shardSelect.value = String(params.shard);
  const status = params.bootstrap === undefined ? await fetchDaemonStatus(baseUrl) : undefined;
  input('daemon').value = params.bootstrap ?? preferredDaemonAddr(status?.multiaddrs ?? []) ?? '';
  // The serving daemon's task, so the page builds the identical model; the page keeps its
  // own keyframe interval (not part of the fingerprint, see PAGE_KEYFRAME_INTERVAL).
  const served = params.bootstrap === undefined ? await fetchDaemonTask(baseUrl) : ({ kind: 'none' } as const);
  let task: TaskConfig;
  try {
    if (served.kind === 'invalid') throw new Error(served.error);
    const taskId = params.taskId ?? status?.taskId;
    task =
      served.kind === 'task'
        ? withPageSettings(served.task)
        : taskId === undefined
          ? MNIST_TASK
          : withTaskId(MNIST_TASK, taskId);
  } catch (err) {
    store.update({ phase: { kind: 'failed', error: (err as Error).message } });
    return;
  }
  store.update({ taskId: task.taskId });

  let session: Session | undefined;
  const join = async (): Promise<void> => {
    if (session) return;
    const files = [...(input('files').files ?? [])];
    const shard = Number(shardSelect.value);
    store.update({ dataSource: files.length > 0 ? files.map((f) => f.name).join(' + ') : `built-in shard ${shard}` });
    session = new Session({
      store,
      task,
      daemonAddr: input('daemon').value,
      // Served by a daemon: a restarted daemon may listen elsewhere, so re-read its /status.
      ...(params.bootstrap === undefined && status !== undefined
        ? {
            resolveDaemonAddr: async () => preferredDaemonAddr((await fetchDaemonStatus(baseUrl))?.multiaddrs ?? []),
          }
        : {}),
      backend: params.backend,
      loadData: dataLoader(task, baseUrl, files, shard),
      seed: shard + 1,
      neighbours: params.neighbours,
      ...(params.gossipSteps === undefined ? {} : { gossipSteps: params.gossipSteps }),
      allowInsecureLoopback: params.loopbackPage,
      baseUrl,
    });
    await session.join();
  };
  const report = (what: string) => (err: unknown) =>
    store.update({ phase: { kind: 'failed', error: `${what}: ${(err as Error).message}` } });
  button('join').addEventListener('click', () => {
    join().catch(report('join'));
  });
  button('start').addEventListener('click', () => session?.start());
  button('pause').addEventListener('click', () => {
    session?.pause().catch(report('pause'));
  });
  button('leave').addEventListener('click', () => {
    session?.leave().catch(report('leave'));
  });
  window.addEventListener('pagehide', () => {
    session?.leave().catch(report('leave'));
  });
  // Opening a daemon's page joins its task and trains with no clicks; ?autostart=0 waits.
  if (params.autostart ?? (status !== undefined || params.bootstrap !== undefined)) {
    await join();
    if (store.state.phase.kind === 'ready') session?.start();
  }
}

main().catch((err: unknown) => {
  console.error('meshfl: page failed to start', err);
  const status = document.getElementById('status');
  if (status) status.textContent = `Error: ${(err as Error).message}`;
});
