/**
 * Why an incoming message is refused. Every decoding failure maps to exactly one of these,
 * so gossip validators can penalise and metrics can count by reason.
 */
export type RejectReason =
  | 'too-large' // longer than the configured maximum, checked before parsing
  | 'undecodable' // truncated, bad magic, unknown kind, bad length prefix, trailing bytes
  | 'bad-version' // format version this peer does not speak
  | 'bad-codec' // unknown codec id, bad top-k fraction, sparse keyframe, codec not allowed
  | 'wrong-task' // task id differs from ours
  | 'wrong-fingerprint' // architecture fingerprint differs from ours
  | 'wrong-shape' // layer count or a layer's payload size disagrees with our architecture
  | 'bad-index' // top-k index out of range or not strictly increasing
  | 'bad-scale' // int8 scale not finite or negative
  | 'bad-samples' // sample count above MAX_SAMPLES
  | 'bad-seq' // keyframe with base != seq, or delta with base >= seq
  | 'non-finite' // NaN/Inf in decoded values or in the reconstructed model
  | 'out-of-range' // a value outside the absolute bound, or a layer norm far above the running median
  | 'stale-seq' // seq older than the last one applied from this sender
  | 'replayed'; // seq equal to the last one applied from this sender

/**
 * Stale or replayed updates are not penalised: a late or duplicate copy of a sender's own
 * update is what a gossip mesh delivers normally, not the sender's fault. The one place
 * this rule is written (gossip verdicts, the Peer's penalties, snapshot answers).
 */
export function isBenignRejection(reason: string): boolean {
  return reason === 'stale-seq' || reason === 'replayed';
}

/** The only error type the decoders throw on bad input. */
export class DecodeError extends Error {
  readonly reason: RejectReason;
  constructor(reason: RejectReason, detail: string) {
    super(detail);
    this.name = 'DecodeError';
    this.reason = reason;
  }
}

export function fail(reason: RejectReason, detail: string): never {
  throw new DecodeError(reason, detail);
}
