/** Typed events a Peer emits, for every front end (CLI, daemon metrics, browser, simulations). */
import type { MergeReport } from '../merge/report.ts';
import type { ClassScores } from '../merge/types.ts';
import type { TaskSpec } from './task.ts';
import type { TaskMismatch } from './task-mismatch.ts';

export interface AccuracySnapshot {
  readonly overall: number;
  readonly loss: number;
  readonly perClass: readonly number[];
  readonly f1: readonly number[];
}

export function accuracySnapshot(s: ClassScores): AccuracySnapshot {
  return { overall: s.overallAccuracy, loss: s.loss, perClass: Array.from(s.accuracy), f1: Array.from(s.f1) };
}

/**
 * What closed a wait for neighbour updates: 'enough-updates' (the wanted fresh updates
 * arrived: minFreshUpdates with one gossip step, every candidate with several; or no more
 * can come: every candidate ended its run and its last update is held), 'deadline' (the
 * adaptive wall-clock deadline, or with a wait gate the gate's: in simulations on the
 * in-process bus, every peer of the process was waiting), 'stopped'.
 */
export type RoundClose = 'enough-updates' | 'deadline' | 'stopped';

export interface RoundSummary {
  readonly round: number;
  readonly trainLoss: number;
  readonly trainMs: number;
  readonly waitMs: number;
  /** Wall time of the strategy's merge alone (ms). */
  readonly mergeMs: number;
  /** Wall time of the whole round, from round:start to round:end (ms). */
  readonly roundMs: number;
  /** What closed the round's first wait (its first gossip step; stepsClosedBy[0]). */
  readonly closedBy: RoundClose;
  /** What closed each gossip step's wait, in order (one entry per step taken). */
  readonly stepsClosedBy: readonly RoundClose[];
  /** Neighbour models offered to the merge. */
  readonly candidates: number;
  /** First round after a resume only: neighbour models merged before local training (Peer #catchUp). */
  readonly caughtUp?: number;
  /**
   * Per candidate, how many seqs it lags this peer's own latest published seq (0: from this
   * round's publication number; 1: one behind; negative: ahead). Diagnoses mixing staleness.
   */
  readonly candidateLags?: readonly number[];
  /** Candidates whose update arrived during this round (the rest are held from earlier rounds). */
  readonly freshCandidates?: number;
  /** Peers following this one at the merge (they take its updates); undefined with `neighbours: 'all'`. */
  readonly followers?: number;
  /** Senders this peer shuns now (src/peer/shunning.ts); undefined with shunAfter 0. */
  readonly shunned?: number;
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
  /**
   * 'validation': an update refused (src/wire/validate.ts reasons); 'snapshot': a snapshot
   * response refused, or a snapshot request we would not serve; 'task': a peer's answer on
   * `/meshfl/1/task` that is not a valid task. Stages below the Peer are reported by the
   * Gossip's own `rejected` event.
   */
  readonly stage: 'validation' | 'snapshot' | 'task' | 'sample';
}

/** A peer whose updates were rejected as 'wrong-fingerprint', with its task and what differs. */
export interface TaskMismatchEvent {
  readonly from: string;
  readonly theirs: TaskSpec;
  /** Described from this peer's side with TaskSpec key names (describeTaskMismatch). */
  readonly mismatch: TaskMismatch;
}

export interface PeerEvents {
  'round:start': CustomEvent<{ readonly round: number }>;
  'round:end': CustomEvent<RoundSummary>;
  /**
   * Every merge's report, in round `round`: each gossip step's and a resumed peer's catch-up
   * merge (RoundSummary.merge holds the first step's only). Dispatched before the merge's
   * verdicts are counted for shunning: a 'peer:shunned' it causes follows it.
   */
  'merge:report': CustomEvent<{ readonly round: number; readonly report: MergeReport }>;
  'update:accepted': CustomEvent<{ readonly from: string; readonly seq: number; readonly bytes: number }>;
  /** An update or snapshot refused as invalid (its sender is penalised, except for late or replayed seqs). */
  'update:rejected': CustomEvent<RejectedUpdate>;
  /** A late or duplicate seq ('stale-seq', 'replayed') refused by the topic validator without penalty. */
  'update:ignored': CustomEvent<RejectedUpdate>;
  'snapshot:fetched': CustomEvent<{ readonly from: string; readonly seq: number }>;
  /** After a 'wrong-fingerprint' rejection: the sender's task and how it differs (at most once per sender per TASK_PROBE_INTERVAL_MS). */
  'task:mismatch': CustomEvent<TaskMismatchEvent>;
  /** A sender whose models kept harming this peer's merges is not merged until round `until` (Infinity: for good). */
  'peer:shunned': CustomEvent<{ readonly peer: string; readonly round: number; readonly until: number }>;
  /** A shunned sender's term is over: it may be a neighbour again, on probation. */
  'peer:readmitted': CustomEvent<{ readonly peer: string; readonly round: number }>;
  'peer:connect': CustomEvent<string>;
  'peer:disconnect': CustomEvent<string>;
  error: CustomEvent<Error>;
}
