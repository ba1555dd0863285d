/**
 * Softmax cross-entropy for training on wasm as two kernels, the loss and its gradient,
 * where tf.losses.softmaxCrossEntropy issues about 35 small tfjs kernels per step (max, sub,
 * exp, sum, log, casts, reshapes, and as many again for the gradient): a third of the
 * default MLP's kernels, each a dispatch and an allocation (docs/PERFORMANCE.md).
 *
 * MeshflSoftmaxXent: logits [N, K], labels [N, K] -> loss (scalar), probs [N, K]:
 *   loss = (1/N) Σ_i Σ_k y_ik (lse_i - x_ik), lse_i = log Σ_k exp(x_ik) (taken stably,
 *   float64 sums); probs = softmax(x) (kept for the gradient).
 * MeshflSoftmaxXentGrad: probs, labels, dy (scalar) -> dx = dy/N (p_ik - y_ik).
 * The loss and gradient are tf.losses.softmaxCrossEntropy's with its defaults (no weights,
 * no label smoothing, the mean over the batch), whose gradient, like this one, assumes
 * each row of labels sums to 1 (one-hot, as the Trainer's).
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { assertFloat32, heapF32, WASM_BACKEND, type WasmKernelArgs } from './wasm-util.ts';

export const SOFTMAX_XENT = 'MeshflSoftmaxXent';
export const SOFTMAX_XENT_GRAD = 'MeshflSoftmaxXentGrad';

function rowsAndClasses(kernel: string, a: TensorInfo, b: TensorInfo): [number, number] {
  if (a.shape.length !== 2 || b.shape.length !== 2 || a.shape[0] !== b.shape[0] || a.shape[1] !== b.shape[1])
    throw new Error(`${kernel} (wasm): needs two [N, K] tensors of one shape, got [${a.shape}] and [${b.shape}]`);
  return [a.shape[0] as number, a.shape[1] as number];
}

function softmaxXent(args: WasmKernelArgs): TensorInfo[] {
  const { backend } = args;
  const { logits, labels } = args.inputs;
  if (logits === undefined || labels === undefined) throw new Error(`${SOFTMAX_XENT} (wasm): needs logits and labels`);
  assertFloat32(SOFTMAX_XENT, { logits, labels });
  const [n, k] = rowsAndClasses(SOFTMAX_XENT, logits, labels);
  const loss = backend.makeOutput([], 'float32');
  const probs = backend.makeOutput([n, k], 'float32');
  // Views only after the allocations (they may grow the heap).
  const x = heapF32(backend, logits);
  const y = heapF32(backend, labels);
  const p = heapF32(backend, probs);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const row = i * k;
    let max = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < k; j++) if (x[row + j] > max) max = x[row + j];
    let sum = 0;
    for (let j = 0; j < k; j++) {
      const e = Math.exp(x[row + j] - max);
      p[row + j] = e;
      sum += e;
    }
    const lse = max + Math.log(sum);
    let rowLoss = 0;
    for (let j = 0; j < k; j++) {
      p[row + j] = p[row + j] / sum;
      const yj = y[row + j];
      if (yj !== 0) rowLoss += yj * (lse - x[row + j]);
    }
    total += rowLoss;
  }
  heapF32(backend, loss)[0] = n > 0 ? total / n : 0;
  return [loss, probs];
}

function softmaxXentGrad(args: WasmKernelArgs): TensorInfo {
  const { backend } = args;
  const { probs, labels, dy } = args.inputs;
  if (probs === undefined || labels === undefined || dy === undefined)
    throw new Error(`${SOFTMAX_XENT_GRAD} (wasm): needs probs, labels and dy`);
  assertFloat32(SOFTMAX_XENT_GRAD, { probs, labels, dy });
  const [n, k] = rowsAndClasses(SOFTMAX_XENT_GRAD, probs, labels);
  const dx = backend.makeOutput([n, k], 'float32');
  const p = heapF32(backend, probs);
  const y = heapF32(backend, labels);
  const g = heapF32(backend, dx);
  const scale = heapF32(backend, dy)[0] / n;
  for (let i = 0; i < n * k; i++) g[i] = scale * (p[i] - y[i]);
  return dx;
}

export const softmaxXentConfig: KernelConfig = {
  kernelName: SOFTMAX_XENT,
  backendName: WASM_BACKEND,
  kernelFunc: softmaxXent as unknown as KernelFunc,
};

export const softmaxXentGradConfig: KernelConfig = {
  kernelName: SOFTMAX_XENT_GRAD,
  backendName: WASM_BACKEND,
  kernelFunc: softmaxXentGrad as unknown as KernelFunc,
};
