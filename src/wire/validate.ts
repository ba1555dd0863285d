/**
 * Message validation, shaped for a gossipsub topic validator: pure, cheapest checks first
 * (size, header, task, architecture, codec policy, sequence), payloads decoded last.
 * Never throws on bad input: every failure is a typed result.
 */
import { DEFAULT_VALUE_BOUND, firstOutOfBound } from '../model/bounds.ts';
import type { Weights } from '../model/weights.ts';
import { type CodecSpec, formatCodec, sameCodec } from './codec-spec.ts';
import { DEFAULT_MAX_MESSAGE_BYTES } from './constants.ts';
import { DecodeError, isBenignRejection, type RejectReason } from './errors.ts';
import {
  type CheckedLayers,
  checkHeader,
  decodeCheckedLayers,
  decodeHeader,
  type Update,
  type UpdateHeader,
} from './message.ts';
import { layerNorms, type NormKind, type NormLimits } from './norms.ts';
import { checkReconstruction } from './reconstruct.ts';
import type { TaskSchema } from './schema.ts';

export interface ValidationContext {
  readonly schema: TaskSchema;
  /** Messages longer than this are refused before parsing. Default DEFAULT_MAX_MESSAGE_BYTES. */
  readonly maxBytes?: number;
  /** Codecs accepted on this task; any well-formed codec when absent. */
  readonly allowedCodecs?: readonly CodecSpec[];
  /** Last seq applied from this sender, if any: older is 'stale-seq', equal is 'replayed'. */
  readonly lastSeq?: number;
  /** The sender's public copy at lastSeq: a delta on it must not overflow to Inf. */
  readonly publicCopy?: Weights;
  /**
   * Absolute bound on model values (default DEFAULT_VALUE_BOUND, src/model/bounds.ts;
   * Infinity turns it off): a keyframe value, or a value of the copy a delta produces, outside
   * [-bound, bound] is 'out-of-range'; so is a delta value outside [-2 bound, 2 bound] (the
   * difference of two bounded models), which is all that can be checked without the base.
   */
  readonly valueBound?: number;
  /** Per-layer norm limits (src/wire/norms.ts); none when absent. A layer above its limit is 'out-of-range'. */
  readonly norms?: NormLimits;
  /**
   * Decodes the layers after the header checks (default decodeCheckedLayers on `schema`):
   * receivers of the same bytes in one process decode them once (SharedCopies.decoded).
   */
  readonly decode?: (bytes: Uint8Array, header: UpdateHeader) => CheckedLayers;
  /**
   * The same pure computations, remembered per (read-only, shared) object by the receivers
   * of one process (SharedCopies): the layer norms of a decoded message, and the check of
   * a delta on a public copy (the norms of the copy it gives; it throws as
   * checkReconstruction does). Default: computed by each receiver.
   */
  readonly memo?: {
    layerNorms(w: Weights): Float64Array;
    reconstruction(copy: Weights, delta: Weights, bound: number): Float64Array;
  };
}

export type ValidationResult =
  | { readonly ok: true; readonly update: Update }
  | { readonly ok: false; readonly reason: RejectReason; readonly detail: string };

export function reject(reason: RejectReason, detail: string): ValidationResult {
  return { ok: false, reason, detail };
}

export function validateUpdate(bytes: Uint8Array, ctx: ValidationContext): ValidationResult {
  const maxBytes = ctx.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (bytes.byteLength > maxBytes) return reject('too-large', `${bytes.byteLength} bytes, limit ${maxBytes}`);
  try {
    const header = decodeHeader(bytes);
    checkHeader(header, ctx.schema);
    const allowed = ctx.allowedCodecs;
    if (allowed !== undefined && header.kind === 'delta' && !allowed.some((c) => sameCodec(c, header.codec))) {
      return reject('bad-codec', `codec ${formatCodec(header.codec)} not accepted on this task`);
    }
    if (ctx.lastSeq !== undefined) {
      if (header.seq === ctx.lastSeq) return reject('replayed', `seq ${header.seq} already applied`);
      if (header.seq < ctx.lastSeq) return reject('stale-seq', `seq ${header.seq} older than ${ctx.lastSeq}`);
    }
    const { weights, maxAbs } = ctx.decode?.(bytes, header) ?? decodeCheckedLayers(bytes, header, ctx.schema);
    const bound = ctx.valueBound ?? DEFAULT_VALUE_BOUND;
    const valueLimit = header.kind === 'delta' ? 2 * bound : bound;
    for (let l = 0; l < weights.length; l++) {
      // Every value is finite here: only a layer whose max|v| is above the limit is scanned.
      if (!(maxAbs[l] > valueLimit)) continue;
      const values = weights[l].values;
      const at = firstOutOfBound(values, valueLimit);
      if (at >= 0) {
        return reject(
          'out-of-range',
          `layer ${l} value ${at} is ${values[at]}, outside +-${valueLimit} (${header.kind})`,
        );
      }
    }
    let reconstructed: Float64Array | undefined;
    if (header.kind === 'delta' && ctx.publicCopy !== undefined && header.base === ctx.lastSeq) {
      reconstructed =
        ctx.memo === undefined
          ? checkReconstruction(ctx.publicCopy, weights, bound)
          : ctx.memo.reconstruction(ctx.publicCopy, weights, bound);
    }
    if (ctx.norms !== undefined) {
      const kind: NormKind = header.kind === 'delta' ? 'delta' : 'model';
      const norms = ctx.memo === undefined ? layerNorms(weights) : ctx.memo.layerNorms(weights);
      const tooLarge =
        aboveLimit(ctx.norms, kind, norms, weights) ??
        (reconstructed === undefined ? undefined : aboveLimit(ctx.norms, 'model', reconstructed, weights));
      if (tooLarge !== undefined) return reject('out-of-range', tooLarge);
    }
    return { ok: true, update: { ...header, weights } };
  } catch (err) {
    if (err instanceof DecodeError) return reject(err.reason, err.message);
    throw err; // a bug, not bad input: the fuzz tests keep this unreachable
  }
}

/** The first layer whose norm exceeds its limit, described; undefined when all are within. */
function aboveLimit(limits: NormLimits, kind: NormKind, norms: Float64Array, layers: Weights): string | undefined {
  for (let l = 0; l < norms.length; l++) {
    const limit = limits.limit(kind, l);
    const norm = norms[l];
    if (limit !== undefined && norm > limit) {
      const name = layers[l].name;
      return `layer ${l} (${name}) ${kind} norm ${norm.toPrecision(4)} above its limit ${limit.toPrecision(4)}`;
    }
  }
  return undefined;
}

export type GossipVerdict = 'accept' | 'ignore' | 'reject';

/**
 * How a gossip validator should treat a result: late or duplicate sequence numbers are
 * ordinary on a mesh (ignore, no penalty); everything else invalid is the sender's fault.
 */
export function gossipVerdict(result: ValidationResult): GossipVerdict {
  if (result.ok) return 'accept';
  return isBenignRejection(result.reason) ? 'ignore' : 'reject';
}
