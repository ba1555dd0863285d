/**
 * `meshfl` answers --help, bad flags and bad input files without loading tfjs or libp2p
 * (they take seconds to import, more on a loaded machine), with the documented exit codes:
 * each command runs as a child process under ./record-loads.ts, which lists every module
 * the process loaded. No timing assertions; the wall times are reported as diagnostics.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import module from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

const ROOT = path.join(import.meta.dirname, '..', '..');
const BIN = path.join(ROOT, 'cli', 'bin', 'meshfl.js');
const RECORDER = path.join(import.meta.dirname, 'record-loads.ts');
/** tfjs, libp2p and gossipsub packages, and meshfl's own modules that load them. */
const HEAVY = /\/node_modules\/(?:@tensorflow\/|@libp2p\/|libp2p\/|@chainsafe\/)|\/src\/(?:train\/backend|net\/)/;

const tmp = mkdtempSync(path.join(os.tmpdir(), 'meshfl-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** URLs of every module the process loaded. */
  readonly loaded: string[];
  readonly wallMs: number;
}

let runs = 0;
/** Runs node with the recorder, without any MESHFL_* variable of the calling environment. */
function runNode(args: string[]): Promise<Ran> {
  const record = path.join(tmp, `loaded-${runs++}.txt`);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MESHFL_')));
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', RECORDER, ...args], {
      cwd: ROOT,
      env: { ...env, MESHFL_RECORD_LOADS: record },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const loaded = readFileSync(record, 'utf8').split('\n').filter(Boolean);
      resolve({ code, stdout, stderr, loaded, wallMs: performance.now() - started });
    });
  });
}

const meshfl = (args: string[]): Promise<Ran> => runNode([BIN, ...args]);

function file(name: string, data: string | Uint8Array): string {
  const p = path.join(tmp, name);
  writeFileSync(p, data);
  return p;
}

const hasHooks = typeof module.registerHooks === 'function';

test('the recorder sees what a process loads, libp2p included', { skip: !hasHooks, timeout: 60_000 }, async () => {
  const r = await runNode(['--input-type=module', '-e', "import '@libp2p/peer-id';"]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(
    r.loaded.some((u) => HEAVY.test(u)),
    `a libp2p package among ${r.loaded.length} modules`,
  );
});

test(
  'meshfl simulate --bad-flag exits 2 without loading tfjs or libp2p',
  { skip: !hasHooks, timeout: 60_000 },
  async (t) => {
    const r = await meshfl(['simulate', '--bad-flag']);
    t.diagnostic(`${r.wallMs.toFixed(0)} ms wall, ${r.loaded.length} modules`);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^meshfl simulate: Unknown option '--bad-flag'/);
    assert.ok(
      r.loaded.some((u) => u.endsWith('/cli/commands/simulate.ts')),
      'the simulate command module was loaded (the recorder works here)',
    );
    assert.deepEqual(
      r.loaded.filter((u) => HEAVY.test(u)),
      [],
    );
  },
);

test(
  '--help, bad flags and bad input files of every command answer without tfjs or libp2p',
  {
    skip: !hasHooks,
    timeout: 120_000,
  },
  async (t) => {
    const out = path.join(tmp, 'never');
    const badScenario = file('bad.json', JSON.stringify({ name: 'x', peers: 'ten' }));
    const notAModel = file('not-a-model.mflm', new Uint8Array(64).fill(7));
    const tooShort = file('short.mflm', new Uint8Array(3));
    const config = path.join(ROOT, 'node', 'daemon', 'default-config.json');
    const cases: Array<{ args: string[]; code: number; stdout?: RegExp; stderr?: RegExp }> = [
      { args: ['simulate', '--help'], code: 0, stdout: /^meshfl simulate --scenario <file> --out <dir>\n/ },
      { args: ['simulate', '--scenario', badScenario], code: 2, stderr: /^meshfl simulate: --out <dir> is required$/m },
      {
        args: ['simulate', '--scenario', badScenario, '--out', out, '--backend', 'gpu'],
        code: 2,
        stderr: /^--backend must be one of wasm, cpu, auto, got "gpu"$/m,
      },
      {
        args: ['simulate', '--scenario', badScenario, '--out', out, '--workers', 'x'],
        code: 2,
        stderr: /^--workers must be an integer/m,
      },
      {
        args: ['simulate', '--scenario', badScenario, '--out', out],
        code: 2,
        stderr: /^meshfl simulate: .*bad\.json: /m,
      },
      { args: ['train', '--help'], code: 0, stdout: /^meshfl train \[options\]/ },
      { args: ['train', '--epochs', '0'], code: 2, stderr: /^--epochs must be a number/m },
      { args: ['train', '--threads', '0'], code: 2, stderr: /^--threads must be an integer in \[1, 64\], got "0"$/m },
      {
        args: ['train', '--threads', '2', '--sync-every', '0'],
        code: 2,
        stderr: /^--sync-every must be an integer in \[1, 1000\], got "0"$/m,
      },
      { args: ['pretrain', '--out', out, '--threads', 'two'], code: 2, stderr: /^--threads must be an integer/m },
      { args: ['pretrain', '--help'], code: 0, stdout: /^meshfl pretrain --out <file> \[options\]/ },
      { args: ['pretrain', '--dataset', 'synthetic'], code: 2, stderr: /^meshfl pretrain: --out <file> is required$/m },
      {
        args: ['train', '--trainable', 'head', '--backbone', notAModel],
        code: 2,
        stderr: /^meshfl train: .*not-a-model\.mflm: not a meshfl model file \(bad magic\)$/m,
      },
      {
        args: ['train', '--trainable', 'head', '--backbone', tooShort],
        code: 2,
        stderr: /^meshfl train: .*short\.mflm: too short \(3 bytes\)$/m,
      },
      {
        args: ['pretrain', '--out', out, '--backbone', path.join(tmp, 'missing.mflm')],
        code: 2,
        stderr: /^meshfl pretrain: cannot read model file .*missing\.mflm: ENOENT$/m,
      },
      { args: ['export', '--help'], code: 0, stdout: /^meshfl export --from <file\|dir> --out <dir>/ },
      { args: ['export', '--out', out], code: 2, stderr: /^meshfl export: --from <file\|dir> is required$/m },
      {
        args: ['export', '--from', notAModel, '--out', out],
        code: 2,
        stderr: /^meshfl export: .*not-a-model\.mflm: not a meshfl model file \(bad magic\)$/m,
      },
      { args: ['daemon', '--help'], code: 0, stdout: /--shard-index <value> .*\(env MESHFL_SHARD_INDEX\)/ },
      {
        args: ['daemon', '--config', config, '--check', '--shard-index', '9'],
        code: 2,
        stderr: /^meshfl daemon: dataset\.shard\.index \(from --shard-index\): must be less than shard\.of \(4\)$/m,
      },
      { args: ['daemon', '--config', config, '--check', '--shard-index', '3'], code: 0, stdout: /"index": 3,/ },
    ];
    // Short processes, two at a time (more only contend for the cores).
    const ran: Ran[] = [];
    for (let i = 0; i < cases.length; i += 2)
      ran.push(...(await Promise.all(cases.slice(i, i + 2).map((c) => meshfl(c.args)))));
    for (const [i, c] of cases.entries()) {
      const r = ran[i];
      const what = c.args.join(' ');
      t.diagnostic(`${what}: exit ${r.code}, ${r.wallMs.toFixed(0)} ms wall, ${r.loaded.length} modules`);
      assert.equal(r.code, c.code, `${what}: ${r.stderr}`);
      if (c.stdout) assert.match(r.stdout, c.stdout, what);
      if (c.stderr) assert.match(r.stderr, c.stderr, what);
      assert.deepEqual(
        r.loaded.filter((u) => HEAVY.test(u)),
        [],
        `${what} loaded no tfjs or libp2p module`,
      );
    }
  },
);

test('pretrain --help describes pretrain, not train', { skip: !hasHooks, timeout: 60_000 }, async () => {
  const [pretrain, train] = await Promise.all([meshfl(['pretrain', '--help']), meshfl(['train', '-h'])]);
  assert.notEqual(pretrain.stdout, train.stdout);
  assert.match(pretrain.stdout, /--out <file> +where to save the model .*required/);
  assert.match(train.stdout, /--out <file> +save the trained model/);
  for (const option of ['--dataset', '--model', '--epochs', '--batch-size', '--backend', '--threads', '--seed'])
    assert.ok(pretrain.stdout.includes(option), `pretrain --help lists ${option}`);
});
