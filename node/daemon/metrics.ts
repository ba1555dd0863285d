/**
 * Daemon metrics on prom-client, in one Registry per DaemonMetrics: never prom-client's
 * global registry, because several daemons (tests) or a daemon and a library user's own
 * metrics can share a process, and series of the same name would collide. Counters,
 * histograms and round gauges are fed by Peer events; values the running peer owns (peers,
 * bytes, fetch budget, scores) are read from a snapshot in collect() callbacks at scrape
 * time. The registry also holds prom-client's default process metrics, unprefixed
 * (`process_*`, `nodejs_*`), the names Prometheus users and stock dashboards expect.
 * Reference: docs/DAEMON.md#metrics.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry, Summary } from 'prom-client';
import type { RoundSummary } from '../../src/peer/events.ts';

/**
 * Buckets (seconds) of meshfl_round_duration_seconds: a round is local training,
 * evaluation, the wait for neighbours and the merge, from a tenth of a second (tiny models)
 * to minutes (a CNN on a slow edge board, or a deadline-bound wait).
 */
export const ROUND_DURATION_BUCKETS: readonly number[] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
/**
 * Buckets (seconds) of meshfl_merge_duration_seconds: the strategy call alone, from a
 * millisecond (mean of a small MLP) to a minute (the default merge's validation passes
 * over many candidates of a large model).
 */
export const MERGE_DURATION_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];
/** Quantiles of the meshfl_merge_share summary. */
const SHARE_QUANTILES = [0, 0.5, 1];
/**
 * The share quantiles' sliding window: the Go client's default summary window (10 minutes
 * in 5 age buckets), so quantiles follow recent merges and not the whole uptime.
 */
const SHARE_WINDOW = { maxAgeSeconds: 600, ageBuckets: 5 } as const;

export interface MetricsSnapshot {
  readonly peers: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Gossip score of each connected peer (only connected ones: a hostile peer cannot create series). */
  readonly scores?: ReadonlyMap<string, number>;
  /** Announced-payload fetch budget (Libp2pGossip.fetchStats()); absent before libp2p starts. */
  readonly fetch?: {
    readonly bytesInFlight: number;
    readonly peakBytesInFlight: number;
    readonly maxBytes: number;
    readonly running: number;
    readonly queued: number;
    readonly cacheBytes: number;
  };
}

/** One scrape's response: the exposition text and the content type that goes with it. */
export interface MetricsExposition {
  readonly contentType: string;
  readonly body: string;
}

type FetchStats = NonNullable<MetricsSnapshot['fetch']>;

export class DaemonMetrics {
  /** This daemon's series and the process metrics; scrape with `registry.metrics()`. */
  readonly registry = new Registry();
  #rounds = 0;
  #lastRound: RoundSummary | undefined;
  readonly #roundsTotal: Counter;
  readonly #round: Gauge;
  readonly #accuracy: Gauge<'stage'>;
  readonly #loss: Gauge<'stage'>;
  readonly #trainLoss: Gauge;
  readonly #candidates: Gauge;
  readonly #ownShare: Gauge;
  readonly #shares: Summary;
  readonly #roundDuration: Histogram;
  readonly #mergeDuration: Histogram;
  readonly #accepted: Counter;
  readonly #rejected: Counter<'reason' | 'stage'>;
  readonly #snapshots: Counter;
  readonly #checkpoints: Counter;
  readonly #errors: Counter;

  /** `live` is read at every scrape: values the running peer owns. */
  constructor(live: () => MetricsSnapshot) {
    const registers = [this.registry];
    this.#roundsTotal = new Counter({
      name: 'meshfl_rounds_total',
      help: 'Rounds completed since the daemon started.',
      registers,
    });
    this.#round = new Gauge({
      name: 'meshfl_round',
      help: 'Number of the last completed round (resumed runs continue the count).',
      registers,
    });
    this.#round.set(-1);
    this.#accuracy = new Gauge({
      name: 'meshfl_accuracy',
      help: 'Accuracy on the evaluation set in the last evaluated round, before (local) and after (merged) the merge.',
      labelNames: ['stage'],
      registers,
    });
    this.#loss = new Gauge({
      name: 'meshfl_loss',
      help: 'Loss on the evaluation set in the last evaluated round.',
      labelNames: ['stage'],
      registers,
    });
    this.#trainLoss = new Gauge({
      name: 'meshfl_train_loss',
      help: 'Mean training loss of the last round (NaN before the first).',
      registers,
    });
    // A gauge without labels always has a sample: NaN says "no round yet", 0 would be a perfect loss.
    this.#trainLoss.set(Number.NaN);
    new Gauge({
      name: 'meshfl_peers',
      help: 'Connected libp2p peers.',
      registers,
      collect() {
        this.set(live().peers);
      },
    });
    this.#candidates = new Gauge({
      name: 'meshfl_merge_candidates',
      help: 'Neighbour models offered to the last merge.',
      registers,
    });
    this.#ownShare = new Gauge({
      name: 'meshfl_merge_own_share',
      help: 'Share of the own model in the last merge result.',
      registers,
    });
    this.#ownShare.set(1);
    this.#shares = new Summary({
      name: 'meshfl_merge_share',
      help: 'Shares of the merged result contributed by neighbour models: quantiles over the merges of the last 10 minutes, sum and count over all merges.',
      percentiles: SHARE_QUANTILES,
      ...SHARE_WINDOW,
      registers,
    });
    this.#roundDuration = new Histogram({
      name: 'meshfl_round_duration_seconds',
      help: 'Wall time of a round: local training, evaluation, publishing, waiting for neighbours, merge.',
      buckets: [...ROUND_DURATION_BUCKETS],
      registers,
    });
    this.#mergeDuration = new Histogram({
      name: 'meshfl_merge_duration_seconds',
      help: "Wall time of a round's merge (the strategy call alone).",
      buckets: [...MERGE_DURATION_BUCKETS],
      registers,
    });
    // Totals the Peer keeps: a counter set from them at scrape time (reset, then inc).
    new Counter({
      name: 'meshfl_bytes_received_total',
      help: 'Update bytes received (gossip and snapshots).',
      registers,
      collect() {
        this.reset();
        this.inc(live().bytesIn);
      },
    });
    new Counter({
      name: 'meshfl_bytes_sent_total',
      help: 'Update bytes published (payload x first-hop recipients).',
      registers,
      collect() {
        this.reset();
        this.inc(live().bytesOut);
      },
    });
    this.#accepted = new Counter({
      name: 'meshfl_updates_accepted_total',
      help: 'Neighbour updates applied to a public copy.',
      registers,
    });
    this.#rejected = new Counter({
      name: 'meshfl_updates_rejected_total',
      help: 'Incoming messages refused, by reason and by the stage that stopped them (message, frame, fetch, validation, snapshot, task, sample).',
      labelNames: ['reason', 'stage'],
      registers,
    });
    new Gauge({
      name: 'meshfl_peer_score',
      help: 'Gossip score of each connected peer (negative: penalised; below -80: graylisted).',
      labelNames: ['peer'],
      registers,
      collect() {
        // Rebuilt from the connected peers on every scrape: a disconnected peer's series goes
        // away, so peer ids (which anyone can mint) cannot grow the label set without bound.
        this.reset();
        for (const [peer, score] of live().scores ?? []) this.set({ peer }, score);
      },
    });
    this.#fetchGauge(
      live,
      'meshfl_fetch_bytes_in_flight',
      'Bytes of announced payloads being fetched or validated now.',
      (f) => f.bytesInFlight,
    );
    this.#fetchGauge(
      live,
      'meshfl_fetch_bytes_in_flight_peak',
      'Largest meshfl_fetch_bytes_in_flight since start (never above the limit).',
      (f) => f.peakBytesInFlight,
    );
    this.#fetchGauge(
      live,
      'meshfl_fetch_bytes_in_flight_limit',
      'Limit of bytes of unvalidated payloads held at once (4 x the largest update of the task).',
      (f) => f.maxBytes,
    );
    new Gauge({
      name: 'meshfl_fetches',
      help: 'Announced-payload fetches running and waiting.',
      labelNames: ['state'],
      registers,
      collect() {
        const f = live().fetch;
        if (f === undefined) return;
        this.set({ state: 'running' }, f.running);
        this.set({ state: 'queued' }, f.queued);
      },
    });
    this.#fetchGauge(
      live,
      'meshfl_payload_cache_bytes',
      'Bytes of validated payloads cached for neighbours to fetch.',
      (f) => f.cacheBytes,
    );
    this.#snapshots = new Counter({
      name: 'meshfl_snapshots_fetched_total',
      help: 'Public-copy snapshots fetched after a sequence gap.',
      registers,
    });
    this.#checkpoints = new Counter({
      name: 'meshfl_checkpoints_written_total',
      help: 'Checkpoints written to the data directory.',
      registers,
    });
    this.#errors = new Counter({
      name: 'meshfl_errors_total',
      help: 'Errors reported by the peer (publish, snapshot fetch) and failed checkpoint writes.',
      registers,
    });
    collectDefaultMetrics({ register: this.registry });
  }

  /** Rounds completed since start (for /status). */
  get rounds(): number {
    return this.#rounds;
  }

  /** The last round's summary (for /status). */
  get lastRound(): RoundSummary | undefined {
    return this.#lastRound;
  }

  onRound(summary: RoundSummary): void {
    this.#rounds++;
    this.#lastRound = summary;
    this.#roundsTotal.inc();
    this.#round.set(summary.round);
    // Unevaluated rounds (round.evaluateEvery > 1) keep the last evaluated round's values.
    for (const [stage, snap] of [
      ['local', summary.local],
      ['merged', summary.merged],
    ] as const) {
      if (snap === undefined) continue;
      this.#accuracy.set({ stage }, snap.overall);
      this.#loss.set({ stage }, snap.loss);
    }
    this.#trainLoss.set(summary.trainLoss);
    this.#candidates.set(summary.candidates);
    this.#ownShare.set(summary.merge?.ownShare ?? 1);
    for (const u of summary.merge?.used ?? []) this.#shares.observe(u.share);
    this.#roundDuration.observe(summary.roundMs / 1000);
    this.#mergeDuration.observe(summary.mergeMs / 1000);
  }

  onUpdateAccepted(): void {
    this.#accepted.inc();
  }

  /** Counts `count` refused messages at `stage` (message, frame, fetch, validation, snapshot, task). */
  onRejected(reason: string, stage = 'validation', count = 1): void {
    this.#rejected.inc({ reason, stage }, count);
  }

  onSnapshotFetched(): void {
    this.#snapshots.inc();
  }

  onCheckpointWritten(): void {
    this.#checkpoints.inc();
  }

  onError(): void {
    this.#errors.inc();
  }

  /** One scrape: every collect() runs, then the text is rendered. Rejects if a collect throws. */
  async exposition(): Promise<MetricsExposition> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  #fetchGauge(live: () => MetricsSnapshot, name: string, help: string, pick: (f: FetchStats) => number): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        // 0 until the libp2p node (and with it the fetch budget) exists.
        const f = live().fetch;
        if (f !== undefined) this.set(pick(f));
      },
    });
  }
}
