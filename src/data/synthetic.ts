/**
 * A small seeded synthetic classification task for fast tests: each class has a random
 * prototype "image" (every feature either LOW or HIGH), and a sample is its class's
 * prototype plus Gaussian noise, clamped to [0, 1]. With the defaults (10 classes of
 * 8x8x1) an MLP separates the classes almost perfectly within a few hundred steps.
 */
import type { Dataset, TrainTest } from './dataset.ts';
import { createRng, type Rng } from './rng.ts';

export interface SyntheticOptions {
  /** Default 10. */
  numClasses?: number;
  /** Training samples, spread evenly over classes. Default 1000. */
  trainSamples?: number;
  /** Test samples, spread evenly over classes. Default 200. */
  testSamples?: number;
  /** Shape of one sample. Default [8, 8, 1]. */
  featureShape?: readonly number[];
  /** Standard deviation of the per-feature Gaussian noise. Default 0.3. */
  noise?: number;
  /** Default 0. */
  seed?: number;
}

export const SYNTHETIC_DEFAULTS = {
  numClasses: 10,
  trainSamples: 1000,
  testSamples: 200,
  featureShape: [8, 8, 1] as readonly number[],
  noise: 0.3,
  seed: 0,
} as const;

/** Prototype feature levels: far enough apart that noise 0.3 rarely flips a feature. */
const LOW = 0.2;
const HIGH = 0.8;

export function makeSynthetic(options: SyntheticOptions = {}): TrainTest {
  const o = { ...SYNTHETIC_DEFAULTS, ...options };
  checkInteger('numClasses', o.numClasses, 2, 256);
  checkInteger('trainSamples', o.trainSamples, 0);
  checkInteger('testSamples', o.testSamples, 0);
  if (o.featureShape.length === 0 || !o.featureShape.every((s) => Number.isInteger(s) && s >= 1)) {
    throw new RangeError(`synthetic: featureShape must be positive integers, got [${o.featureShape.join(', ')}]`);
  }
  if (!(o.noise >= 0 && Number.isFinite(o.noise)))
    throw new RangeError(`synthetic: noise must be >= 0, got ${o.noise}`);
  if (!Number.isFinite(o.seed)) throw new RangeError(`synthetic: seed must be a finite number, got ${o.seed}`);

  const featureShape = [...o.featureShape];
  const size = featureShape.reduce((a, b) => a * b, 1);
  // Separate streams: changing the test size must not change the training samples.
  const rng = createRng(o.seed);
  const prototypes = makePrototypes(o.numClasses, size, rng.fork('prototypes'));
  const sample = (n: number, stream: Rng): Dataset => {
    const y = balancedLabels(n, o.numClasses, stream);
    const x = new Float32Array(n * size);
    for (let i = 0; i < n; i++) {
      const proto = prototypes[y[i]];
      for (let f = 0; f < size; f++) {
        const v = proto[f] + o.noise * stream.normal();
        x[i * size + f] = Math.min(1, Math.max(0, v));
      }
    }
    return { x, y, featureShape, numClasses: o.numClasses };
  };
  return { train: sample(o.trainSamples, rng.fork('train')), test: sample(o.testSamples, rng.fork('test')) };
}

function makePrototypes(numClasses: number, size: number, rng: Rng): Float32Array[] {
  const prototypes: Float32Array[] = [];
  for (let c = 0; c < numClasses; c++) {
    const p = new Float32Array(size);
    for (let f = 0; f < size; f++) p[f] = rng.next() < 0.5 ? LOW : HIGH;
    prototypes.push(p);
  }
  return prototypes;
}

/** n labels cycling through the classes (counts differ by at most one), shuffled. */
function balancedLabels(n: number, numClasses: number, rng: Rng): Uint8Array {
  const labels = Array.from({ length: n }, (_, i) => i % numClasses);
  return Uint8Array.from(rng.shuffle(labels));
}

function checkInteger(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!(Number.isInteger(value) && value >= min && value <= max)) {
    throw new RangeError(`synthetic: ${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
}
