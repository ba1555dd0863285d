/**
 * Daemon metrics fed by Peer events and rendered in the Prometheus text exposition format
 * (version 0.0.4): HELP and TYPE lines, then samples. Reference: docs/DAEMON.md#metrics.
 */
import type { RoundSummary } from '../../src/peer/events.ts';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Quantiles of the last merge's candidate shares in the meshfl_merge_share summary. */
const SHARE_QUANTILES = [0, 0.5, 1] as const;

export interface MetricsSnapshot {
  readonly peers: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Gossip score of each connected peer (only connected ones: a hostile peer cannot create series). */
  readonly scores?: ReadonlyMap<string, number>;
  /** Announced-payload fetch budget (Libp2pGossip.fetchStats()). */
  readonly fetch?: {
    readonly bytesInFlight: number;
    readonly peakBytesInFlight: number;
    readonly maxBytes: number;
    readonly running: number;
    readonly queued: number;
    readonly cacheBytes: number;
  };
}

export class DaemonMetrics {
  rounds = 0;
  lastRound: RoundSummary | undefined;
  updatesAccepted = 0;
  snapshotsFetched = 0;
  checkpointsWritten = 0;
  errors = 0;
  /** Rejections by stage, then reason. */
  readonly rejected = new Map<string, Map<string, number>>();
  #shareSum = 0;
  #shareCount = 0;
  #lastShares: number[] = [];

  onRound(summary: RoundSummary): void {
    this.rounds++;
    this.lastRound = summary;
    const shares = summary.merge?.used.map((u) => u.share) ?? [];
    this.#lastShares = [...shares].sort((a, b) => a - b);
    for (const s of shares) this.#shareSum += s;
    this.#shareCount += shares.length;
  }

  /** Counts `count` refused messages at `stage` (message, frame, fetch, validation, snapshot, task). */
  onRejected(reason: string, stage = 'validation', count = 1): void {
    let byReason = this.rejected.get(stage);
    if (byReason === undefined) {
      byReason = new Map();
      this.rejected.set(stage, byReason);
    }
    byReason.set(reason, (byReason.get(reason) ?? 0) + count);
  }

  /** Total refused at `stage` (all stages when omitted). */
  rejectedTotal(stage?: string): number {
    let n = 0;
    for (const [s, byReason] of this.rejected) {
      if (stage === undefined || s === stage) for (const v of byReason.values()) n += v;
    }
    return n;
  }

  /** The exposition text; `live` holds values read from the running peer at scrape time. */
  render(live: MetricsSnapshot): string {
    const out: string[] = [];
    const metric = (name: string, type: 'counter' | 'gauge' | 'summary', help: string, samples: string[]): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples);
    };
    const r = this.lastRound;
    metric('meshfl_rounds_total', 'counter', 'Rounds completed since the daemon started.', [
      `meshfl_rounds_total ${this.rounds}`,
    ]);
    metric('meshfl_round', 'gauge', 'Number of the last completed round (resumed runs continue the count).', [
      `meshfl_round ${r === undefined ? -1 : r.round}`,
    ]);
    const stages: string[] = [];
    const losses: string[] = [];
    for (const [stage, snap] of [
      ['local', r?.local],
      ['merged', r?.merged],
    ] as const) {
      if (snap === undefined) continue;
      stages.push(`meshfl_accuracy{stage="${stage}"} ${num(snap.overall)}`);
      losses.push(`meshfl_loss{stage="${stage}"} ${num(snap.loss)}`);
    }
    metric(
      'meshfl_accuracy',
      'gauge',
      'Accuracy on the evaluation set in the last evaluated round, before (local) and after (merged) the merge.',
      stages,
    );
    metric('meshfl_loss', 'gauge', 'Loss on the evaluation set in the last evaluated round.', losses);
    metric(
      'meshfl_train_loss',
      'gauge',
      'Mean training loss of the last round.',
      r ? [`meshfl_train_loss ${num(r.trainLoss)}`] : [],
    );
    metric('meshfl_peers', 'gauge', 'Connected libp2p peers.', [`meshfl_peers ${live.peers}`]);
    metric('meshfl_merge_candidates', 'gauge', 'Neighbour models offered to the last merge.', [
      `meshfl_merge_candidates ${r?.candidates ?? 0}`,
    ]);
    metric('meshfl_merge_own_share', 'gauge', 'Share of the own model in the last merge result.', [
      `meshfl_merge_own_share ${num(r?.merge?.ownShare ?? 1)}`,
    ]);
    metric(
      'meshfl_merge_share',
      'summary',
      'Shares of the merged result contributed by neighbour models: quantiles over the last merge, sum and count over all merges.',
      [
        ...SHARE_QUANTILES.map((q) => `meshfl_merge_share{quantile="${q}"} ${num(quantile(this.#lastShares, q))}`),
        `meshfl_merge_share_sum ${num(this.#shareSum)}`,
        `meshfl_merge_share_count ${this.#shareCount}`,
      ],
    );
    metric('meshfl_bytes_received_total', 'counter', 'Update bytes received (gossip and snapshots).', [
      `meshfl_bytes_received_total ${live.bytesIn}`,
    ]);
    metric('meshfl_bytes_sent_total', 'counter', 'Update bytes published (payload x first-hop recipients).', [
      `meshfl_bytes_sent_total ${live.bytesOut}`,
    ]);
    metric('meshfl_updates_accepted_total', 'counter', 'Neighbour updates applied to a public copy.', [
      `meshfl_updates_accepted_total ${this.updatesAccepted}`,
    ]);
    const rejected: string[] = [];
    for (const stage of [...this.rejected.keys()].sort()) {
      const byReason = this.rejected.get(stage) as Map<string, number>;
      for (const reason of [...byReason.keys()].sort()) {
        rejected.push(
          `meshfl_updates_rejected_total{reason="${escapeLabel(reason)}",stage="${escapeLabel(stage)}"} ${byReason.get(reason)}`,
        );
      }
    }
    metric(
      'meshfl_updates_rejected_total',
      'counter',
      'Incoming messages refused, by reason and by the stage that stopped them (message, frame, fetch, validation, snapshot, task).',
      rejected,
    );
    metric(
      'meshfl_peer_score',
      'gauge',
      'Gossip score of each connected peer (negative: penalised; below -80: graylisted).',
      [...(live.scores ?? new Map<string, number>()).entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([peer, score]) => `meshfl_peer_score{peer="${escapeLabel(peer)}"} ${num(score)}`),
    );
    const f = live.fetch;
    if (f !== undefined) {
      metric('meshfl_fetch_bytes_in_flight', 'gauge', 'Bytes of announced payloads being fetched or validated now.', [
        `meshfl_fetch_bytes_in_flight ${f.bytesInFlight}`,
      ]);
      metric(
        'meshfl_fetch_bytes_in_flight_peak',
        'gauge',
        'Largest meshfl_fetch_bytes_in_flight since start (never above the limit).',
        [`meshfl_fetch_bytes_in_flight_peak ${f.peakBytesInFlight}`],
      );
      metric(
        'meshfl_fetch_bytes_in_flight_limit',
        'gauge',
        'Limit of bytes of unvalidated payloads held at once (4 x the largest update of the task).',
        [`meshfl_fetch_bytes_in_flight_limit ${f.maxBytes}`],
      );
      metric('meshfl_fetches', 'gauge', 'Announced-payload fetches running and waiting.', [
        `meshfl_fetches{state="running"} ${f.running}`,
        `meshfl_fetches{state="queued"} ${f.queued}`,
      ]);
      metric('meshfl_payload_cache_bytes', 'gauge', 'Bytes of validated payloads cached for neighbours to fetch.', [
        `meshfl_payload_cache_bytes ${f.cacheBytes}`,
      ]);
    }
    metric('meshfl_snapshots_fetched_total', 'counter', 'Public-copy snapshots fetched after a sequence gap.', [
      `meshfl_snapshots_fetched_total ${this.snapshotsFetched}`,
    ]);
    metric('meshfl_checkpoints_written_total', 'counter', 'Checkpoints written to the data directory.', [
      `meshfl_checkpoints_written_total ${this.checkpointsWritten}`,
    ]);
    metric('meshfl_errors_total', 'counter', 'Errors reported by the peer (publish, snapshot fetch).', [
      `meshfl_errors_total ${this.errors}`,
    ]);
    return `${out.join('\n')}\n`;
  }
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.round(q * (sorted.length - 1))] as number;
}

/** Prometheus float text: NaN and +-Inf have fixed spellings. */
function num(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Number.POSITIVE_INFINITY) return '+Inf';
  if (x === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(x);
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}
