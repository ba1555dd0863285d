/** Public surface of the update wire format (docs/PROTOCOL.md). */
export {
  type CodecSpec,
  codecFamily,
  denseOf,
  formatCodec,
  parseCodec,
  sameCodec,
  topkCount,
  type ValueCodecName,
} from './codec-spec.ts';
export { float32BitsToHalf, halfToNumber } from './codecs/fp16.ts';
export { topkIndices } from './codecs/topk.ts';
export * from './constants.ts';
export { DecodeError, type RejectReason } from './errors.ts';
export { decodeLayer, encodeLayer, roundTripLayer } from './layer-codec.ts';
export {
  checkHeader,
  decodeHeader,
  decodeLayers,
  decodeMessage,
  encodeMessage,
  maxEncodedSize,
  maxUpdateSize,
  type Update,
  type UpdateFields,
  type UpdateHeader,
  type UpdateKind,
} from './message.ts';
export {
  type ApplyResult,
  type EncodedUpdate,
  type EncoderOptions,
  PublicCopies,
  type PublicCopy,
  PublicCopyEncoder,
  type ReceiverOptions,
} from './public-copies.ts';
export { quantizeWeights } from './quantize.ts';
export { addDelta, checkReconstruction } from './reconstruct.ts';
export { type TaskIdentity, type TaskSchema, taskFingerprint, taskSchema } from './schema.ts';
export {
  checkSnapshotRequest,
  decodeSnapshotRequest,
  encodeSnapshotRequest,
  type SnapshotRequest,
  type SnapshotRequestCheck,
} from './snapshot.ts';
export { updatesTopic } from './topic.ts';
export {
  type GossipVerdict,
  gossipVerdict,
  type ValidationContext,
  type ValidationResult,
  validateUpdate,
} from './validate.ts';
