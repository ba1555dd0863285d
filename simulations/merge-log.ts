/**
 * `meshfl simulate --merge-log <file>`: one JSON line per honest peer and round, for
 * diagnosing a run beyond results.json's per-round means: that peer's accuracy (overall and
 * per class) before and after the merge, the merge report of the round's first gossip step
 * with senders named by peer index (who was used with what share, who was rejected and why),
 * and its timing. Light module (no tfjs or libp2p): the CLI imports it before the run.
 */
import type { MergeReport } from '../src/merge/types.ts';
import type { AccuracySnapshot } from '../src/peer/events.ts';
import type { PeerRound } from './runner.ts';

export interface MergeLogLine {
  readonly strategy: string;
  readonly peer: number;
  readonly round: number;
  /** After the merge: overall accuracy, loss and per-class accuracy on the evaluation subset. */
  readonly merged: Pick<AccuracySnapshot, 'overall' | 'loss' | 'perClass'> | null;
  /** Before the merge (after local training). */
  readonly local: Pick<AccuracySnapshot, 'overall' | 'loss' | 'perClass'> | null;
  readonly candidates: number;
  readonly ownShare: number | null;
  readonly byzantineShare: number | null;
  /** [sender index, share] of the first step's merge (-1: unknown sender). */
  readonly used: ReadonlyArray<readonly [number, number]>;
  /** [sender index, reason] of the first step's merge. */
  readonly rejected: ReadonlyArray<readonly [number, string]>;
  readonly closedBy: PeerRound['closedBy'];
  readonly mergeMs: number | null;
  /** ms since the strategy's run started, when the round ended. */
  readonly atMs: number;
}

const ROUND_DIGITS = 1e4;
const rounded = (v: number): number => Math.round(v * ROUND_DIGITS) / ROUND_DIGITS;

function accuracy(a: AccuracySnapshot | undefined): MergeLogLine['merged'] {
  return a === undefined
    ? null
    : { overall: rounded(a.overall), loss: rounded(a.loss), perClass: a.perClass.map(rounded) };
}

/** Collects merge reports (they arrive before their round's record) and formats the lines. */
export class MergeLog {
  readonly #reports = new Map<string, { used: MergeLogLine['used']; rejected: MergeLogLine['rejected'] }>();

  /** Runner's onMerge: keeps the report, senders named by index. */
  merge(
    label: string,
    peer: number,
    round: number,
    report: MergeReport,
    senderIndex: (id: string) => number | undefined,
  ): void {
    const index = (id: string): number => senderIndex(id) ?? -1;
    this.#reports.set(`${label}\u0000${peer}\u0000${round}`, {
      used: report.used.map((u) => [index(u.peer), rounded(u.share)] as const),
      rejected: report.rejected.map((r) => [index(r.peer), r.reason] as const),
    });
  }

  /** Runner's onRound: the line of this peer-round (with its merge report, if one came). */
  line(label: string, r: PeerRound): MergeLogLine {
    const key = `${label}\u0000${r.peer}\u0000${r.round}`;
    const report = this.#reports.get(key);
    this.#reports.delete(key);
    return {
      strategy: label,
      peer: r.peer,
      round: r.round,
      merged: accuracy(r.merged),
      local: accuracy(r.local),
      candidates: r.candidates,
      ownShare: r.ownShare === undefined ? null : rounded(r.ownShare),
      byzantineShare: r.byzantineShare === undefined ? null : rounded(r.byzantineShare),
      used: report?.used ?? [],
      rejected: report?.rejected ?? [],
      closedBy: r.closedBy,
      mergeMs: r.mergeMs === undefined ? null : rounded(r.mergeMs),
      atMs: Math.round(r.atMs),
    };
  }
}
