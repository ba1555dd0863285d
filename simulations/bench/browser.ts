/**
 * Training speed of the browser page, cross-origin isolated (COOP/COEP: tfjs-wasm may use
 * SharedArrayBuffer threads) against not isolated (one wasm thread), in one headless
 * Chromium on this machine. One daemon (the default config, its data dir in a temp
 * folder, other ports) is the page's peer; browser/dist is served twice by this process,
 * with and without the isolation headers, and /status and /task are forwarded to the
 * daemon so the page joins its task. The two variants alternate (A B A B) so they share
 * the machine's load. The page's own figure is read: samples per second of local training
 * time over its last rounds.
 *   node simulations/bench/browser.ts [--pairs n] [--rounds n] [--json]
 * Needs /usr/bin/chromium (apt-get install -y chromium).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { DIST, ensureBuilt } from '../../browser/build/ensure-built.ts';
import { readStatic } from '../../node/daemon/static-files.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const ROUND_TIMEOUT_MS = 600_000;
const POLL_MS = 1_000;
const DAEMON_START_MS = 120_000;

interface Args {
  readonly pairs: number;
  readonly rounds: number;
  readonly json: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  let pairs = 2;
  let rounds = 8;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`${a} needs a positive integer`);
      return v;
    };
    if (a === '--pairs') pairs = next();
    else if (a === '--rounds') rounds = next();
    else if (a === '--json') json = true;
    else throw new RangeError(`unknown flag ${a} (flags: --pairs n, --rounds n, --json)`);
  }
  return { pairs, rounds, json };
}

interface Daemon {
  readonly child: ChildProcess;
  readonly httpUrl: string;
  readonly browserAddr: string;
  readonly log: string[];
}

/** The default daemon on free ports with a temp data dir; resolves once it serves /status. */
async function startDaemon(dir: string): Promise<Daemon> {
  const child = spawn(
    process.execPath,
    [
      path.join(REPO, 'cli/bin/meshfl.js'),
      'daemon',
      '--config',
      path.join(REPO, 'node/daemon/default-config.json'),
      '--data-dir',
      path.join(dir, 'data'),
      '--listen',
      '/ip4/127.0.0.1/tcp/0,/ip4/127.0.0.1/tcp/0/ws',
      '--http',
      '127.0.0.1:0',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const log: string[] = [];
  let buffered = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (buffered + chunk).split('\n');
    buffered = lines.pop() ?? '';
    log.push(...lines);
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => log.push(chunk));
  const deadline = Date.now() + DAEMON_START_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the daemon exited:\n${log.slice(-10).join('\n')}`);
    if (Date.now() > deadline) throw new Error(`the daemon did not start in time:\n${log.slice(-10).join('\n')}`);
    const started = log.some((l) => l.includes('"peer started"'));
    const http = log
      .map((l) => /"msg":"http listening".*?"url":"([^"]+)"|"url":"([^"]+)".*?"msg":"http listening"/.exec(l))
      .find((m) => m);
    if (started && http) {
      const httpUrl = (http[1] ?? http[2]) as string;
      const status = (await (await fetch(`${httpUrl}/status`)).json()) as { browserMultiaddrs?: string[] };
      const browserAddr = (status.browserMultiaddrs ?? []).find((m) => /\/ws\/p2p\//.test(m));
      if (browserAddr === undefined) throw new Error(`the daemon offers no /ws address: ${JSON.stringify(status)}`);
      return { child, httpUrl, browserAddr, log };
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** browser/dist on a loopback port, with or without COOP/COEP; /status and /task from the daemon. */
async function servePage(isolated: boolean, daemonHttp: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/status' || url.pathname === '/task') {
      fetch(`${daemonHttp}${url.pathname}`).then(
        async (r) => {
          res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
          res.end(Buffer.from(await r.arrayBuffer()));
        },
        () => {
          res.writeHead(502);
          res.end();
        },
      );
      return;
    }
    readStatic(DIST, url.pathname).then(
      (file) => {
        if (file.kind !== 'file') {
          res.writeHead(404);
          res.end();
          return;
        }
        res.writeHead(200, {
          'content-type': file.contentType,
          ...(isolated
            ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' }
            : {}),
        });
        res.end(file.body);
      },
      () => {
        res.writeHead(500);
        res.end();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

interface Row {
  readonly variant: 'isolated' | 'not isolated';
  readonly threads: number | undefined;
  readonly samplesPerSecond: number;
  readonly rounds: number;
}

interface PageState {
  readonly phase: { readonly kind: string; readonly error?: string };
  readonly round: number;
  readonly threads: number | undefined;
  readonly samplesPerSecond: number | undefined;
}

async function measure(
  context: import('playwright-core').BrowserContext,
  url: string,
  variant: Row['variant'],
  rounds: number,
): Promise<Row> {
  const page = await context.newPage();
  try {
    await page.goto(`${url}/?shard=0&backend=wasm`);
    const deadline = Date.now() + ROUND_TIMEOUT_MS;
    for (;;) {
      const s = (await page.evaluate(() => (globalThis as { __meshfl?: unknown }).__meshfl)) as PageState | undefined;
      if (s?.phase.kind === 'failed') throw new Error(`the page failed: ${s.phase.error}`);
      if (s !== undefined && s.round >= rounds && s.samplesPerSecond !== undefined) {
        return { variant, threads: s.threads, samplesPerSecond: s.samplesPerSecond, rounds: s.round };
      }
      if (Date.now() > deadline)
        throw new Error(`${variant}: no ${rounds} rounds in time (state ${JSON.stringify(s)})`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    await page.close();
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  await ensureBuilt();
  const dir = mkdtempSync(path.join(tmpdir(), 'meshfl-bench-browser-'));
  const daemon = await startDaemon(dir);
  const isolated = await servePage(true, daemon.httpUrl);
  const plain = await servePage(false, daemon.httpUrl);
  const userData = mkdtempSync(path.join(tmpdir(), 'meshfl-bench-chromium-'));
  const context = await chromium.launchPersistentContext(userData, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const rows: Row[] = [];
  try {
    for (let i = 0; i < args.pairs; i++) {
      for (const [variant, served] of [
        ['isolated', isolated],
        ['not isolated', plain],
      ] as const) {
        const row = await measure(context, served.url, variant, args.rounds);
        rows.push(row);
        if (!args.json)
          console.error(`${variant}: ${row.samplesPerSecond.toFixed(0)} samples/s, ${row.threads} threads`);
      }
    }
  } finally {
    await context.close();
    for (const s of [isolated.server, plain.server]) s.close();
    daemon.child.kill('SIGTERM');
    rmSync(userData, { recursive: true, force: true });
    await new Promise((r) => daemon.child.once('close', r));
    rmSync(dir, { recursive: true, force: true });
  }
  const median = (v: readonly number[]): number => {
    const s = [...v].sort((a, b) => a - b);
    return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const of = (variant: Row['variant']) => rows.filter((r) => r.variant === variant).map((r) => r.samplesPerSecond);
  const ratio = median(of('isolated')) / median(of('not isolated'));
  if (args.json) console.log(JSON.stringify({ rows, ratio }, null, 2));
  else {
    console.log('| page | wasm threads | samples/s (median) |');
    console.log('|---|---|---|');
    for (const variant of ['isolated', 'not isolated'] as const) {
      const threads = rows.find((r) => r.variant === variant)?.threads;
      console.log(`| ${variant} | ${threads ?? '–'} | ${median(of(variant)).toFixed(0)} |`);
    }
    console.log(`isolated / not isolated: ${ratio.toFixed(2)}x`);
  }
}

main().catch((err: unknown) => {
  console.error(`bench:browser: ${(err as Error).message}`);
  process.exitCode = 1;
});
