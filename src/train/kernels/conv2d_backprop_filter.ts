/**
 * Conv2DBackpropFilter for the wasm backend (tfjs 4.22 ships none, so conv nets cannot
 * train on wasm without it). dW = patchesT · dy (see im2col.ts): the patches are built in
 * JS straight on the wasm heap and the product runs in the backend's own BatchMatMul.
 * Images are processed in chunks so the patch matrix stays within a budget.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { backend_util, Conv2DBackpropFilter } from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { type ConvGeometry, im2colTransposed, nhwcToChannelMajor } from './im2col.ts';
import { toChannelsLast } from './layout.ts';
import {
  assertFloat32,
  disposeAll,
  floatOffset,
  heapF32,
  runWasmKernel,
  WASM_BACKEND,
  type WasmKernelArgs,
  wholeHeapF32,
  withShape,
} from './wasm_util.ts';

/** Largest patch matrix (floats) built at once: 8 Mi floats = 32 MiB of wasm heap. */
const DEFAULT_PATCH_BUDGET_FLOATS = 8 * 1024 * 1024;
let patchBudgetFloats = DEFAULT_PATCH_BUDGET_FLOATS;

/** Sets the patch budget (floats; tests use a tiny one to exercise chunking). Returns the old one. */
export function setPatchBudgetFloats(floats: number = DEFAULT_PATCH_BUDGET_FLOATS): number {
  const previous = patchBudgetFloats;
  patchBudgetFloats = floats;
  return previous;
}

export function conv2DBackpropFilter(args: WasmKernelArgs): TensorInfo {
  const { inputs, backend } = args;
  const { x, dy } = inputs;
  const attrs = args.attrs as unknown as {
    strides: [number, number] | number;
    pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    filterShape: [number, number, number, number];
  };
  assertFloat32(Conv2DBackpropFilter, { x, dy });
  const dataFormat = backend_util.convertConv2DDataFormat(attrs.dataFormat);
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    dataFormat,
  );
  const temporaries: TensorInfo[] = [];
  const xNhwc = toChannelsLast(backend, x, dataFormat, temporaries);
  const dyNhwc = toChannelsLast(backend, dy, dataFormat, temporaries);
  try {
    return filterGradient(backend, xNhwc, dyNhwc, info);
  } finally {
    disposeAll(backend, temporaries);
  }
}

function filterGradient(
  backend: BackendWasm,
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const geometry: ConvGeometry = {
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    dilationHeight: info.dilationHeight,
    dilationWidth: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
  const taps = info.filterHeight * info.filterWidth * info.inChannels;
  const pixelsPerImage = info.outHeight * info.outWidth;
  const imagesPerChunk = Math.max(1, Math.floor(patchBudgetFloats / (pixelsPerImage * taps)));
  const outChannels = info.outChannels;
  const chunked = imagesPerChunk < info.batchSize;

  const xChannelMajor = backend.makeOutput(x.shape, 'float32');
  nhwcToChannelMajor(
    wholeHeapF32(backend),
    floatOffset(backend, x),
    floatOffset(backend, xChannelMajor),
    info.batchSize,
    info.inHeight * info.inWidth,
    info.inChannels,
  );
  let dw: TensorInfo | null = null;
  for (let first = 0; first < info.batchSize; first += imagesPerChunk) {
    const count = Math.min(imagesPerChunk, info.batchSize - first);
    const pixels = count * pixelsPerImage;
    // Allocate before taking heap views: allocation may grow the heap and detach them.
    const patches = backend.makeOutput([taps, pixels], 'float32');
    const dyChunk = chunked ? backend.makeOutput([pixels, outChannels], 'float32') : dy;
    const heap = wholeHeapF32(backend);
    im2colTransposed(
      heap,
      floatOffset(backend, xChannelMajor),
      floatOffset(backend, patches),
      geometry,
      info.batchSize,
      first,
      count,
    );
    if (chunked) {
      const from = floatOffset(backend, dy) + first * pixelsPerImage * outChannels;
      heap.copyWithin(floatOffset(backend, dyChunk), from, from + pixels * outChannels);
    }
    // patchesT [K, P] · dy [P, cout]: no transpose flags (the wasm BatchMatMul is ~10x slower with them).
    const partial = runWasmKernel(
      'BatchMatMul',
      backend,
      { a: withShape(patches, [1, taps, pixels]), b: withShape(dyChunk, [1, pixels, outChannels]) },
      { transposeA: false, transposeB: false },
    );
    disposeAll(backend, chunked ? [patches, dyChunk] : [patches]);
    if (dw === null) {
      dw = partial;
    } else {
      const sum = heapF32(backend, dw);
      const values = heapF32(backend, partial);
      for (let i = 0; i < sum.length; i++) sum[i] += values[i];
      disposeAll(backend, [partial]);
    }
  }
  disposeAll(backend, [xChannelMajor]);
  return withShape(dw!, info.filterShape);
}

export const conv2DBackpropFilterConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: WASM_BACKEND,
  kernelFunc: conv2DBackpropFilter as unknown as KernelFunc,
};
