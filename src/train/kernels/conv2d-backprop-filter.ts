/**
 * Conv2DBackpropFilter for the wasm backend (tfjs 4.22 ships none, so conv nets cannot
 * train on wasm without it).
 *
 * Stride 1, no dilation, in channels a multiple of 4 and out channels of 8 (the default
 * CNN's convs after the first): no im2col. x is copied once onto a zero-padded grid
 * [N, Hp, Wp, cin] (Hp = outH + fh - 1, Wp = outW + fw - 1) and dy onto the same grid
 * [N, Hp, Wp, cout] (zeros outside the output). On that grid, tap (kh, kw) of output pixel
 * q reads input pixel q + kh*Wp + kw, one fixed shift for the whole batch, so
 *   dW[kh, kw] = xGrid[shift .. shift + Q]^T · dyGrid   ([cin, cout], Q = N*Hp*Wp)
 * is one GEMM with A transposed in place (./simd-gemm.ts), run over blocks of Q so both
 * operands stay in cache, accumulating into dW. The padding pixels cost (Hp*Wp)/(outH*outW)
 * extra work (1.3x at 14x14) and save the patch matrix (taps x pixels, 14 MB per call).
 *
 * Otherwise dW = patchesT · dy (see im2col.ts): the patches are built in JS straight on the
 * wasm heap and the product runs in BatchMatMul. Images are processed in chunks so the
 * patch matrix stays within a budget.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { backend_util, Conv2DBackpropFilter } from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { type ConvGeometry, im2colTransposed, nhwcToChannelMajor } from './im2col.ts';
import { toChannelsLast } from './layout.ts';
import { simdGemmFor } from './simd-gemm.ts';
import { heapMemory } from './wasm-asm.ts';
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
} from './wasm-util.ts';

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
    return gridGradient(backend, xNhwc, dyNhwc, info) ?? filterGradient(backend, xNhwc, dyNhwc, info);
  } finally {
    disposeAll(backend, temporaries);
  }
}

/** Grid pixels per GEMM block: x and dy rows of a block (<= 64 KiB each at 32 channels) stay in L2. */
const GRID_BLOCK = 512;

/** The im2col-free path (see the header), or null where it does not apply. */
function gridGradient(
  backend: BackendWasm,
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo | null {
  const cin = info.inChannels;
  const cout = info.outChannels;
  const memory = heapMemory(backend);
  const simd = memory === undefined ? undefined : simdGemmFor(memory);
  if (
    simd === undefined ||
    info.strideHeight !== 1 ||
    info.strideWidth !== 1 ||
    info.dilationHeight !== 1 ||
    info.dilationWidth !== 1 ||
    cin % 4 !== 0 ||
    cout % 8 !== 0
  ) {
    return null;
  }
  const { batchSize: n, inHeight, inWidth, outHeight, outWidth, filterHeight: fh, filterWidth: fw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const hp = outHeight + fh - 1;
  const wp = outWidth + fw - 1;
  const q = n * hp * wp;
  const maxShift = (fh - 1) * wp + (fw - 1);
  // x's grid has maxShift extra zero pixels at the end: the last taps read past the grid
  // (against zeros of dy, but garbage there could be NaN).
  const xGrid = backend.makeOutput([(q + maxShift) * cin], 'float32');
  const dyGrid = backend.makeOutput([q * cout], 'float32');
  const dw = backend.makeOutput([...info.filterShape], 'float32');
  // Views after every allocation (allocating may grow the heap and detach them).
  const X = heapF32(backend, x);
  const DY = heapF32(backend, dy);
  const XG = heapF32(backend, xGrid);
  const DYG = heapF32(backend, dyGrid);
  XG.fill(0);
  DYG.fill(0);
  heapF32(backend, dw).fill(0);
  // Grid row yy holds input row yy - top; grid column xx holds input column xx - left.
  const xFrom = Math.max(0, left);
  const xTo = Math.min(wp, inWidth + left);
  for (let b = 0; b < n; b++) {
    for (let yy = Math.max(0, top); yy < Math.min(hp, inHeight + top); yy++) {
      const src = ((b * inHeight + (yy - top)) * inWidth + (xFrom - left)) * cin;
      XG.set(X.subarray(src, src + (xTo - xFrom) * cin), ((b * hp + yy) * wp + xFrom) * cin);
    }
    for (let oy = 0; oy < outHeight; oy++) {
      const src = (b * outHeight + oy) * outWidth * cout;
      DYG.set(DY.subarray(src, src + outWidth * cout), (b * hp + oy) * wp * cout);
    }
  }
  const xAt = backend.getMemoryOffset(xGrid.dataId);
  const dyAt = backend.getMemoryOffset(dyGrid.dataId);
  const dwAt = backend.getMemoryOffset(dw.dataId);
  for (let q0 = 0; q0 < q; q0 += GRID_BLOCK) {
    const k = Math.min(GRID_BLOCK, q - q0);
    for (let kh = 0; kh < fh; kh++) {
      for (let kw = 0; kw < fw; kw++) {
        const shift = kh * wp + kw;
        simd.gemmRowsAdd(
          xAt + (q0 + shift) * cin * 4,
          dyAt + q0 * cout * 4,
          dwAt + (kh * fw + kw) * cin * cout * 4,
          cin,
          cout,
          k,
          cout,
          1,
          cin,
        );
      }
    }
  }
  disposeAll(backend, [xGrid, dyGrid]);
  return dw;
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
