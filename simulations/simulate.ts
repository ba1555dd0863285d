/**
 * A whole scenario: the shared setup once, then every strategy in turn on the same seed,
 * split and attackers; results are written after each strategy (and on interruption), so
 * what was measured is never lost.
 */
import os from 'node:os';
import { codeVersion } from './provenance.ts';
import { type ResultsFile, writeReport } from './report.ts';
import { type StrategyResult, strategyResult } from './results.ts';
import { type PeerRound, type RunHooks, runStrategy } from './runner.ts';
import { type Scenario, scenarioRecord } from './scenario.ts';
import { buildSetup, type SimulationSetup } from './setup.ts';

export interface SimulateHooks {
  readonly signal?: AbortSignal;
  /** Called when a strategy starts (index among the scenario's strategies). */
  readonly onStrategy?: (index: number, label: string) => void;
  /** Called once the shared setup is built (before the first strategy). */
  readonly onSetup?: (setup: SimulationSetup) => void;
  readonly onRound?: (index: number, label: string, r: PeerRound) => void;
  /** Every honest peer's merge report (runner's RunHooks.onMerge), before that round's onRound. */
  readonly onMerge?: (index: number, label: string, ...merge: Parameters<NonNullable<RunHooks['onMerge']>>) => void;
  readonly onWritten?: (files: string[]) => void;
}

export interface SimulateResult {
  readonly results: ResultsFile;
  readonly files: string[];
}

/** What results.json records about the run's machine, code and setup. */
export function runEnvironment(setup: SimulationSetup, backend: string): Record<string, unknown> {
  return {
    node: process.version,
    // The code that produced the results: commit, and whether the work tree differed from it.
    ...codeVersion(),
    backend,
    cpus: os.cpus().length,
    /** 1/5/15-minute load averages at the start: other work sharing the machine. */
    loadAverage: os.loadavg(),
    startedAt: new Date().toISOString(),
    honestPeers: setup.peers.filter((p) => !p.attacker).length,
    attackers: setup.peers.filter((p) => p.attacker).map((p) => p.index),
    evaluationSamples: setup.evaluation.y.length,
    trainSamplesPerPeer: setup.peers.map((p) => p.train.y.length),
  };
}

export async function simulate(
  scenario: Scenario,
  outDir: string,
  backend: string,
  hooks: SimulateHooks = {},
): Promise<SimulateResult> {
  const setup = buildSetup(scenario);
  hooks.onSetup?.(setup);
  const strategies: Record<string, StrategyResult> = {};
  const environment = runEnvironment(setup, backend);
  let files: string[] = [];
  let interrupted = false;
  for (const [index, entry] of scenario.strategies.entries()) {
    if (hooks.signal?.aborted) {
      interrupted = true;
      break;
    }
    hooks.onStrategy?.(index, entry.label);
    const run = await runStrategy(setup, entry, {
      signal: hooks.signal,
      onRound: (r) => hooks.onRound?.(index, entry.label, r),
      ...(hooks.onMerge ? { onMerge: (...merge) => hooks.onMerge?.(index, entry.label, ...merge) } : {}),
    });
    strategies[entry.label] = strategyResult(run);
    interrupted = run.interrupted;
    files = writeReport(outDir, { scenario: scenarioRecord(scenario), environment, interrupted, strategies });
    hooks.onWritten?.(files);
    if (interrupted) break;
  }
  const results: ResultsFile = { scenario: scenarioRecord(scenario), environment, interrupted, strategies };
  files = writeReport(outDir, results);
  return { results, files };
}
