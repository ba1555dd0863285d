/**
 * Conv2DBackpropInput for the wasm backend, wrapping the stock one. The stock kernel is a
 * naive C++ loop that took most of a CNN training step (docs/PERFORMANCE.md, "Where a wasm
 * training step goes"); the input gradient is itself a convolution, so we run it through
 * the backend's forward Conv2D (XNNPACK):
 *
 *   dx = conv2d(dilate(dy, stride), rot180(W) with in/out axes swapped, stride 1, pad')
 *
 * where dilate inserts stride-1 zeros between dy's pixels and pad' = filter - 1 - pad on
 * each side (bottom/right also absorb rows the forward conv never reached). Shapes this
 * does not cover (NCHW, dilations, padding wider than the filter) go to the stock kernel.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { backend_util, Conv2D, Conv2DBackpropInput } from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { KernelOverride } from './override.ts';
import { assertFloat32, disposeAll, heapF32, runWasmKernel, type WasmKernelArgs } from './wasm-util.ts';

interface BackpropInputAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: [number, number, number, number];
}

/** How the input gradient is computed as a forward convolution. */
export interface ForwardConvPlan {
  /** dy with stride-1 zeros between pixels: [batch, dilatedHeight, dilatedWidth, outChannels]. */
  readonly dilatedHeight: number;
  readonly dilatedWidth: number;
  /** Explicit padding of the stride-1 forward conv: [top, bottom, left, right]. */
  readonly pad: readonly [number, number, number, number];
}

/**
 * The forward-conv plan for a Conv2DBackpropInput, or null when the stock kernel must
 * handle it (channels-first data, dilations, or a pad wider than filter - 1, which would
 * need a negative pad here).
 */
export function planBackpropInput(info: backend_util.Conv2DInfo): ForwardConvPlan | null {
  if (info.dataFormat !== 'channelsLast') return null;
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return null;
  const dilatedHeight = (info.outHeight - 1) * info.strideHeight + 1;
  const dilatedWidth = (info.outWidth - 1) * info.strideWidth + 1;
  const top = info.filterHeight - 1 - info.padInfo.top;
  const left = info.filterWidth - 1 - info.padInfo.left;
  // Chosen so the stride-1 output is exactly inHeight x inWidth.
  const bottom = info.inHeight - dilatedHeight + info.padInfo.top;
  const right = info.inWidth - dilatedWidth + info.padInfo.left;
  if (Math.min(top, left, bottom, right) < 0) return null;
  return { dilatedHeight, dilatedWidth, pad: [top, bottom, left, right] };
}

function backpropInputViaConv2D(
  backend: BackendWasm,
  dy: TensorInfo,
  filter: TensorInfo,
  info: backend_util.Conv2DInfo,
  plan: ForwardConvPlan,
): TensorInfo {
  const { filterHeight, filterWidth, inChannels, outChannels, batchSize, outHeight, outWidth } = info;
  const strided = info.strideHeight > 1 || info.strideWidth > 1;
  const rotated = backend.makeOutput([filterHeight, filterWidth, outChannels, inChannels], 'float32');
  const dilated = strided
    ? backend.makeOutput([batchSize, plan.dilatedHeight, plan.dilatedWidth, outChannels], 'float32')
    : dy;
  // Views only after every allocation (heap growth detaches earlier views).
  rotateFilter(heapF32(backend, filter), heapF32(backend, rotated), filterHeight, filterWidth, inChannels, outChannels);
  if (strided) {
    dilate(
      heapF32(backend, dy),
      heapF32(backend, dilated),
      batchSize,
      outHeight,
      outWidth,
      outChannels,
      info.strideHeight,
      info.strideWidth,
      plan.dilatedHeight,
      plan.dilatedWidth,
    );
  }
  const [top, bottom, left, right] = plan.pad;
  try {
    return runWasmKernel(Conv2D, backend, { x: dilated, filter: rotated }, {
      strides: 1,
      dilations: 1,
      pad: [
        [0, 0],
        [top, bottom],
        [left, right],
        [0, 0],
      ],
      dataFormat: 'NHWC',
    } as unknown as Record<string, never>);
  } finally {
    disposeAll(backend, strided ? [rotated, dilated] : [rotated]);
  }
}

/** W'[kh, kw, o, i] = W[fh-1-kh, fw-1-kw, i, o]. */
function rotateFilter(w: Float32Array, out: Float32Array, fh: number, fw: number, cin: number, cout: number): void {
  for (let kh = 0; kh < fh; kh++) {
    for (let kw = 0; kw < fw; kw++) {
      const src = ((fh - 1 - kh) * fw + (fw - 1 - kw)) * cin * cout;
      const dst = (kh * fw + kw) * cout * cin;
      for (let i = 0; i < cin; i++) {
        for (let o = 0; o < cout; o++) out[dst + o * cin + i] = w[src + i * cout + o];
      }
    }
  }
}

/** Copies dy [n, h, w, c] into a zeroed [n, dh, dw, c] at every stride-th row and column. */
function dilate(
  dy: Float32Array,
  out: Float32Array,
  n: number,
  h: number,
  w: number,
  c: number,
  sh: number,
  sw: number,
  dh: number,
  dw: number,
): void {
  out.fill(0);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const src = ((b * h + y) * w + x) * c;
        out.set(dy.subarray(src, src + c), ((b * dh + y * sh) * dw + x * sw) * c);
      }
    }
  }
}

export const conv2DBackpropInputOverride: KernelOverride = {
  kernelName: Conv2DBackpropInput,
  wrap(stock: KernelFunc): KernelFunc {
    const kernelFunc = (args: WasmKernelArgs): TensorInfo | TensorInfo[] => {
      const { dy, filter } = args.inputs;
      const attrs = args.attrs as unknown as BackpropInputAttrs;
      assertFloat32(Conv2DBackpropInput, { dy, filter });
      const info = backend_util.computeConv2DInfo(
        attrs.inputShape,
        filter.shape as [number, number, number, number],
        attrs.strides,
        1,
        attrs.pad,
        attrs.dimRoundingMode,
        false,
        backend_util.convertConv2DDataFormat(attrs.dataFormat),
      );
      const plan = planBackpropInput(info);
      if (plan === null) return stock(args as unknown as Parameters<KernelFunc>[0]);
      return backpropInputViaConv2D(args.backend, dy, filter, info, plan);
    };
    return kernelFunc as unknown as KernelFunc;
  },
};
