/**
 * Every performance measurement side by side in one run, and the report of it.
 *   npm run bench [-- --quick] [-- --json] [-- --only train,wire] [-- --write-docs] [-- --from results.json]
 *   npm run bench:docs     (the same as -- --write-docs: a full run that rewrites the docs)
 *
 * Runs the existing benches (train, the PyTorch anchor, wire, merge, gossip) through their
 * exported run functions (the PyTorch anchor is skipped, with its reason, without torch), plus the kernel profile (stock wasm kernels vs our overrides) and the
 * simulation figures (in a child process, so its peak RSS is its own) and the training
 * pool's speed-up (simulations/bench/pool.ts). Prints the report as markdown. Only with
 * --write-docs, and only for a full run (not --quick, not --only), does it rewrite the
 * generated top section of docs/PERFORMANCE.md (between the bench markers), the plots in
 * docs/perf/ and the raw results in docs/perf/bench.json: committed numbers come from
 * full runs someone chose to publish, never from a quick check. --from re-renders the
 * report from such a results file without measuring.
 * Full run about 10 minutes on the 2-core dev machine, --quick about 2.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runGossipBench } from './gossip.ts';
import { runMergeBench } from './merge.ts';
import { runPoolBench } from './pool.ts';
import { currentLoad, describeMachine } from './suite/machine.ts';
import { renderPlots } from './suite/plots.ts';
import { runProfileBench } from './suite/profile.ts';
import { renderReport, spliceReport } from './suite/report.ts';
import type { SimulationBenchResult } from './suite/simulation.ts';
import { SECTIONS, type Section, type SuiteResult } from './suite/types.ts';
import { runTorchAnchorBench } from './torch-anchor.ts';
import { runTrainBench } from './train.ts';
import { runWireBench } from './wire.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const PERFORMANCE_MD = join(ROOT, 'docs', 'PERFORMANCE.md');
const PLOT_DIR = join(ROOT, 'docs', 'perf');
const SIMULATION_SCRIPT = join(HERE, 'suite', 'simulation.ts');
const RESULTS_JSON = join(PLOT_DIR, 'bench.json');
const KB = 1000;
const MB = 1000 * 1000;

interface Options {
  readonly quick: boolean;
  readonly json: boolean;
  readonly docs: boolean;
  readonly sections: readonly Section[];
  /** Re-render from a results file instead of measuring. */
  readonly from: string | undefined;
}

function parseArgs(argv: readonly string[]): Options {
  const onlyAt = argv.indexOf('--only');
  let sections: readonly Section[] = SECTIONS;
  if (onlyAt >= 0) {
    const names = (argv[onlyAt + 1] ?? '').split(',').filter((s) => s !== '');
    for (const name of names) {
      if (!(SECTIONS as readonly string[]).includes(name)) {
        throw new Error(`--only: unknown section "${name}" (known: ${SECTIONS.join(', ')})`);
      }
    }
    sections = names as Section[];
  }
  const quick = argv.includes('--quick');
  const docs = argv.includes('--write-docs');
  // Quick and partial runs must not replace the published report.
  if (docs && quick) throw new Error('--write-docs needs a full run: --quick numbers are too noisy to publish');
  if (docs && onlyAt >= 0) throw new Error('--write-docs needs a full run: --only measures part of the report');
  return {
    quick,
    json: argv.includes('--json'),
    docs,
    sections,
    from: argv.includes('--from') ? argv[argv.indexOf('--from') + 1] : undefined,
  };
}

/** The simulation section in a child process: its RSS figures then belong to it alone. */
function simulationInChild(quick: boolean, log: (line: string) => void): Promise<SimulationBenchResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SIMULATION_SCRIPT, '--json', ...(quick ? ['--quick'] : [])], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const last = stdout.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !last.startsWith('{')) {
        reject(new Error(`simulation bench exited with ${code}: ${stderr.trim().split('\n').slice(-5).join(' | ')}`));
        return;
      }
      if (stderr.trim() !== '') log(`simulation (stderr): ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
      resolve(JSON.parse(last) as SimulationBenchResult);
    });
  });
}

async function runSection(section: Section, result: SuiteResult, quick: boolean, log: (line: string) => void) {
  switch (section) {
    case 'train':
      result.train = await runTrainBench({ quick, log });
      return;
    case 'torch':
      result.torch = await runTorchAnchorBench({ quick, log });
      return;
    case 'profile':
      result.profile = await runProfileBench({ quick, log });
      return;
    case 'wire':
      result.wire = runWireBench({ quick });
      return;
    case 'merge':
      result.merge = runMergeBench({ quick });
      return;
    case 'gossip':
      // Inline limit is 64 KiB, so both sizes take the announce + fetch path.
      result.gossip = await runGossipBench({
        quick,
        sizes: quick ? [100 * KB] : [100 * KB, 1 * MB],
        memoryPeers: quick ? [10, 30] : [10, 30, 100],
        extras: false,
        onResult: (r) => log(`gossip ${r.transport} ${r.peers} peers ${r.bytes / KB} kB: ${r.msToAll.toFixed(0)} ms`),
      });
      return;
    case 'simulation':
      result.simulation = await simulationInChild(quick, log);
      return;
    case 'pool':
      result.pool = await runPoolBench({ quick, log });
      return;
    default: {
      const never: never = section;
      throw new Error(`unknown section ${String(never)}`);
    }
  }
}

async function measure(options: Options, log: (line: string) => void): Promise<SuiteResult> {
  const result: SuiteResult = { quick: options.quick, machine: describeMachine(), sectionMs: {} };
  for (const section of options.sections) {
    const start = performance.now();
    log(`== ${section}`);
    await runSection(section, result, options.quick, log);
    result.sectionMs[section] = performance.now() - start;
    log(`== ${section}: ${(result.sectionMs[section] / 1000).toFixed(0)} s`);
  }
  result.machine.loadEnd = currentLoad();
  return result;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  // Progress goes to stderr so --json keeps stdout to one JSON object.
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const result: SuiteResult =
    options.from === undefined
      ? await measure(options, log)
      : (JSON.parse(readFileSync(options.from, 'utf8')) as SuiteResult);
  const report = renderReport(result);
  if (options.json) console.log(JSON.stringify(result));
  else console.log(`\n${report}\n`);
  if (options.docs) {
    if (result.quick) throw new Error(`--write-docs: ${options.from} holds a --quick run, which is not published`);
    writeFileSync(PERFORMANCE_MD, spliceReport(readFileSync(PERFORMANCE_MD, 'utf8'), report));
    mkdirSync(PLOT_DIR, { recursive: true });
    for (const [name, svg] of renderPlots(result)) writeFileSync(join(PLOT_DIR, name), svg);
    if (options.from === undefined) writeFileSync(RESULTS_JSON, `${JSON.stringify(result, null, 1)}\n`);
    log(`wrote ${PERFORMANCE_MD} and plots in ${PLOT_DIR}`);
  }
}

await main();
