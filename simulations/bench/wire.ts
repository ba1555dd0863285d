/**
 * Wire codec benchmark: encode/decode throughput per codec (MB/s of fp32 input) against a
 * plain copy of the same bytes in the same process, message size per codec as a fraction of
 * fp32, and the relative error each codec leaves in a delta.
 *
 *   npm run bench:wire [-- --quick] [-- --json] [-- --accuracy]
 *
 * `--accuracy` then also runs simulations/bench/codec-accuracy.ts: the accuracy cost of each
 * codec in a short MNIST simulation (a few minutes; `--json` prints it as a second line).
 */
import { performance } from 'node:perf_hooks';
import { createRng, type Rng } from '../../src/data/rng.ts';
import { layer, parameterCount, type Weights } from '../../src/model/weights.ts';
import { formatCodec, parseCodec } from '../../src/wire/codec-spec.ts';
import { encodeMessage } from '../../src/wire/message.ts';
import { taskSchema } from '../../src/wire/schema.ts';
import { validateUpdate } from '../../src/wire/validate.ts';

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

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/**
 * Median milliseconds per call. Each sample repeats `fn` until it lasts at least
 * `minSampleMs`, so small models are not timed at timer resolution or before the JIT settles.
 */
function timeMs(samples: number, minSampleMs: number, fn: () => void): number {
  let inner = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < inner; i++) fn();
    if (performance.now() - t0 >= minSampleMs) break;
    inner *= 2;
  }
  const times: number[] = [];
  for (let r = 0; r < samples; r++) {
    const t0 = performance.now();
    for (let i = 0; i < inner; i++) fn();
    times.push((performance.now() - t0) / inner);
  }
  return median(times);
}

export interface CodecResult {
  readonly codec: string;
  readonly bytes: number;
  readonly fractionOfFp32: number;
  readonly relativeError: number;
  readonly encodeMBps: number;
  readonly decodeMBps: number;
  readonly encodeVsCopy: number;
  readonly decodeVsCopy: number;
}

export interface ModelResult {
  readonly model: string;
  readonly parameters: number;
  readonly copyMBps: number;
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
    const a = (delta[l] as Weights[number]).values;
    const b = (decoded[l] as Weights[number]).values;
    for (let i = 0; i < a.length; i++) {
      err += ((a[i] as number) - (b[i] as number)) ** 2;
      norm += (a[i] as number) ** 2;
    }
  }
  return Math.sqrt(err / norm);
}

export function runWireBench(options: { quick: boolean; seed?: number }): WireBenchResult {
  const samples = options.quick ? 3 : 7;
  const minSampleMs = options.quick ? 10 : 50;
  const models: ModelResult[] = [];
  for (const [name, shapes] of Object.entries(MODELS)) {
    const rng = createRng(options.seed ?? 7);
    const delta = gaussian(rng, shapes, DELTA_SD);
    const schema = taskSchema({ taskId: TASK, layout: delta, modelSeed: 0, codec: parseCodec('fp32') });
    const parameters = parameterCount(delta);
    const megabytes = (parameters * 4) / 1e6;
    let sink = 0;
    const copyMs = timeMs(samples, minSampleMs, () => {
      for (const l of delta) {
        const out = new Float32Array(l.values.length);
        out.set(l.values);
        sink += out[0] as number;
      }
    });
    const copyMBps = megabytes / (copyMs / 1000);
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
      const encodeMs = timeMs(samples, minSampleMs, () => {
        bytes = encodeMessage(fields, delta);
      });
      let decoded: Weights = delta;
      const decodeMs = timeMs(samples, minSampleMs, () => {
        const result = validateUpdate(bytes, { schema });
        if (!result.ok) throw new Error(`bench message rejected: ${result.reason} ${result.detail}`);
        decoded = result.update.weights;
      });
      const encodeMBps = megabytes / (encodeMs / 1000);
      const decodeMBps = megabytes / (decodeMs / 1000);
      codecs.push({
        codec: formatCodec(codec),
        bytes: bytes.byteLength,
        fractionOfFp32: bytes.byteLength / fp32Bytes,
        relativeError: relativeError(delta, decoded),
        encodeMBps,
        decodeMBps,
        encodeVsCopy: encodeMBps / copyMBps,
        decodeVsCopy: decodeMBps / copyMBps,
      });
    }
    if (Number.isNaN(sink)) throw new Error('unreachable');
    models.push({ model: name, parameters, copyMBps, codecs });
  }
  return { quick: options.quick, node: process.version, models };
}

function fmt(x: number, digits: number): string {
  return x.toFixed(digits).padStart(9);
}

function printTable(result: WireBenchResult): void {
  for (const m of result.models) {
    console.log(`\n${m.model} model (${m.parameters} parameters), plain copy ${m.copyMBps.toFixed(0)} MB/s`);
    console.log('codec              bytes  of fp32  rel.err  enc MB/s  dec MB/s  enc/copy  dec/copy');
    for (const c of m.codecs) {
      console.log(
        `${c.codec.padEnd(15)}${String(c.bytes).padStart(9)}${fmt(c.fractionOfFp32, 4)}${fmt(c.relativeError, 4)}` +
          `${fmt(c.encodeMBps, 0)} ${fmt(c.decodeMBps, 0)}${fmt(c.encodeVsCopy, 3)} ${fmt(c.decodeVsCopy, 3)}`,
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
