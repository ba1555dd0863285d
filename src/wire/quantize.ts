/**
 * What a codec does to a whole model: decode(encode(w)) per layer. For measuring the
 * accuracy cost of a codec in training runs (apply it to the weights or deltas a peer
 * would send) without going through messages and sequence numbers.
 */
import { mapLayers, type Weights } from '../model/weights.ts';
import { type CodecSpec, parseCodec } from './codec-spec.ts';
import { roundTripLayer } from './layer-codec.ts';

export function quantizeWeights(w: Weights, codec: CodecSpec | string): Weights {
  const spec = typeof codec === 'string' ? parseCodec(codec) : codec;
  return mapLayers(w, (l) => roundTripLayer(spec, l.values));
}
