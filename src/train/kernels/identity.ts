/**
 * Identity for the wasm backend without a copy: the output shares the input's data (the
 * backend counts references, as its own Reshape does). tfjs's engine runs Identity for
 * every tensor it saves for a backward pass (Engine.clone from saveTensorsForBackwardMode):
 * 18 per step of the default MLP, with the input batch and the first layer's 784 x 256
 * weights among them, each a malloc and a copy with the stock kernel. Sharing is safe
 * because tfjs tensors are immutable: the only kernels that write into an input's memory
 * are ours, and they write only into memory they own (SGD's velocity variables, which
 * nothing clones; the data-parallel exchange, into fresh gradients).
 */
import { Identity, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs';
import { WASM_BACKEND, type WasmKernelArgs } from './wasm-util.ts';

function identity(args: WasmKernelArgs): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  args.backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

export const identityConfig: KernelConfig = {
  kernelName: Identity,
  backendName: WASM_BACKEND,
  kernelFunc: identity as unknown as KernelFunc,
};
