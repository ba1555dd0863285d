/** Layout conversion for kernels that compute in NHWC only. */
import type { TensorInfo } from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { runWasmKernel } from './wasm-util.ts';

const NCHW_TO_NHWC = [0, 2, 3, 1];

/**
 * Returns `t` in NHWC. A channelsFirst tensor is transposed by the wasm Transpose kernel
 * and the copy is pushed onto `temporaries` for the caller to dispose.
 */
export function toChannelsLast(
  backend: BackendWasm,
  t: TensorInfo,
  dataFormat: 'channelsLast' | 'channelsFirst',
  temporaries: TensorInfo[],
): TensorInfo {
  if (dataFormat === 'channelsLast') return t;
  const transposed = runWasmKernel('Transpose', backend, { x: t }, { perm: NCHW_TO_NHWC });
  temporaries.push(transposed);
  return transposed;
}
