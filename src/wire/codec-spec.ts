/**
 * Codec specs: what a sender applies to each layer before it goes on the wire.
 * Text form (settings, CLI): `fp32` | `fp16` | `int8` | `topk:<fraction>` | `topk:<fraction>+<value codec>`.
 * Wire form: value codec id, sparsity id and the top-k fraction in parts per million.
 */
import {
  SPARSITY_DENSE,
  SPARSITY_TOPK,
  TOPK_PPM_SCALE,
  VALUE_CODEC_FP16,
  VALUE_CODEC_FP32,
  VALUE_CODEC_INT8,
} from './constants.ts';
import { fail } from './errors.ts';

export type ValueCodecName = 'fp32' | 'fp16' | 'int8';

export type CodecSpec =
  | { readonly kind: 'dense'; readonly values: ValueCodecName }
  | {
      readonly kind: 'topk';
      readonly values: ValueCodecName /** fraction kept, in 1e-6 units */;
      readonly ppm: number;
    };

const VALUE_CODEC_NAMES: readonly ValueCodecName[] = ['fp32', 'fp16', 'int8'];

function isValueCodecName(text: string): text is ValueCodecName {
  return (VALUE_CODEC_NAMES as readonly string[]).includes(text);
}

const FRACTION_PATTERN = /^(?:0|1)?(?:\.\d+)?$/;

function parseFraction(text: string, spec: string): number {
  if (text === '' || text === '.' || !FRACTION_PATTERN.test(text)) {
    throw new RangeError(`codec "${spec}": top-k fraction "${text}" is not a decimal number like 0.1`);
  }
  const fraction = Number(text);
  if (!(fraction > 0 && fraction <= 1)) {
    throw new RangeError(`codec "${spec}": top-k fraction must be in (0, 1], got ${text}`);
  }
  const ppm = Math.round(fraction * TOPK_PPM_SCALE);
  if (Math.abs(ppm - fraction * TOPK_PPM_SCALE) > 1e-6 || ppm === 0) {
    throw new RangeError(`codec "${spec}": top-k fraction has more than 6 decimal places (${text})`);
  }
  return ppm;
}

/** Parses a codec spec string; throws RangeError naming the problem. */
export function parseCodec(text: string): CodecSpec {
  const spec = text.trim();
  if (isValueCodecName(spec)) return { kind: 'dense', values: spec };
  if (!spec.startsWith('topk:')) {
    throw new RangeError(
      `codec "${text}": expected fp32, fp16, int8, topk:<fraction> or topk:<fraction>+<fp32|fp16|int8>`,
    );
  }
  const rest = spec.slice('topk:'.length);
  const plus = rest.indexOf('+');
  const fractionText = plus < 0 ? rest : rest.slice(0, plus);
  const valuesText = plus < 0 ? 'fp32' : rest.slice(plus + 1);
  if (!isValueCodecName(valuesText)) {
    throw new RangeError(`codec "${text}": value codec after "+" must be fp32, fp16 or int8, got "${valuesText}"`);
  }
  return { kind: 'topk', values: valuesText, ppm: parseFraction(fractionText, text) };
}

/** Canonical text form; parseCodec(formatCodec(s)) equals s. */
export function formatCodec(spec: CodecSpec): string {
  switch (spec.kind) {
    case 'dense':
      return spec.values;
    case 'topk': {
      const fraction = String(spec.ppm / TOPK_PPM_SCALE);
      return spec.values === 'fp32' ? `topk:${fraction}` : `topk:${fraction}+${spec.values}`;
    }
    default:
      return assertNever(spec);
  }
}

/**
 * The part of a codec every peer of a task must share, as text: the value codec and the
 * sparsity ("int8", "topk+int8"). The top-k fraction is left out: it is a bandwidth choice
 * each device may make, and receivers decode any fraction.
 */
export function codecFamily(spec: CodecSpec): string {
  switch (spec.kind) {
    case 'dense':
      return spec.values;
    case 'topk':
      return `topk+${spec.values}`;
    default:
      return assertNever(spec);
  }
}

/** The codec used for full snapshots derived from `spec`: same value codec, no sparsity. */
export function denseOf(spec: CodecSpec): CodecSpec {
  return { kind: 'dense', values: spec.values };
}

/** Entries kept by top-k for a layer of n values: ceil(n * ppm / 1e6), at least 1 (if n > 0). */
export function topkCount(n: number, ppm: number): number {
  if (n === 0) return 0;
  return Math.min(n, Math.max(1, Math.ceil((n * ppm) / TOPK_PPM_SCALE)));
}

export interface WireCodec {
  readonly valueId: number;
  readonly sparsityId: number;
  readonly ppm: number;
}

export function valueCodecId(name: ValueCodecName): number {
  switch (name) {
    case 'fp32':
      return VALUE_CODEC_FP32;
    case 'fp16':
      return VALUE_CODEC_FP16;
    case 'int8':
      return VALUE_CODEC_INT8;
    default:
      return assertNever(name);
  }
}

export function codecToWire(spec: CodecSpec): WireCodec {
  const valueId = valueCodecId(spec.values);
  switch (spec.kind) {
    case 'dense':
      return { valueId, sparsityId: SPARSITY_DENSE, ppm: 0 };
    case 'topk':
      return { valueId, sparsityId: SPARSITY_TOPK, ppm: spec.ppm };
    default:
      return assertNever(spec);
  }
}

/** Reverse of codecToWire; throws DecodeError('bad-codec') on anything unknown. */
export function codecFromWire(wire: WireCodec): CodecSpec {
  let values: ValueCodecName;
  if (wire.valueId === VALUE_CODEC_FP32) values = 'fp32';
  else if (wire.valueId === VALUE_CODEC_FP16) values = 'fp16';
  else if (wire.valueId === VALUE_CODEC_INT8) values = 'int8';
  else return fail('bad-codec', `unknown value codec id ${wire.valueId}`);
  if (wire.sparsityId === SPARSITY_DENSE) {
    if (wire.ppm !== 0) fail('bad-codec', `dense codec with top-k fraction ${wire.ppm} ppm`);
    return { kind: 'dense', values };
  }
  if (wire.sparsityId === SPARSITY_TOPK) {
    if (!(wire.ppm >= 1 && wire.ppm <= TOPK_PPM_SCALE)) {
      fail('bad-codec', `top-k fraction ${wire.ppm} ppm outside 1..${TOPK_PPM_SCALE}`);
    }
    return { kind: 'topk', values, ppm: wire.ppm };
  }
  return fail('bad-codec', `unknown sparsity id ${wire.sparsityId}`);
}

export function sameCodec(a: CodecSpec, b: CodecSpec): boolean {
  return formatCodec(a) === formatCodec(b);
}

export function assertNever(x: never): never {
  throw new Error(`unreachable: ${JSON.stringify(x)}`);
}
