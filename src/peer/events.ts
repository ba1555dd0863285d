/** Typed events a Peer emits, for every front end (CLI, daemon metrics, browser, simulations). */
import type { MergeReport } from '../merge/report.ts';
import type { ClassScores } from '../merge/types.ts';

export interface AccuracySnapshot {
  readonly overall: number;
  readonly loss: number;
  readonly perClass: readonly number[];
  readonly f1: readonly number[];
}

export function accuracySnapshot(s: ClassScores): AccuracySnapshot {
  return { overall: s.overallAccuracy, loss: s.loss, perClass: Array.from(s.accuracy), f1: Array.from(s.f1) };
}

export type RoundClose = 'enough-updates' | 'deadline' | 'stopped';

export interface RoundSummary {
  readonly round: number;
  readonly trainLoss: number;
  readonly trainMs: number;
  readonly waitMs: number;
  readonly closedBy: RoundClose;
  /** Neighbour models offered to the merge. */
  readonly candidates: number;
  /** The merge report (who was used and with what share), if the strategy gave one. */
  readonly merge: MergeReport | undefined;
  /** Accuracy on the evaluation set before (local) and after (merged) the merge. */
  readonly local: AccuracySnapshot | undefined;
  readonly merged: AccuracySnapshot | undefined;
  /** Bytes this peer published this round (payload x first-hop recipients). */
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly totalBytesSent: number;
  readonly totalBytesReceived: number;
}

export interface RejectedUpdate {
  readonly from: string;
  readonly reason: string;
  readonly detail: string;
}

export interface PeerEvents {
  'round:start': CustomEvent<{ readonly round: number }>;
  'round:end': CustomEvent<RoundSummary>;
  'update:accepted': CustomEvent<{ readonly from: string; readonly seq: number; readonly bytes: number }>;
  'update:rejected': CustomEvent<RejectedUpdate>;
  'snapshot:fetched': CustomEvent<{ readonly from: string; readonly seq: number }>;
  'peer:connect': CustomEvent<string>;
  'peer:disconnect': CustomEvent<string>;
  error: CustomEvent<Error>;
}
