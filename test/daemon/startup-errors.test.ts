/**
 * Operator mistakes end a real daemon process with exit code 2 and one clear line on
 * stderr naming the key, flag, variable, file or port, never a stack trace: bad config
 * (syntax, unknown key, bad value, env and flag overrides, missing token off loopback),
 * missing data files, an unwritable data directory, a data directory in use, and ports
 * already in use.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { after, test } from 'node:test';
import { killAll, runToExit, smallConfig, tempDir, writeConfig } from './harness.ts';

const tmp = tempDir('meshfl-daemon-errors-');
after(async () => {
  await killAll();
  tmp.remove();
});

function assertOperatorError(result: { code: number | null; stderr: string }, ...needles: RegExp[]): void {
  assert.equal(result.code, 2, `exit code 2, stderr: ${result.stderr}`);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr: ${result.stderr}`);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  for (const n of needles) assert.match(result.stderr, n);
}

async function occupiedPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return { port: address.port, server };
}

test('bad config files and overrides name the key and exit 2', { timeout: 120_000 }, async () => {
  const dataDir = path.join(tmp.dir, 'data-config');
  // Each process pays the CLI's start-up; the full matrix of config errors is unit-tested
  // in config.test.ts, these prove the process-level path (stderr line, exit code 2).
  const cases: Array<{
    config: unknown;
    name: string;
    env?: Record<string, string>;
    args?: string[];
    needles: RegExp[];
  }> = [
    { name: 'syntax.yaml', config: 'taskId: [unclosed\n', needles: [/syntax\.yaml/, /not valid YAML/] },
    {
      name: 'nested.json',
      config: { ...smallConfig(dataDir, 0), round: { localSteps: 2, localStesp: 3 } },
      needles: [/round\.localStesp: unknown key/],
    },
    {
      name: 'flag.json',
      config: smallConfig(dataDir, 0),
      env: { MESHFL_LOG_LEVEL: 'debug' },
      args: ['--log-level', 'loud'],
      needles: [/logLevel \(from --log-level\)/, /loud/],
    },
  ];
  for (const c of cases) {
    const file = c.config === undefined ? path.join(tmp.dir, c.name) : writeConfig(tmp.dir, c.name, c.config);
    const result = await runToExit(['--config', file, ...(c.args ?? [])], c.env);
    assertOperatorError(result, ...c.needles);
  }
});

test(
  'missing data files, an unwritable data directory and ports in use exit 2 with one line',
  {
    timeout: 180_000,
  },
  async () => {
    const missing = await runToExit([
      '--config',
      writeConfig(tmp.dir, 'idx.json', {
        ...smallConfig(path.join(tmp.dir, 'data-idx'), 0),
        dataset: { kind: 'idx', dir: path.join(tmp.dir, 'no-such-dir') },
      }),
    ]);
    assertOperatorError(missing, /dataset \(idx\)/, /no-such-dir/, /train-images-idx3-ubyte/);

    // A regular file where a directory should be: unwritable even for root.
    const blocker = path.join(tmp.dir, 'a-file');
    writeFileSync(blocker, 'not a directory');
    const unwritable = await runToExit([
      '--config',
      writeConfig(tmp.dir, 'dir.json', smallConfig(path.join(blocker, 'data'), 0)),
    ]);
    assertOperatorError(unwritable, /dataDir .*a-file\/data: not a writable directory \(ENOTDIR\)/);

    // A data directory held by a live process (this test's): the daemon refuses to share it.
    const held = path.join(tmp.dir, 'data-held');
    mkdirSync(held, { recursive: true });
    writeFileSync(path.join(held, 'daemon.lock'), `${process.pid}\n`);
    const inUse = await runToExit(['--config', writeConfig(tmp.dir, 'held.json', smallConfig(held, 0))]);
    assertOperatorError(inUse, new RegExp(`dataDir .*data-held is in use by process ${process.pid}`));

    const busy = await occupiedPort();
    try {
      const httpInUse = await runToExit([
        '--config',
        writeConfig(tmp.dir, 'http.json', smallConfig(path.join(tmp.dir, 'data-http'), 0)),
        '--http',
        `127.0.0.1:${busy.port}`,
      ]);
      assertOperatorError(httpInUse, new RegExp(`127\\.0\\.0\\.1:${busy.port}.*port already in use`));

      const listenInUse = await runToExit([
        '--config',
        writeConfig(tmp.dir, 'listen.json', {
          ...smallConfig(path.join(tmp.dir, 'data-listen'), 0),
          listen: [`/ip4/127.0.0.1/tcp/${busy.port}`],
        }),
      ]);
      assertOperatorError(listenInUse, new RegExp(`/tcp/${busy.port}.*port already in use`));
    } finally {
      await new Promise((resolve) => busy.server.close(resolve));
    }
  },
);

test(
  '--check validates listen multiaddrs, data files and the data directory (exit 2, one line)',
  { timeout: 120_000 },
  async () => {
    const dataDir = path.join(tmp.dir, 'data-check');
    const check = (name: string, config: unknown) =>
      runToExit(['--config', writeConfig(tmp.dir, name, config), '--check']);
    assertOperatorError(
      await check('bad-listen.json', { ...smallConfig(dataDir, 0), listen: ['/ip4/127.0.0.1/tcp/notaport'] }),
      /^meshfl daemon: listen: "\/ip4\/127\.0\.0\.1\/tcp\/notaport" is not a multiaddr/,
    );
    assertOperatorError(
      await check('csv.json', {
        ...smallConfig(dataDir, 0),
        dataset: { kind: 'csv', file: path.join(tmp.dir, 'missing.csv') },
      }),
      /dataset \(csv\): .*missing\.csv: cannot read \(ENOENT\)/,
    );
    assertOperatorError(
      await check('proc.json', smallConfig('/proc/self/meshfl-data', 0)),
      /dataDir \/proc\/self\/meshfl-data: under \/proc, a kernel pseudo file system/,
    );
    const ok = await check('ok.json', smallConfig(dataDir, 0));
    assert.equal(ok.code, 0, ok.stderr);
  },
);

test(
  'a dataDir under /proc is refused at start, before any mkdir (exit 2, no spin)',
  { timeout: 120_000 },
  async () => {
    const result = await runToExit([
      '--config',
      writeConfig(tmp.dir, 'proc-start.json', smallConfig('/proc/1/x/y', 0)),
    ]);
    assertOperatorError(result, /dataDir \/proc\/1\/x\/y: under \/proc/);
  },
);
