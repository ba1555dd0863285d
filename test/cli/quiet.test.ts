/**
 * A newcomer sees no noise: `meshfl train` and `meshfl simulate` on tfjs's cpu backend (the
 * one that prints tfjs's "install our node backend" banner in Node) print no such banner
 * and no tfjs warning line, on stdout or stderr. Child processes; no timing assertions.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BIN = path.join(import.meta.dirname, '..', '..', 'cli', 'bin', 'meshfl.js');
/** Generous: a busy 2-core machine loads tfjs and MNIST slowly. */
const RUN_TIMEOUT_MS = 180_000;
const BANNER = /looks like you are running TensorFlow\.js|tfjs-node|={10,}/i;

const tmp = mkdtempSync(path.join(os.tmpdir(), 'meshfl-quiet-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function meshfl(args: string[]): Promise<string> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MESHFL_')));
  const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
    env,
    timeout: RUN_TIMEOUT_MS,
    maxBuffer: 16 * 1024 * 1024,
  });
  return `${stdout}\n${stderr}`;
}

test('meshfl train on the cpu backend prints no tfjs banner', { timeout: RUN_TIMEOUT_MS + 10_000 }, async () => {
  const output = await meshfl(['train', '--dataset', 'synthetic', '--epochs', '1', '--backend', 'cpu']);
  assert.match(output, /backend cpu/, output);
  assert.match(output, /test accuracy/, output);
  assert.doesNotMatch(output, BANNER);
});

test('meshfl simulate on the cpu backend prints no tfjs banner', { timeout: RUN_TIMEOUT_MS + 10_000 }, async () => {
  const scenario = path.join(tmp, 'tiny.json');
  writeFileSync(
    scenario,
    JSON.stringify({
      name: 'quiet',
      dataset: 'mnist',
      model: { kind: 'mlp', hidden: [16] },
      peers: 3,
      partition: { kind: 'iid' },
      samplesPerPeer: 100,
      testSubset: 100,
      strategies: ['mean'],
      rounds: 1,
      localSteps: 2,
      codec: 'int8',
      transport: 'libp2p-memory',
      degree: 2,
      seed: 1,
    }),
  );
  const output = await meshfl(['simulate', '--scenario', scenario, '--out', path.join(tmp, 'out'), '--backend', 'cpu']);
  assert.match(output, /results\.json|mean/, output);
  assert.doesNotMatch(output, BANNER);
});
