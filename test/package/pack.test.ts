/**
 * The published package, as a user gets it: `npm pack`, install the tarball into a fresh
 * project (offline, from the npm cache; see consumer.ts), then there
 *   - run three peers on the in-process Bus from plain JS importing only 'meshfl',
 *   - run the `meshfl` bin and the Node examples,
 *   - typecheck a file using the API and the examples with the repo's tsc,
 *   - bundle the core entry and the browser example for the browser with esbuild and
 *     check that no Node built-in (and no Node-only meshfl module) is in the bundle,
 *   - check the packed manifest (engines) and that `npm publish --dry-run` warns of nothing,
 *   - run the container image's CMD and HEALTHCHECK (read from the Dockerfile, ./image.ts)
 *     against the installed package, the way the image runs them (no container runtime here).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { build, type Metafile } from 'esbuild';
import { freePort } from '../daemon/harness.ts';
import { type Consumer, check, childEnv, command, createConsumer, jsonLines, NODE, REPO, TSC } from './consumer.ts';
import { imagePathMapper, parseDockerfile } from './image.ts';

let consumer: Consumer;
before(
  async () => {
    consumer = await createConsumer();
  },
  { timeout: 300_000 },
);
after(() => consumer?.remove());

const installed = (...parts: string[]): string => path.join(consumer.dir, 'node_modules', 'meshfl', ...parts);

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

test('the tarball holds the built entries, the bin, docs, LICENSE and JSON Schemas, and no TypeScript sources', () => {
  for (const file of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/node/index.js', 'dist/node/index.d.ts']) {
    assert.ok(existsSync(installed(file)), `${file} is in the package`);
  }
  assert.ok(existsSync(installed('cli/bin/meshfl.js')));
  assert.ok(existsSync(installed('docs/API.md')));
  // package.json says MIT; the license text must travel with the code.
  assert.match(readFileSync(installed('LICENSE'), 'utf8'), /^MIT License\n\nCopyright \(c\) 2026 the meshfl authors\n/);
  for (const schema of ['daemon-config', 'scenario']) {
    assert.ok(existsSync(installed(`schemas/${schema}.schema.json`)), `the ${schema} JSON Schema ships`);
  }
  const files = filesUnder(installed());
  const sources = files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
  assert.deepEqual(sources, [], 'no .ts sources (Node will not strip types under node_modules)');
  const manifest = JSON.parse(readFileSync(installed('package.json'), 'utf8'));
  assert.equal(manifest.exports['.'].default, './dist/src/index.js');
  assert.equal(manifest.exports['./node'].default, './dist/node/index.js');
});

test('three peers on the in-process Bus merge, importing only from meshfl', { timeout: 120_000 }, async () => {
  const { stdout } = check(await command(NODE, ['smoke.mjs'], consumer.dir), 'smoke.mjs');
  const lines = jsonLines(stdout);
  const rounds = lines.filter((l) => 'round' in l);
  assert.equal(rounds.length, 6, `3 peers x 2 rounds:\n${stdout}`);
  for (const peer of ['p0', 'p1', 'p2']) {
    const merged = rounds.filter((r) => r.peer === peer && (r.candidates as number) >= 1);
    assert.ok(merged.length >= 1, `${peer} merged at least one neighbour model:\n${stdout}`);
  }
  const strategies = lines.find((l) => 'strategies' in l)?.strategies as string[];
  assert.ok(strategies.includes('bristle+ldawa') && strategies.includes('krum'));
});

test('meshfl/node and the bin work from the installed package', { timeout: 120_000 }, async () => {
  const probe =
    "import * as n from 'meshfl/node'; import * as m from 'meshfl';" +
    'console.log(JSON.stringify([typeof n.createNodeLibp2p, typeof n.loadDataset, typeof m.createPeer]))';
  const { stdout } = check(
    await command(NODE, ['--input-type=module', '-e', probe], consumer.dir),
    'import meshfl/node',
  );
  assert.deepEqual(JSON.parse(stdout), ['function', 'function', 'function']);
  const manifest = JSON.parse(readFileSync(installed('package.json'), 'utf8'));
  const bin = installed(manifest.bin.meshfl);
  const help = check(await command(NODE, [bin, 'help'], consumer.dir), 'meshfl help');
  assert.match(help.stdout, /usage: meshfl <command>/);
  const train = check(
    await command(NODE, [bin, 'train', '--dataset', 'synthetic', '--epochs', '1'], consumer.dir),
    'meshfl train',
  );
  assert.match(train.stdout + train.stderr, /test accuracy/);
});

test('the API usage file and the examples typecheck against the package', { timeout: 120_000 }, async () => {
  check(await command(TSC, ['-p', 'tsconfig.json'], consumer.dir), 'tsc --noEmit (API usage + examples)');
});

for (const example of ['custom-strategy.ts', 'node-peer.ts']) {
  test(`example ${example} runs and its peers merge`, { timeout: 120_000 }, async () => {
    const { stdout } = check(await command(NODE, [path.join('examples', example)], consumer.dir), example);
    const rounds = jsonLines(stdout);
    assert.ok(rounds.length >= 3, `rounds reported:\n${stdout}`);
    assert.ok(
      rounds.some((r) => (r.candidates as number) >= 1),
      `some round merged neighbour models:\n${stdout}`,
    );
  });
}

test('example custom-model.ts federates a tfjs model and loads the merged export', { timeout: 180_000 }, async () => {
  const { stdout } = check(
    await command(NODE, [path.join('examples', 'custom-model.ts')], consumer.dir),
    'custom-model.ts',
  );
  const m = /merged model: (\d+)\/(\d+) test samples right/.exec(stdout);
  assert.ok(m, `the example reports the loaded model's accuracy:\n${stdout}`);
  assert.ok(Number(m[2]) > 0);
});

/** Problems a browser bundle must not have, from esbuild's metafile and output. */
function nodeLeaks(metafile: Metafile, output: string): string[] {
  const leaks: string[] = [];
  for (const [input, info] of Object.entries(metafile.inputs)) {
    if (input.startsWith('node:')) leaks.push(`input ${input}`);
    // Node-only meshfl modules may appear only as disabled by the package's "browser" map.
    if (
      /meshfl\/dist\/(?:node|cli)\/|node-factory|train\/wasm-paths-node/.test(input) &&
      !input.startsWith('(disabled)')
    )
      leaks.push(`Node-only module bundled: ${input}`);
    if (input.includes('node_modules/@libp2p/tcp/')) leaks.push(`TCP transport bundled: ${input}`);
    for (const imported of info.imports) {
      if (imported.external || imported.path.startsWith('node:')) leaks.push(`${input} imports ${imported.path}`);
    }
  }
  // Import statements and calls naming a node: module that survived into the output.
  for (const m of output.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)["']node:[\w/]+["']/g)) {
    leaks.push(`output: ${m[0]}`);
  }
  return leaks;
}

for (const entry of ['browser-entry.js', 'examples/browser-peer.ts']) {
  test(`${entry} bundles for the browser without Node built-ins`, { timeout: 120_000 }, async () => {
    const result = await build({
      absWorkingDir: consumer.dir,
      entryPoints: [entry],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      target: 'es2022',
      write: false,
      outdir: 'bundle',
      metafile: true,
      logLevel: 'silent',
    });
    assert.deepEqual(result.errors, []);
    const output = result.outputFiles.map((f) => f.text).join('\n');
    assert.ok(output.length > 0);
    assert.ok(
      Object.keys(result.metafile.inputs).some((i) => i.includes('node_modules/meshfl/dist/src/')),
      'the bundle uses the installed package',
    );
    assert.deepEqual(nodeLeaks(result.metafile, output), []);
  });
}

test('the packed manifest declares Node 22; the repo manifest is left as it was', () => {
  const packed = JSON.parse(readFileSync(installed('package.json'), 'utf8'));
  assert.deepEqual(packed.engines, { node: '>=22' }, 'prepack wrote engines');
  assert.equal(packed.bin.meshfl, 'cli/bin/meshfl.js', 'bin as npm normalizes it (publish would warn otherwise)');
  const repo = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8'));
  assert.equal(repo.engines, undefined, 'postpack removed engines again (see tools/publish-manifest.mjs)');
});

test('npm publish --dry-run warns about nothing but the missing login', { timeout: 120_000 }, async () => {
  // Scripts off: prepack's build already ran for the consumer. A dead loopback registry:
  // the dry run needs none, and tests use no network.
  const args = ['publish', '--dry-run', '--ignore-scripts', '--registry', 'http://127.0.0.1:9/', '--fetch-retries=0'];
  const { stderr } = check(await command('npm', args, REPO), 'npm publish --dry-run');
  const warnings = stderr
    .split('\n')
    .filter((l) => /^npm (warn|error)/i.test(l))
    .filter((l) => !/requires you to be logged in/.test(l));
  assert.deepEqual(warnings, []);
  assert.match(stderr, /npm notice total files:/);
});

/** Waits until `probe` resolves true, polling; throws after `timeoutMs` with `what`. */
async function until(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

test(
  "the image's CMD runs the daemon from the installed package and its HEALTHCHECK passes",
  { timeout: 300_000 },
  async (t) => {
    const image = parseDockerfile(path.join(REPO, 'Dockerfile'));
    assert.ok(image.user !== undefined && image.user !== 'root' && image.user !== '0', 'runs as a non-root user');
    const dataDir = image.env.get('MESHFL_DATA_DIR');
    assert.ok(dataDir && image.volumes.includes(dataDir), 'the data dir is a volume');
    const data = mkdtempSync(path.join(tmpdir(), 'meshfl-image-data-'));
    t.after(() => rmSync(data, { recursive: true, force: true }));
    const map = imagePathMapper(image, REPO, installed(), { [dataDir]: data });
    // `node` in the image is node:22-slim's Node 22: here, the one running this test.
    const argv = (cmd: readonly string[]) => cmd.map((a, i) => (i === 0 && a === 'node' ? NODE : map(a)));
    const base: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(childEnv())) if (!k.startsWith('MESHFL_')) base[k] = v;
    for (const [k, v] of image.env) base[k] = map(v);

    // Without the token the daemon refuses to listen on 0.0.0.0: exit 2, naming the key.
    const [cmd, ...cmdArgs] = argv(image.cmd);
    const refused = await command(cmd, cmdArgs, consumer.dir, 120_000, base);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr + refused.stdout, /http\.token/);

    // Only the ports differ from the image (tests share this machine), and mDNS is off so
    // the daemon cannot find other tests' daemons.
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...base,
      MESHFL_HTTP_TOKEN: 'image-test-token',
      MESHFL_HTTP: `0.0.0.0:${port}`,
      MESHFL_LISTEN: '/ip4/0.0.0.0/tcp/0,/ip4/0.0.0.0/tcp/0/ws',
      MESHFL_MDNS: 'off',
    };
    const daemon = spawn(cmd, cmdArgs, { cwd: consumer.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    daemon.stdout.setEncoding('utf8').on('data', (d: string) => {
      output += d;
    });
    daemon.stderr.setEncoding('utf8').on('data', (d: string) => {
      output += d;
    });
    const exited = new Promise<number | null>((resolve) => daemon.on('close', (code) => resolve(code)));
    t.after(() => daemon.kill('SIGKILL'));
    const [hc, ...hcArgs] = argv(image.healthcheck);
    const healthcheck = (extra: NodeJS.ProcessEnv = {}) =>
      command(hc, hcArgs, consumer.dir, 30_000, { ...env, ...extra });

    await until(`daemon ready (HEALTHCHECK exit 0)\n${output.slice(-3000)}`, 180_000, async () => {
      if (daemon.exitCode !== null) throw new Error(`daemon exited ${daemon.exitCode}\n${output.slice(-3000)}`);
      return (await healthcheck()).code === 0;
    });
    assert.match(output, /"msg":"http listening"/);
    assert.ok(existsSync(path.join(data, 'peer.key')), 'the identity is in the data volume');
    const wrongToken = await healthcheck({ MESHFL_HTTP_TOKEN: 'wrong' });
    assert.equal(wrongToken.code, 1);
    assert.match(wrongToken.stderr, /HTTP 401/);

    // docker stop: SIGTERM, a checkpoint, exit 0; then the HEALTHCHECK fails.
    daemon.kill('SIGTERM');
    assert.equal(await exited, 0, output.slice(-3000));
    assert.equal((await healthcheck()).code, 1);
  },
);
