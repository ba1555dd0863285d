/**
 * A throwaway consumer project for the packaging tests: `npm pack` the repo, install the
 * tarball into a fresh temporary directory, run commands there.
 *
 * Installing, two ways (no network either way):
 * - default, "link": the tarball is unpacked to node_modules/meshfl, and each dependency
 *   the packed package.json declares (plus @types/node for the typecheck) is symlinked
 *   from the repo's node_modules. Only declared dependencies sit next to meshfl, so an
 *   import of an undeclared package fails as it would for a user; the dependencies' own
 *   dependencies resolve from the repo (Node follows the symlinks). Takes a second.
 * - MESHFL_PACKAGE_INSTALL=npm: `npm install --offline --ignore-scripts` of the tarball,
 *   resolving every dependency from the local npm cache as npm would for a user. Closer
 *   to real, but ~800 packages: 20 s on an idle machine, minutes on a busy one.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
/** The repo's TypeScript compiler and Node 22 (the test runs on it). */
export const TSC = path.join(REPO, 'node_modules', '.bin', 'tsc');
export const NODE = process.execPath;

/** Generous: a cold offline install of ~800 packages on a slow, busy 2-core machine. */
const INSTALL_TIMEOUT_MS = 240_000;
const COMMAND_TIMEOUT_MS = 120_000;
const MAX_OUTPUT = 64 * 1024 * 1024;

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * The environment for child commands: without the npm_* variables `npm exec`/`npm test`
 * set, so that npm in the temporary project does not think it runs inside the repo
 * (npm_config_local_prefix would make it install there).
 */
export function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.toLowerCase().startsWith('npm_') && key !== 'INIT_CWD') env[key] = value;
  }
  // npm's own scripts start `node` from PATH: make that the Node 22 running this test.
  env.PATH = `${path.dirname(NODE)}${path.delimiter}${env.PATH ?? ''}`;
  return env;
}

/**
 * Runs a command to completion (in `env`, childEnv() by default); never throws for a
 * non-zero exit (the caller asserts).
 */
export async function command(
  file: string,
  args: readonly string[],
  cwd: string,
  timeout = COMMAND_TIMEOUT_MS,
  env: NodeJS.ProcessEnv = childEnv(),
): Promise<CommandResult> {
  try {
    const { stdout, stderr } = await run(file, [...args], { cwd, env, timeout, maxBuffer: MAX_OUTPUT });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string; message: string };
    const code = typeof e.code === 'number' ? e.code : -1;
    return { code, stdout: e.stdout ?? '', stderr: `${e.stderr ?? ''}\n${e.message}` };
  }
}

/** Throws with the command's output when it failed. */
export function check(result: CommandResult, what: string): CommandResult {
  if (result.code !== 0) {
    throw new Error(`${what} failed (exit ${result.code})\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
  }
  return result;
}

export interface Consumer {
  /** The temporary project directory. */
  readonly dir: string;
  /** The tarball `npm pack` produced. */
  readonly tarball: string;
  remove(): void;
}

/**
 * Packs the repo (which runs `prepack`, i.e. the build) and installs the tarball plus
 * @types/node into a new temporary project (see the top of this file for how). Fixtures
 * and examples are copied next to it.
 */
export async function createConsumer(): Promise<Consumer> {
  const root = mkdtempSync(path.join(tmpdir(), 'meshfl-package-'));
  const packDir = path.join(root, 'pack');
  const dir = path.join(root, 'consumer');
  mkdirSync(packDir);
  cpSync(FIXTURES, dir, { recursive: true });
  cpSync(path.join(REPO, 'examples'), path.join(dir, 'examples'), { recursive: true });
  // The repo's typecheck skips the API fixture (its first line is @ts-nocheck); here it counts.
  const usage = path.join(dir, 'api-usage.ts');
  const usageText = readFileSync(usage, 'utf8');
  if (!usageText.startsWith('// @ts-nocheck')) throw new Error('api-usage.ts must start with // @ts-nocheck');
  writeFileSync(usage, usageText.slice(usageText.indexOf('\n') + 1));
  writeFileSync(
    path.join(dir, 'package.json'),
    `${JSON.stringify({ name: 'meshfl-consumer', private: true, type: 'module' }, null, 2)}\n`,
  );

  check(await command('npm', ['pack', '--pack-destination', packDir], REPO, INSTALL_TIMEOUT_MS), 'npm pack');
  const tarballs = readdirSync(packDir).filter((f) => f.endsWith('.tgz'));
  if (tarballs.length !== 1) throw new Error(`expected one tarball, found ${tarballs.join(', ') || 'none'}`);
  const tarball = path.join(packDir, tarballs[0]);
  if (process.env.MESHFL_PACKAGE_INSTALL === 'npm') await installWithNpm(dir, tarball);
  else await installLinked(dir, tarball);
  return { dir, tarball, remove: () => rmSync(root, { recursive: true, force: true }) };
}

function repoPackageVersion(name: string): string {
  return JSON.parse(readFileSync(path.join(REPO, 'node_modules', name, 'package.json'), 'utf8')).version;
}

async function installWithNpm(dir: string, tarball: string): Promise<void> {
  const args = ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball];
  args.push(`@types/node@${repoPackageVersion('@types/node')}`);
  const result = await command('npm', args, dir, INSTALL_TIMEOUT_MS);
  check(result, 'npm install --offline of the tarball (are all dependencies in the npm cache?)');
}

async function installLinked(dir: string, tarball: string): Promise<void> {
  const target = path.join(dir, 'node_modules', 'meshfl');
  mkdirSync(target, { recursive: true });
  // npm tarballs hold one top folder, "package/".
  check(await command('tar', ['-xzf', tarball, '-C', target, '--strip-components=1'], dir), 'tar -x');
  const manifest = JSON.parse(readFileSync(path.join(target, 'package.json'), 'utf8'));
  const names = [...Object.keys(manifest.dependencies ?? {}), '@types/node'];
  for (const name of names) {
    const link = path.join(dir, 'node_modules', name);
    mkdirSync(path.dirname(link), { recursive: true });
    symlinkSync(path.join(REPO, 'node_modules', name), link, 'dir');
  }
}

/** The JSON lines a script printed (other lines ignored). */
export function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
