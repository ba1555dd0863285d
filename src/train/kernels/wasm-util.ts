/**
 * Small helpers shared by the training kernels we add to the tfjs wasm backend: typed
 * access to tensors living on the wasm heap and calls into the backend's own kernels.
 */
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { getKernel } from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export const WASM_BACKEND = 'wasm';

/** The arguments tfjs passes to a kernelFunc, narrowed to the wasm backend. */
export interface WasmKernelArgs {
  inputs: Record<string, TensorInfo>;
  backend: BackendWasm;
  attrs?: NamedAttrMap;
}

/** Throws a clear error unless every tensor is float32 (all our kernels are float-only). */
export function assertFloat32(kernelName: string, tensors: Record<string, TensorInfo>): void {
  for (const [name, info] of Object.entries(tensors)) {
    if (info.dtype !== 'float32') {
      throw new Error(`${kernelName} (wasm): input '${name}' must be float32, got ${info.dtype}`);
    }
  }
}

/**
 * A Float32Array view of a tensor's data on the wasm heap (no copy).
 * Take views only AFTER every allocation of the kernel call: allocating may grow the heap,
 * which detaches views taken earlier.
 */
export function heapF32(backend: BackendWasm, info: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

const BYTES_PER_FLOAT = 4;

/** The whole wasm heap as floats; index it with floatOffset(). Same caveat as heapF32. */
export function wholeHeapF32(backend: BackendWasm): Float32Array {
  return new Float32Array((backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8.buffer);
}

/** Where a tensor's data starts in wholeHeapF32(backend). */
export function floatOffset(backend: BackendWasm, info: TensorInfo): number {
  return backend.getMemoryOffset(info.dataId) / BYTES_PER_FLOAT;
}

/** Runs another kernel registered for the wasm backend; the caller owns (and disposes) the result. */
export function runWasmKernel(
  kernelName: string,
  backend: BackendWasm,
  inputs: Record<string, TensorInfo>,
  attrs: NamedAttrMap = {},
): TensorInfo {
  const kernel = getKernel(kernelName, WASM_BACKEND);
  if (kernel === undefined) {
    throw new Error(`kernel ${kernelName} is not registered for the wasm backend`);
  }
  const result = kernel.kernelFunc({ inputs, backend, attrs });
  if (Array.isArray(result)) {
    throw new Error(`kernel ${kernelName} returned several outputs where one was expected`);
  }
  return result;
}

/** A tensor with the same data and a new shape (the wasm backend stores data flat). */
export function withShape(info: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: info.dataId, dtype: info.dtype, shape };
}

/** Frees intermediates this kernel allocated. */
export function disposeAll(backend: BackendWasm, infos: TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}
