/**
 * Wire codec benchmark: encode/decode throughput per codec (GB/s of fp32 parameters) as a
 * fraction of memcpy bandwidth, message size per codec as a fraction of fp32, and the
 * relative error each codec leaves in a delta.
 *
 * The baseline is a memcpy (`dst.set(src)` per layer into arrays allocated once), timed
 * alternately with every row (simulations/bench/suite/alternate.ts). Rows: the dense value
 * codecs' loops alone (into buffers allocated once); a fresh copy (`slice()`, the least any
 * decode returning new arrays pays); and whole messages (encodeMessage, validateUpdate).
 *
 *   npm run bench:wire [-- --quick] [-- --json] [-- --accuracy]
 *
 * `--accuracy` then also runs simulations/bench/codec-accuracy.ts: the accuracy cost of each
 * codec in a short MNIST simulation (a few minutes; `--json` prints it as a second line).
 */
import { createRng, type Rng } from '../../src/data/rng.ts';
import { layer, parameterCount, type Weights } from '../../src/model/weights.ts';
import { formatCodec, parseCodec, type ValueCodecName } from '../../src/wire/codec-spec.ts';
import { decodeValuesInto, encodeValues, encodeValuesInto } from '../../src/wire/codecs/values.ts';
import { encodeMessage } from '../../src/wire/message.ts';
import { taskSchema } from '../../src/wire/schema.ts';
import { validateUpdate } from '../../src/wire/validate.ts';
import { alternate, median, memcpyOf } from './suite/alternate.ts';

export const CODECS_UNDER_TEST = [
  'fp32',
  'fp16',
  'int8',
  'topk:0.1',
  'topk:0.1+fp16',
  'topk:0.1+int8',
  'topk:0.01+int8',
] as const;

const MODELS: Record<string, readonly (readonly number[])[]> = {
  '100k': [[256, 384], [384], [384, 10], [10]],
  '1M': [[784, 1024], [1024], [1024, 190], [190], [190, 10], [10]],
};

const TASK = 'bench';
const WEIGHT_SD = 0.05;
/** A round of local training moves weights by a few percent of their typical size. */
const DELTA_SD = 0.03 * WEIGHT_SD;

function gaussian(rng: Rng, shapes: readonly (readonly number[])[], sd: number): Weights {
  return shapes.map((shape, i) => {
    const l = layer(`l${i}`, shape);
    // Student-t-like tails (normal / sqrt of a chi-square draw) as real updates have.
    for (let j = 0; j < l.values.length; j++) l.values[j] = (sd * rng.normal()) / Math.sqrt(0.5 + rng.next());
    return l;
  });
}

/** Throughput of one operation on fp32 data, against memcpy of the same bytes measured alternately. */
export interface Rate {
  /** Median milliseconds per call. */
  readonly ms: number;
  /** fp32 bytes (4 x parameters) per second, in GB/s. */
  readonly gbps: number;
  /** Fraction of memcpy bandwidth: median over rounds of memcpy ms / operation ms. */
  readonly ofMemcpy: number;
}

export interface CodecResult {
  readonly codec: string;
  readonly bytes: number;
  readonly fractionOfFp32: number;
  readonly relativeError: number;
  /** encodeMessage: checks, encoding, the message buffer. */
  readonly encode: Rate;
  /** validateUpdate: header, decoding into fresh arrays, finiteness and value-bound checks. */
  readonly decode: Rate;
}

/** A dense value codec's loops alone, per layer, into buffers allocated once. */
export interface KernelResult {
  readonly codec: ValueCodecName;
  readonly encode: Rate;
  readonly decode: Rate;
}

export interface ModelResult {
  readonly model: string;
  readonly parameters: number;
  /** memcpy bandwidth: median of every memcpy sample of this model's rows (GB/s). */
  readonly memcpyGBps: number;
  /** `values.slice()` per layer: allocating and filling a fresh array, what any decode returning new arrays pays at least. */
  readonly freshCopy: Rate;
  readonly kernels: KernelResult[];
  readonly codecs: CodecResult[];
}

export interface WireBenchResult {
  readonly quick: boolean;
  readonly node: string;
  readonly models: ModelResult[];
}

function relativeError(delta: Weights, decoded: Weights): number {
  let err = 0;
  let norm = 0;
  for (let l = 0; l < delta.length; l++) {
    const a = delta[l].values;
    const b = decoded[l].values;
    for (let i = 0; i < a.length; i++) {
      err += (a[i] - b[i]) ** 2;
      norm += a[i] ** 2;
    }
  }
  return Math.sqrt(err / norm);
}

const DENSE_CODECS: readonly ValueCodecName[] = ['fp32', 'fp16', 'int8'];

export function runWireBench(options: { quick: boolean; seed?: number }): WireBenchResult {
  const timing = { rounds: options.quick ? 3 : 7, minSampleMs: options.quick ? 10 : 50 };
  const models: ModelResult[] = [];
  for (const [name, shapes] of Object.entries(MODELS)) {
    const rng = createRng(options.seed ?? 7);
    const delta = gaussian(rng, shapes, DELTA_SD);
    const schema = taskSchema({ taskId: TASK, layout: delta, modelSeed: 0, codec: parseCodec('fp32') });
    const parameters = parameterCount(delta);
    const memcpy = memcpyOf([delta]);
    const memcpyMs: number[] = [];
    const rate = (op: () => void): Rate => {
      const r = alternate(memcpy, op, timing);
      memcpyMs.push(r.baselineMs);
      return { ms: r.ms, gbps: (parameters * 4) / (r.ms * 1e6), ofMemcpy: r.ofBaseline };
    };
    let sink = 0;
    const freshCopy = rate(() => {
      for (const l of delta) sink += l.values.slice()[0];
    });
    const kernels = DENSE_CODECS.map((codec): KernelResult => {
      const payloads = delta.map((l) => encodeValues(codec, l.values));
      const outputs = delta.map((l) => new Float32Array(l.values.length));
      const encode = rate(() => {
        for (let i = 0; i < delta.length; i++) {
          encodeValuesInto(codec, delta[i].values, payloads[i]);
        }
      });
      const decode = rate(() => {
        for (let i = 0; i < delta.length; i++) {
          const out = outputs[i] as Float32Array;
          decodeValuesInto(codec, payloads[i], out.length, out);
        }
      });
      return { codec, encode, decode };
    });
    const fp32Bytes = encodeMessage(
      {
        kind: 'delta',
        taskId: TASK,
        fingerprint: schema.fingerprint,
        seq: 2,
        base: 1,
        samples: 1,
        codec: parseCodec('fp32'),
      },
      delta,
    ).byteLength;
    const codecs: CodecResult[] = [];
    for (const text of CODECS_UNDER_TEST) {
      const codec = parseCodec(text);
      const fields = {
        kind: 'delta',
        taskId: TASK,
        fingerprint: schema.fingerprint,
        seq: 2,
        base: 1,
        samples: 1,
        codec,
      } as const;
      let bytes = encodeMessage(fields, delta);
      const encode = rate(() => {
        bytes = encodeMessage(fields, delta);
      });
      let decoded: Weights = delta;
      const decode = rate(() => {
        const result = validateUpdate(bytes, { schema });
        if (!result.ok) throw new Error(`bench message rejected: ${result.reason} ${result.detail}`);
        decoded = result.update.weights;
      });
      codecs.push({
        codec: formatCodec(codec),
        bytes: bytes.byteLength,
        fractionOfFp32: bytes.byteLength / fp32Bytes,
        relativeError: relativeError(delta, decoded),
        encode,
        decode,
      });
    }
    if (Number.isNaN(sink)) throw new Error('unreachable');
    const memcpyGBps = (parameters * 4) / (median(memcpyMs) * 1e6);
    models.push({ model: name, parameters, memcpyGBps, freshCopy, kernels, codecs });
  }
  return { quick: options.quick, node: process.version, models };
}

function fmt(x: number, digits: number): string {
  return x.toFixed(digits).padStart(9);
}

function pct(rate: Rate): string {
  return `${(rate.ofMemcpy * 100).toFixed(1)}%`.padStart(7);
}

function printTable(result: WireBenchResult): void {
  for (const m of result.models) {
    console.log(`\n${m.model} model (${m.parameters} parameters), memcpy ${m.memcpyGBps.toFixed(1)} GB/s`);
    console.log(`fresh copy (slice) ${m.freshCopy.gbps.toFixed(2)} GB/s ${pct(m.freshCopy)} of memcpy`);
    console.log('kernel     enc GB/s  of memcpy  dec GB/s  of memcpy   (per layer, into preallocated buffers)');
    for (const k of m.kernels) {
      console.log(
        `${k.codec.padEnd(8)}${fmt(k.encode.gbps, 2)}  ${pct(k.encode)}  ${fmt(k.decode.gbps, 2)}  ${pct(k.decode)}`,
      );
    }
    console.log('codec              bytes  of fp32  rel.err  enc GB/s  of memcpy  dec GB/s  of memcpy');
    for (const c of m.codecs) {
      console.log(
        `${c.codec.padEnd(15)}${String(c.bytes).padStart(9)}${fmt(c.fractionOfFp32, 4)}${fmt(c.relativeError, 4)}` +
          `${fmt(c.encode.gbps, 2)}  ${pct(c.encode)}  ${fmt(c.decode.gbps, 2)}  ${pct(c.decode)}`,
      );
    }
  }
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const result = runWireBench({ quick: args.includes('--quick') });
  if (args.includes('--json')) console.log(JSON.stringify(result));
  else printTable(result);
  if (args.includes('--accuracy')) {
    const { runCodecAccuracyBench, printCodecAccuracy } = await import('./codec-accuracy.ts');
    const json = args.includes('--json');
    const accuracy = await runCodecAccuracyBench({
      quick: args.includes('--quick'),
      log: json ? undefined : (line) => console.log(line),
    });
    if (json) console.log(JSON.stringify(accuracy));
    else printCodecAccuracy(accuracy);
  }
}
