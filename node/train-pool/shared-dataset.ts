/**
 * A peer's training set in SharedArrayBuffers: posted to a worker it is shared, not copied,
 * so registering many peers costs one copy each, once per process (cached per Dataset).
 */
import type { Dataset } from '../../src/data/dataset.ts';

const shared = new WeakMap<Dataset, Dataset>();

export function sharedDataset(d: Dataset): Dataset {
  if (d.x.buffer instanceof SharedArrayBuffer && d.y.buffer instanceof SharedArrayBuffer) return d;
  const cached = shared.get(d);
  if (cached) return cached;
  const x = new Float32Array(new SharedArrayBuffer(d.x.byteLength));
  x.set(d.x);
  const y = new Uint8Array(new SharedArrayBuffer(d.y.byteLength));
  y.set(d.y);
  const out: Dataset = { x, y, featureShape: [...d.featureShape], numClasses: d.numClasses };
  shared.set(d, out);
  return out;
}
