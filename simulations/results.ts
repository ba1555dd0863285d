/**
 * From per-peer round records to the per-round table of results.json and the CSVs:
 * honest peers' merged accuracy (after the round's merge) on the shared evaluation subset,
 * bytes each honest peer published, and wall time until the last honest peer closed the round.
 */
import type { PeerRound, StrategyRun } from './runner.ts';

/** "roundsTo90": the first round count after which mean honest accuracy reaches this. */
export const TARGET_ACCURACY = 0.9;

export interface Spread {
  readonly mean: number;
  readonly min: number;
  readonly max: number;
}

export interface RoundRow {
  readonly round: number;
  /** Merged accuracy over the honest peers that evaluated this round (null: none did). */
  readonly honestAccuracy: Spread | null;
  /** Honest peers' accuracy before the merge, mean. */
  readonly localAccuracyMean: number | null;
  readonly peers: number;
  /** Mean bytes an honest peer published this round (payload x first-hop recipients). */
  readonly bytesSentPerPeer: number;
  readonly bytesReceivedPerPeer: number;
  readonly candidatesMean: number;
  /** Mean share of a peer's own model in its merge result (null: no merge report). */
  readonly ownShareMean: number | null;
  /** Mean share of honest peers' merge results that came from Byzantine models. */
  readonly byzantineShareMean: number | null;
  /** ms from the start of the run until the last honest peer closed this round. */
  readonly wallMs: number;
}

export interface StrategyResult {
  readonly rounds: RoundRow[];
  readonly final: { readonly honestAccuracy: Spread | null; readonly roundsTo90: number | null };
  readonly interrupted: boolean;
  readonly elapsedMs: number;
  readonly setupMs: number;
  readonly totalBytesSentPerPeer: number;
  readonly rejectedUpdates: number;
  readonly errorCount: number;
  readonly errors: string[];
}

function spread(values: number[]): Spread | null {
  if (values.length === 0) return null;
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    sum += v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  return { mean: sum / values.length, min, max };
}

const mean = (values: number[]): number =>
  values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;

function meanOrNull(values: ReadonlyArray<number | undefined>): number | null {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length > 0 ? mean(known) : null;
}

export function roundRows(records: readonly PeerRound[]): RoundRow[] {
  const byRound = new Map<number, PeerRound[]>();
  for (const r of records) {
    const list = byRound.get(r.round) ?? [];
    list.push(r);
    byRound.set(r.round, list);
  }
  return [...byRound.keys()]
    .sort((a, b) => a - b)
    .map((round) => {
      const list = byRound.get(round) as PeerRound[];
      const merged = list.flatMap((r) => (r.merged ? [r.merged.overall] : []));
      const local = list.flatMap((r) => (r.local ? [r.local.overall] : []));
      return {
        round,
        honestAccuracy: spread(merged),
        localAccuracyMean: local.length > 0 ? mean(local) : null,
        peers: list.length,
        bytesSentPerPeer: mean(list.map((r) => r.bytesSent)),
        bytesReceivedPerPeer: mean(list.map((r) => r.bytesReceived)),
        candidatesMean: mean(list.map((r) => r.candidates)),
        ownShareMean: meanOrNull(list.map((r) => r.ownShare)),
        byzantineShareMean: meanOrNull(list.map((r) => r.byzantineShare)),
        wallMs: Math.max(...list.map((r) => r.atMs)),
      };
    });
}

export function strategyResult(run: StrategyRun): StrategyResult {
  const rounds = roundRows(run.records);
  const evaluated = rounds.filter((r) => r.honestAccuracy !== null);
  const reached = evaluated.find((r) => (r.honestAccuracy?.mean ?? 0) >= TARGET_ACCURACY);
  return {
    rounds,
    final: {
      honestAccuracy: evaluated.at(-1)?.honestAccuracy ?? null,
      roundsTo90: reached ? reached.round + 1 : null,
    },
    interrupted: run.interrupted,
    elapsedMs: run.elapsedMs,
    setupMs: run.setupMs,
    totalBytesSentPerPeer: rounds.reduce((a, r) => a + r.bytesSentPerPeer, 0),
    rejectedUpdates: run.rejectedUpdates,
    errorCount: run.errorCount,
    errors: run.errors,
  };
}

const CSV_COLUMNS = [
  'round',
  'honest_accuracy_mean',
  'honest_accuracy_min',
  'honest_accuracy_max',
  'local_accuracy_mean',
  'peers',
  'bytes_sent_per_peer',
  'bytes_received_per_peer',
  'candidates_mean',
  'own_share_mean',
  'byzantine_share_mean',
  'wall_ms',
] as const;

export function resultCsv(result: StrategyResult): string {
  const cell = (v: number | null | undefined, digits = 4): string =>
    v === null || v === undefined ? '' : Number(v.toFixed(digits)).toString();
  const lines = result.rounds.map((r) =>
    [
      r.round,
      cell(r.honestAccuracy?.mean),
      cell(r.honestAccuracy?.min),
      cell(r.honestAccuracy?.max),
      cell(r.localAccuracyMean),
      r.peers,
      cell(r.bytesSentPerPeer, 0),
      cell(r.bytesReceivedPerPeer, 0),
      cell(r.candidatesMean, 2),
      cell(r.ownShareMean),
      cell(r.byzantineShareMean),
      cell(r.wallMs, 0),
    ].join(','),
  );
  return `${[CSV_COLUMNS.join(','), ...lines].join('\n')}\n`;
}
