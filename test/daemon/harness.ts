/**
 * Daemon processes for tests: `meshfl daemon --config <tmp file>` spawned with the test
 * runner's Node 22, JSON log lines collected from stdout, HTTP helpers, condition waits
 * with generous timeouts, and cleanup of every process still running.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const BIN = path.resolve(import.meta.dirname, '../../cli/bin/meshfl.js');
/** Generous: a busy 2-core machine starts tfjs + libp2p slowly. */
export const WAIT_MS = 90_000;
const POLL_MS = 200;
/** One request's timeout, and how long transport errors are retried. */
const GET_TIMEOUT_MS = 10_000;
const GET_RETRY_MS = 60_000;

export type LogLine = Record<string, unknown> & { level: string; msg: string };

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A daemon child process. */
export class DaemonProcess {
  readonly child: ChildProcess;
  readonly logs: LogLine[] = [];
  stderr = '';
  readonly exited: Promise<Exit>;
  exit: Exit | undefined;
  #partial = '';

  constructor(args: string[], env: Record<string, string> = {}) {
    const cleanEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MESHFL_') && v !== undefined) cleanEnv[k] = v;
    this.child = spawn(process.execPath, [BIN, 'daemon', ...args], {
      env: { ...cleanEnv, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(this);
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (this.#partial + chunk).split('\n');
      this.#partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line.trim() === '') continue;
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          this.logs.push({ level: 'raw', msg: line });
        }
      }
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        this.exit = { code, signal };
        running.delete(this);
        resolve(this.exit);
      });
    });
  }

  /** Waits for a log line matching `pred` (fails early if the process exits). */
  async waitForLog(pred: (l: LogLine) => boolean, what: string, timeoutMs = WAIT_MS): Promise<LogLine> {
    let found: LogLine | undefined;
    await waitFor(
      () => {
        found = this.logs.find(pred);
        if (!found && this.exit)
          throw new Error(`daemon exited (${JSON.stringify(this.exit)}) before: ${what}\n${this.tail()}`);
        return found !== undefined;
      },
      what,
      timeoutMs,
      () => this.tail(),
    );
    return found as LogLine;
  }

  get httpUrl(): string {
    const line = this.logs.find((l) => l.msg === 'http listening');
    if (!line) throw new Error('no "http listening" log line yet');
    return line.url as string;
  }

  /**
   * One HTTP GET, retried on transport errors (refused, reset, timed out) for up to
   * GET_RETRY_MS while the process lives: a daemon on a loaded 2-core machine may miss
   * one request's timeout. HTTP error statuses are returned, not retried; a daemon that
   * exited fails at once with its log tail.
   */
  async get(
    pathname: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: string; type: string }> {
    const deadline = Date.now() + GET_RETRY_MS;
    for (;;) {
      try {
        const res = await fetch(`${this.httpUrl}${pathname}`, { headers, signal: AbortSignal.timeout(GET_TIMEOUT_MS) });
        return { status: res.status, body: await res.text(), type: res.headers.get('content-type') ?? '' };
      } catch (err) {
        if (this.exit !== undefined)
          throw new Error(`GET ${pathname}: daemon exited (${JSON.stringify(this.exit)})\n${this.tail()}`, {
            cause: err,
          });
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    }
  }

  async status(): Promise<Record<string, unknown>> {
    return JSON.parse((await this.get('/status')).body) as Record<string, unknown>;
  }

  rounds(): LogLine[] {
    return this.logs.filter((l) => l.msg === 'round done');
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.exit) this.child.kill(signal);
  }

  tail(lines = 15): string {
    return [
      ...this.logs.slice(-lines).map((l) => JSON.stringify(l).slice(0, 400)),
      `stderr: ${this.stderr.slice(-2000)}`,
    ].join('\n');
  }
}

const running = new Set<DaemonProcess>();

/** Kills every daemon still running (call from `after`). */
export async function killAll(): Promise<void> {
  const left = [...running];
  for (const d of left) d.signal('SIGKILL');
  await Promise.all(left.map((d) => d.exited));
}

export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = WAIT_MS,
  context: () => string = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${context()}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/**
 * A free TCP port below the kernel's ephemeral range (32768+ here), so that no port-0 bind
 * (the daemons' HTTP servers, outgoing connections) can take it before the daemon does.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    const server = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (ok) {
      await new Promise((resolve) => server.close(resolve));
      return port;
    }
  }
}

/** A temporary directory removed by the returned cleanup. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeConfig(dir: string, name: string, config: unknown): string {
  const file = path.join(dir, name);
  writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
  return file;
}

/** A small, fast task: synthetic data, a tiny MLP, short rounds, loopback only. */
export function smallConfig(
  dataDir: string,
  index: number,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    dataDir,
    taskId: 'daemon-test',
    model: { kind: 'mlp', hidden: [32] },
    dataset: { kind: 'synthetic', shard: { index, of: 3, seed: 3 }, evaluationSamples: 200 },
    strategy: 'mean',
    codec: 'int8',
    listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'],
    mdns: false,
    http: { address: '127.0.0.1:0', notReadyAfterNoPeersSeconds: 3 },
    round: { localSteps: 2, minFreshUpdates: 2, deadline: { initialMs: 1000, minMs: 200, maxMs: 3000 } },
    optimizer: { learningRate: 0.01 },
    // One training thread: the tests run many daemons at once on a shared machine (worker
    // replicas would only contend for its cores); test/daemon/threads.test.ts runs two.
    resources: { batchSize: 16, backend: 'wasm', threads: 1 },
    seed: 5,
    ...extra,
  };
}

/** Runs a daemon to completion (for start-up errors): exit code and stderr. */
export async function runToExit(
  args: string[],
  env: Record<string, string> = {},
): Promise<Exit & { stderr: string; logs: LogLine[] }> {
  const d = new DaemonProcess(args, env);
  const timer = setTimeout(() => d.signal('SIGKILL'), WAIT_MS);
  const exit = await d.exited;
  clearTimeout(timer);
  return { ...exit, stderr: d.stderr, logs: d.logs };
}
