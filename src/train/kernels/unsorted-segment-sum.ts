/**
 * UnsortedSegmentSum for the wasm backend (missing in tfjs 4.22; the gradient of gather,
 * i.e. of embedding lookups, needs it): out[s] = sum of the rows of x whose segment id is s.
 * Ids outside [0, numSegments) are dropped, as in TensorFlow. One pass in JS on the heap.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { UnsortedSegmentSum, util } from '@tensorflow/tfjs';
import { WASM_BACKEND, type WasmKernelArgs } from './wasm-util.ts';

export function unsortedSegmentSum(args: WasmKernelArgs): TensorInfo {
  const { inputs, backend } = args;
  const { x, segmentIds } = inputs;
  const { numSegments } = args.attrs as unknown as { numSegments: number };
  if (x.dtype !== 'float32' && x.dtype !== 'int32') {
    throw new Error(`${UnsortedSegmentSum} (wasm): x must be float32 or int32, got ${x.dtype}`);
  }
  const idRank = segmentIds.shape.length;
  if (!util.arraysEqual(x.shape.slice(0, idRank), segmentIds.shape)) {
    throw new Error(
      `${UnsortedSegmentSum} (wasm): segmentIds shape [${segmentIds.shape}] must prefix x shape [${x.shape}]`,
    );
  }
  const rowShape = x.shape.slice(idRank);
  const rowSize = util.sizeFromShape(rowShape);

  const out = backend.makeOutput([numSegments, ...rowShape], x.dtype);
  const outValues = backend.typedArrayFromHeap(out);
  const xValues = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  outValues.fill(0);
  for (let i = 0; i < ids.length; i++) {
    const segment = ids[i];
    if (segment < 0 || segment >= numSegments) continue;
    const from = i * rowSize;
    const to = segment * rowSize;
    for (let j = 0; j < rowSize; j++) outValues[to + j] += xValues[from + j];
  }
  return out;
}

export const unsortedSegmentSumConfig: KernelConfig = {
  kernelName: UnsortedSegmentSum,
  backendName: WASM_BACKEND,
  kernelFunc: unsortedSegmentSum as unknown as KernelFunc,
};
