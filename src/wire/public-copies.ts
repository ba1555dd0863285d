/**
 * CHOCO-style compressed gossip (ALGORITHMS.md §4) with sequence numbers.
 *
 * Sender: keeps its own public copy x̂ (what every receiver holds of it). Each message
 * carries q = Q(x - x̂) and the sender then sets x̂ <- x̂ + decode(q), decoding its own bytes,
 * so error feedback is exact: what Q dropped stays in x - x̂ and goes out later.
 * Every `keyframeInterval` messages, and on demand, it sends a keyframe (x itself in the
 * keyframe codec) which replaces x̂ everywhere.
 *
 * Receiver: one public copy per sender with its last applied seq. A delta applies only on
 * the exact seq it was computed against; otherwise the caller fetches a snapshot.
 */
import { checkValueBound, DEFAULT_VALUE_BOUND, firstOutOfBound } from '../model/bounds.ts';
import { cloneWeights, sameArchitecture, type Weights } from '../model/weights.ts';
import type { CodecSpec } from './codec-spec.ts';
import { DEFAULT_KEYFRAME_INTERVAL, MAX_SEQ } from './constants.ts';
import { DecodeError, type RejectReason } from './errors.ts';
import {
  type CheckedLayers,
  checkHeader,
  decodeCheckedLayers,
  decodeHeader,
  encodeMessage,
  type Update,
  type UpdateKind,
} from './message.ts';
import { layerNorms, type NormBoundOptions, NormTracker } from './norms.ts';
import { addDelta, checkCopy } from './reconstruct.ts';
import type { TaskSchema } from './schema.ts';
import type { SharedCopies } from './shared-copies.ts';
import { type ValidationContext, validateUpdate } from './validate.ts';

export interface EncoderOptions {
  readonly schema: TaskSchema;
  /** Codec for deltas, e.g. parseCodec('topk:0.05+int8'). */
  readonly codec: CodecSpec;
  /** Dense codec for periodic keyframes; default fp32 (lossless resync). */
  readonly keyframeCodec?: CodecSpec;
  /** A keyframe every this many messages (>= 1); default DEFAULT_KEYFRAME_INTERVAL. */
  readonly keyframeInterval?: number;
  /**
   * Numbering continues after this seq (default 0). A peer restarted with the same id must
   * keep its sequence going: neighbours ignore seqs they have seen as stale or replayed.
   */
  readonly resumeAfterSeq?: number;
}

export interface EncodedUpdate {
  readonly bytes: Uint8Array;
  readonly kind: UpdateKind;
  readonly seq: number;
  readonly base: number;
  /** The message as every receiver decodes it: q for a delta, the model for a keyframe. Read-only. */
  readonly decoded: Weights;
  /** The same, with each layer's max|v|: what SharedCopies.decoded holds for these bytes. Read-only. */
  readonly checked: CheckedLayers;
  /** x̂_self after this message (what receivers now hold of us). Read-only. */
  readonly publicCopy: Weights;
}

const FP32: CodecSpec = { kind: 'dense', values: 'fp32' };

function layoutOf(schema: TaskSchema): Weights {
  return schema.layers.map((l) => ({ name: l.name, shape: [...l.shape], values: new Float32Array(l.size) }));
}

function subtract(x: Weights, y: Weights): Weights {
  return x.map((l, i) => {
    const a = l.values;
    const b = y[i].values;
    const out = new Float32Array(a.length);
    for (let j = 0; j < a.length; j++) out[j] = a[j] - b[j];
    return { name: l.name, shape: [...l.shape], values: out };
  });
}

/** The sender side: own public copy, sequence numbers, keyframe schedule. */
export class PublicCopyEncoder {
  readonly schema: TaskSchema;
  readonly codec: CodecSpec;
  readonly keyframeCodec: CodecSpec;
  readonly keyframeInterval: number;
  #self: Weights | undefined;
  #lastSeq = 0;
  #lastSamples = 0;
  #sinceKeyframe = 0;
  #keyframeRequested = false;
  /** The last snapshot's bytes, while something else holds them. */
  #snapshot: { readonly seq: number; readonly bytes: WeakRef<Uint8Array> } | undefined;

  constructor(options: EncoderOptions) {
    this.schema = options.schema;
    this.codec = options.codec;
    this.keyframeCodec = options.keyframeCodec ?? FP32;
    if (this.keyframeCodec.kind !== 'dense') throw new RangeError('keyframe codec must be dense (fp32, fp16, int8)');
    this.keyframeInterval = options.keyframeInterval ?? DEFAULT_KEYFRAME_INTERVAL;
    if (!(Number.isInteger(this.keyframeInterval) && this.keyframeInterval >= 1)) {
      throw new RangeError(`keyframe interval must be an integer >= 1, got ${this.keyframeInterval}`);
    }
    const resume = options.resumeAfterSeq ?? 0;
    if (!(Number.isInteger(resume) && resume >= 0 && resume < MAX_SEQ)) {
      throw new RangeError(`resumeAfterSeq must be an integer in [0, ${MAX_SEQ}), got ${resume}`);
    }
    this.#lastSeq = resume;
  }

  /** Seq of the last message emitted (0 before the first). */
  get seq(): number {
    return this.#lastSeq;
  }

  /**
   * x̂_self itself, read-only (never written: each message makes a new one), or undefined
   * before the first message. What a SharedCopies is seeded with.
   */
  get current(): Weights | undefined {
    return this.#self;
  }

  /** x̂_self: what receivers reconstruct of this peer (a copy), or undefined before the first message. */
  publicCopy(): Weights | undefined {
    return this.#self === undefined ? undefined : cloneWeights(this.#self);
  }

  /** The next encodeUpdate emits a keyframe (e.g. after a neighbour reported a gap). */
  requestKeyframe(): void {
    this.#keyframeRequested = true;
  }

  /** Encodes x as the next message: a keyframe when due, else the compressed x - x̂. */
  encodeUpdate(x: Weights, samples: number): EncodedUpdate {
    if (!sameArchitecture(x, layoutOf(this.schema))) throw new RangeError('encodeUpdate: model does not fit the task');
    if (this.#lastSeq >= MAX_SEQ) throw new RangeError('sequence numbers exhausted (uint32)');
    const seq = this.#lastSeq + 1;
    const keyframe =
      this.#self === undefined || this.#keyframeRequested || this.#sinceKeyframe + 1 >= this.keyframeInterval;
    const base = keyframe ? seq : this.#lastSeq;
    const fields = { taskId: this.schema.taskId, fingerprint: this.schema.fingerprint, seq, base, samples };
    const bytes = keyframe
      ? encodeMessage({ ...fields, kind: 'keyframe', codec: this.keyframeCodec }, x)
      : encodeMessage({ ...fields, kind: 'delta', codec: this.codec }, subtract(x, this.#self as Weights));
    // Decode our own bytes: x̂ then matches every receiver bit for bit.
    const header = decodeHeader(bytes);
    checkHeader(header, this.schema);
    const checked = decodeCheckedLayers(bytes, header, this.schema);
    const self = keyframe ? checked.weights : addDelta(this.#self as Weights, checked.weights);
    this.#self = self;
    this.#lastSeq = seq;
    this.#lastSamples = samples;
    this.#sinceKeyframe = keyframe ? 0 : this.#sinceKeyframe + 1;
    if (keyframe) this.#keyframeRequested = false;
    return {
      bytes,
      kind: keyframe ? 'keyframe' : 'delta',
      seq,
      base,
      decoded: checked.weights,
      checked,
      publicCopy: self,
    };
  }

  /**
   * The answer to a snapshot request: x̂_self at the current seq as a lossless fp32 keyframe
   * (deltas that follow apply on it exactly). Undefined before the first message.
   */
  snapshot(): Uint8Array | undefined {
    if (this.#self === undefined) return undefined;
    const seq = this.#lastSeq;
    // Encoded per request (a copy of x̂ with a header; deterministic, so every request at
    // a seq gets equal bytes). Kept, it would hold an fp32 model per peer for a whole round;
    // receivers in one process share x̂ itself instead (Peer seeds SharedCopies). Held
    // weakly: while the last one is still alive (being sent to other followers), the next
    // request at the same seq gets the same object instead of another encoding.
    const cached = this.#snapshot;
    const alive = cached?.seq === seq ? cached.bytes.deref() : undefined;
    if (alive !== undefined) return alive;
    const bytes = encodeMessage(
      {
        kind: 'keyframe',
        taskId: this.schema.taskId,
        fingerprint: this.schema.fingerprint,
        seq,
        base: seq,
        samples: this.#lastSamples,
        codec: FP32,
      },
      this.#self,
    );
    this.#snapshot = { seq, bytes: new WeakRef(bytes) };
    return bytes;
  }
}

/** A neighbour's public copy as held by a receiver. */
export interface PublicCopy {
  readonly seq: number;
  readonly samples: number;
  readonly weights: Weights;
}

export type ApplyResult =
  | { readonly kind: 'applied'; readonly sender: string; readonly update: UpdateKind; readonly copy: PublicCopy }
  | {
      /** A delta whose base we do not hold: fetch a snapshot from the sender. */
      readonly kind: 'gap';
      readonly sender: string;
      /** Seq we hold, undefined if we hold nothing of this sender. */
      readonly have: number | undefined;
      readonly base: number;
      readonly seq: number;
    }
  | { readonly kind: 'rejected'; readonly sender: string; readonly reason: RejectReason; readonly detail: string };

export interface ReceiverOptions {
  readonly schema: TaskSchema;
  readonly maxBytes?: number;
  readonly allowedCodecs?: readonly CodecSpec[];
  /** Absolute value bound (ValidationContext.valueBound); default DEFAULT_VALUE_BOUND, Infinity = off. */
  readonly valueBound?: number;
  /** Per-layer norm limits learned from accepted updates (norms.ts); `false` turns them off. */
  readonly norms?: NormBoundOptions | false;
  /** Copies shared read-only with the other receivers of this process (shared-copies.ts). */
  readonly shared?: SharedCopies;
}

/** Key of this peer's own updates in the norm tracker (sender ids are never empty). */
const SELF = '';

/** The receiver side: one public copy per sender. Nothing changes unless a message fully validates. */
export class PublicCopies {
  readonly schema: TaskSchema;
  readonly #maxBytes: number | undefined;
  readonly #allowedCodecs: readonly CodecSpec[] | undefined;
  readonly #copies = new Map<string, PublicCopy>();
  readonly #shared: SharedCopies | undefined;
  readonly valueBound: number;
  /** Norm limits learned from accepted updates; undefined when turned off. */
  readonly norms: NormTracker | undefined;

  constructor(options: ReceiverOptions) {
    this.schema = options.schema;
    this.#maxBytes = options.maxBytes;
    this.#allowedCodecs = options.allowedCodecs;
    this.#shared = options.shared;
    this.valueBound = checkValueBound(options.valueBound ?? DEFAULT_VALUE_BOUND);
    this.norms =
      options.norms === false
        ? undefined
        : new NormTracker(
            this.schema.layers.map((l) => l.size),
            options.norms,
          );
  }

  /** Validation context for a message from `sender` (usable by a gossip validator). */
  contextFor(sender: string): ValidationContext {
    const copy = this.#copies.get(sender);
    return {
      schema: this.schema,
      maxBytes: this.#maxBytes,
      allowedCodecs: this.#allowedCodecs,
      lastSeq: copy?.seq,
      publicCopy: copy?.weights,
      valueBound: this.valueBound,
      norms: this.norms,
      ...(this.#shared === undefined ? {} : { decode: this.#sharedDecode(sender), memo: this.#shared }),
    };
  }

  #sharedDecode(sender: string): NonNullable<ValidationContext['decode']> {
    return (bytes, header) => {
      const shared = this.#shared;
      const decode = () => decodeCheckedLayers(bytes, header, this.schema);
      return shared === undefined ? decode() : shared.decoded(shared.canonical(sender, bytes), decode);
    };
  }

  /**
   * Feeds this peer's own published update into the norm limits (its own step sizes are
   * the one reference no neighbour can fake). Pass what `PublicCopyEncoder.encodeUpdate` returned.
   */
  observeOwn(sent: Pick<EncodedUpdate, 'kind' | 'decoded' | 'publicCopy'>): void {
    if (this.norms === undefined) return;
    if (sent.kind === 'delta') this.norms.observe(SELF, 'delta', layerNorms(sent.decoded));
    // The public copy is what receivers in this process hold (seeded): its norms are theirs.
    const own = this.#shared === undefined ? layerNorms(sent.publicCopy) : this.#shared.layerNorms(sent.publicCopy);
    this.norms.observe(SELF, 'model', own);
  }

  /** Validates raw bytes from `sender` against its current state, then applies them. */
  receive(sender: string, received: Uint8Array): ApplyResult {
    const bytes = this.#shared === undefined ? received : this.#shared.canonical(sender, received);
    const result = validateUpdate(bytes, this.contextFor(sender));
    if (!result.ok) return { kind: 'rejected', sender, reason: result.reason, detail: result.detail };
    return this.apply(sender, result.update, bytes);
  }

  /**
   * Applies a decoded update (from validateUpdate or decodeMessage for this task). With
   * `bytes`, the message it was decoded from, and a SharedCopies, the resulting copy is
   * shared with the other receivers of the same bytes on the same base.
   */
  apply(sender: string, update: Update, received?: Uint8Array): ApplyResult {
    // Receivers' own copies of the same bytes share one key (SharedCopies.canonical).
    const bytes =
      received === undefined || this.#shared === undefined ? received : this.#shared.canonical(sender, received);
    if (update.taskId !== this.schema.taskId || update.fingerprint !== this.schema.fingerprint) {
      return { kind: 'rejected', sender, reason: 'wrong-task', detail: 'update decoded for another task or model' };
    }
    const current = this.#copies.get(sender);
    if (current !== undefined && update.seq === current.seq) {
      return { kind: 'rejected', sender, reason: 'replayed', detail: `seq ${update.seq} already applied` };
    }
    if (current !== undefined && update.seq < current.seq) {
      return { kind: 'rejected', sender, reason: 'stale-seq', detail: `seq ${update.seq} older than ${current.seq}` };
    }
    let weights: Weights;
    if (update.kind === 'keyframe') {
      // Re-checked here: an update may come from decodeMessage rather than validateUpdate.
      const check = (): ApplyResult | undefined => {
        for (let l = 0; l < update.weights.length; l++) {
          const values = update.weights[l].values;
          const at = firstOutOfBound(values, this.valueBound);
          if (at >= 0) {
            const reason: RejectReason = Number.isFinite(values[at]) ? 'out-of-range' : 'non-finite';
            return { kind: 'rejected', sender, reason, detail: `layer ${l} value ${at} is ${values[at]}` };
          }
        }
        return undefined;
      };
      const refused =
        this.#shared === undefined ? check() : this.#shared.within(update.weights, this.valueBound, check);
      if (refused !== undefined) return refused;
      const decoded = update.weights;
      weights =
        this.#shared !== undefined && bytes !== undefined
          ? this.#shared.resolve(bytes, undefined, () => cloneWeights(decoded))
          : cloneWeights(decoded);
    } else {
      if (current === undefined || update.base !== current.seq) {
        return { kind: 'gap', sender, have: current?.seq, base: update.base, seq: update.seq };
      }
      try {
        const add = (): Weights => addDelta(current.weights, update.weights, this.valueBound);
        const verify = (w: Weights): void => {
          const shared = this.#shared;
          if (shared === undefined) checkCopy(w, this.valueBound);
          else shared.within(w, this.valueBound, () => checkCopy(w, this.valueBound));
        };
        weights =
          this.#shared !== undefined && bytes !== undefined
            ? this.#shared.resolve(bytes, current.weights, add, verify)
            : add();
      } catch (err) {
        if (err instanceof DecodeError) return { kind: 'rejected', sender, reason: err.reason, detail: err.message };
        throw err;
      }
    }
    const copy: PublicCopy = { seq: update.seq, samples: update.samples, weights };
    this.#copies.set(sender, copy);
    if (this.norms !== undefined) {
      const norms = (w: Weights): Float64Array =>
        this.#shared === undefined ? layerNorms(w) : this.#shared.layerNorms(w);
      if (update.kind === 'delta') this.norms.observe(sender, 'delta', norms(update.weights));
      this.norms.observe(sender, 'model', norms(weights));
    }
    return { kind: 'applied', sender, update: update.kind, copy };
  }

  get(sender: string): PublicCopy | undefined {
    return this.#copies.get(sender);
  }

  senders(): string[] {
    return [...this.#copies.keys()];
  }

  forget(sender: string): void {
    this.#copies.delete(sender);
    this.norms?.forget(sender);
  }
}
