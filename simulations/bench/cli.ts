/**
 * How fast `meshfl` answers before it does any work: `--help` and a bad flag, which load
 * neither tfjs nor libp2p (test/cli/lazy-imports.test.ts checks that), against the floor
 * any Node CLI pays (`node -e ""`) and against importing tfjs and libp2p, the cost the lazy
 * imports avoid.
 * Commands alternate (A B C D A B C D ...) so they share the machine's load; medians.
 *   node simulations/bench/cli.ts [--runs n] [--json]
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { currentLoad, describeMachine } from './suite/machine.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = path.join(ROOT, 'cli', 'bin', 'meshfl.js');
const RUN_TIMEOUT_MS = 120_000;

interface Command {
  readonly name: string;
  readonly args: readonly string[];
  /** Exit code the command must end with, so a broken command is not timed as a fast one. */
  readonly code: number;
}

const COMMANDS: readonly Command[] = [
  { name: 'node -e "" (floor)', args: ['-e', ''], code: 0 },
  { name: 'meshfl simulate --help', args: [BIN, 'simulate', '--help'], code: 0 },
  { name: 'meshfl simulate --bad-flag', args: [BIN, 'simulate', '--bad-flag'], code: 2 },
  {
    name: 'import tfjs + libp2p (what the lazy imports avoid)',
    args: ['--input-type=module', '-e', "await import('@tensorflow/tfjs'); await import('libp2p');"],
    code: 0,
  },
];

function parseArgs(argv: readonly string[]): { runs: number; json: boolean } {
  let runs = 5;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--runs') {
      runs = Number(argv[++i]);
      if (!Number.isInteger(runs) || runs < 1) throw new RangeError('--runs needs a positive integer');
    } else if (a === '--json') json = true;
    else throw new RangeError(`unknown flag ${a} (flags: --runs n, --json)`);
  }
  return { runs, json };
}

function timeOnce(command: Command): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, command.args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== command.code) {
        reject(new Error(`${command.name}: exit ${code}, expected ${command.code}\n${stderr.slice(-1000)}`));
      } else resolve(performance.now() - started);
    });
  });
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

async function main(): Promise<void> {
  const { runs, json } = parseArgs(process.argv.slice(2));
  const machine = describeMachine();
  const times = COMMANDS.map(() => [] as number[]);
  for (let r = 0; r < runs; r++) {
    for (const [i, command] of COMMANDS.entries()) times[i].push(await timeOnce(command));
    process.stderr.write(`run ${r + 1}/${runs}\n`);
  }
  machine.loadEnd = currentLoad();
  const floor = median(times[0]);
  const rows = COMMANDS.map((c, i) => {
    const ms = median(times[i]);
    return { command: c.name, medianMs: ms, overFloorMs: ms - floor, allMs: times[i] };
  });
  if (json) {
    process.stdout.write(`${JSON.stringify({ machine, runs, rows }, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    `CLI start-up, median of ${runs} alternated runs (load ${machine.loadStart.toFixed(1)} -> ${machine.loadEnd.toFixed(1)}, ${machine.cores} cores)\n\n`,
  );
  process.stdout.write('| command | median ms | over the node floor |\n|---|---|---|\n');
  for (const row of rows) {
    process.stdout.write(`| ${row.command} | ${row.medianMs.toFixed(0)} | ${row.overFloorMs.toFixed(0)} |\n`);
  }
}

await main();
