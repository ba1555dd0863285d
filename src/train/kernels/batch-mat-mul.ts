/**
 * BatchMatMul for the wasm backend, wrapping the stock one. The stock kernel runs XNNPACK
 * only without transpose flags, and packs B into a private copy on every call with a B
 * tensor it has not seen: in training the weights are new tensors every step, so every
 * call packs, and the backward passes of dense layers set the flags (dW = x^T dy,
 * dx = dy W^T), which the stock kernel answers with a slow scalar loop.
 *
 * Ours (one matrix, not broadcast batches) multiplies with the SIMD GEMM of ./simd-gemm.ts,
 * reading A transposed in place through strides (no copy) and B as it is (no packing).
 * A transposed B is copied once by the backend's Transpose kernel (the GEMM streams rows
 * of B). The last N % 8 columns and M % 4 rows are done by a JS loop. Everything else
 * (batches, broadcasting, other dtypes, no SIMD) goes to the stock kernel, after the
 * explicit transposes it needs to stay fast.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { BatchMatMul, Transpose } from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { KernelOverride } from './override.ts';
import { simdGemmFor } from './simd-gemm.ts';
import { heapMemory } from './wasm-asm.ts';
import { disposeAll, heapF32, runWasmKernel, type WasmKernelArgs } from './wasm-util.ts';

/** Smallest rows and columns the GEMM takes (one register tile); smaller goes to the stock kernel. */
const MIN_ROWS = 4;
const MIN_COLS = 8;
/**
 * Above this many floats of B the GEMM walks columns outermost (a k x 8 panel of B stays in
 * L1 while all rows pass); at or below, rows outermost (B stays in L2, C is written once).
 * 64 K floats = 256 KB, half of a typical L2.
 */
const ROWS_OUTERMOST_MAX_B = 64 * 1024;
/** Rows per call in the columns-outermost order (a multiple of 4): 64 x 784 floats = 200 KB of A. */
const COLUMN_ORDER_ROW_BLOCK = 64;

/** A copy of `t` with its last two axes swapped. */
function transposeLastTwo(backend: BackendWasm, t: TensorInfo): TensorInfo {
  const rank = t.shape.length;
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return runWasmKernel(Transpose, backend, { x: t }, { perm });
}

/** The stock kernel without transpose flags, after explicit transposes of the flagged operands. */
function stockWithoutFlags(stock: KernelFunc, args: WasmKernelArgs, transposeA: boolean, transposeB: boolean) {
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const temporaries: TensorInfo[] = [];
  const plainA = transposeA ? transposeLastTwo(args.backend, a) : a;
  if (transposeA) temporaries.push(plainA);
  const plainB = transposeB ? transposeLastTwo(args.backend, b) : b;
  if (transposeB) temporaries.push(plainB);
  try {
    return stock({
      inputs: { a: plainA, b: plainB },
      backend: args.backend,
      attrs: { ...args.attrs, transposeA: false, transposeB: false },
    } as unknown as Parameters<KernelFunc>[0]);
  } finally {
    disposeAll(args.backend, temporaries);
  }
}

/** The batch size of a [batch, rows, cols] shape (1 for rank 2). */
function batchOf(shape: readonly number[]): number {
  return shape.slice(0, -2).reduce((p, d) => p * d, 1);
}

/** C [m, n] = A' B with A' = A ([m, k]) or A^T (A stored [k, m]); B [k, n] row-major. */
function gemm(
  backend: BackendWasm,
  a: TensorInfo,
  b: TensorInfo,
  transposeA: boolean,
  m: number,
  k: number,
  n: number,
) {
  // Batch dims are all 1 here: the output keeps as many as the higher-rank input, as the stock kernel.
  const batchDims = Math.max(a.shape.length, b.shape.length) - 2;
  const out = backend.makeOutput([...new Array<number>(batchDims).fill(1), m, n], 'float32');
  const simd = simdGemmFor(heapMemory(backend) as WebAssembly.Memory);
  if (simd === undefined) throw new Error('BatchMatMul (wasm): the SIMD GEMM is unavailable');
  const sai = transposeA ? 1 : k;
  const sak = transposeA ? m : 1;
  const m4 = m - (m % 4);
  const n8 = n - (n % 8);
  const at = (t: TensorInfo) => backend.getMemoryOffset(t.dataId);
  if (k * n <= ROWS_OUTERMOST_MAX_B) {
    simd.gemmRows(at(a), at(b), at(out), m4, n8, k, n, sai, sak);
  } else {
    // Columns outermost re-reads A once per 8 columns: in blocks of rows, so that A's block
    // stays in L2 (evaluation multiplies 512 rows at a time).
    for (let i0 = 0; i0 < m4; i0 += COLUMN_ORDER_ROW_BLOCK) {
      const rows = Math.min(COLUMN_ORDER_ROW_BLOCK, m4 - i0);
      simd.gemm(at(a) + i0 * sai * 4, at(b), at(out) + i0 * n * 4, rows, n8, k, n, sai, sak);
    }
  }
  if (m4 === m && n8 === n) return out;
  // The edges: columns n8..n of every row, then rows m4..m (views after the allocation).
  const A = heapF32(backend, a);
  const B = heapF32(backend, b);
  const C = heapF32(backend, out);
  const edge = (i: number, j: number) => {
    let sum = 0;
    for (let p = 0; p < k; p++) sum += A[i * sai + p * sak] * B[p * n + j];
    C[i * n + j] = sum;
  };
  for (let i = 0; i < m4; i++) for (let j = n8; j < n; j++) edge(i, j);
  for (let i = m4; i < m; i++) for (let j = 0; j < n; j++) edge(i, j);
  return out;
}

export const batchMatMulOverride: KernelOverride = {
  kernelName: BatchMatMul,
  wrap(stock: KernelFunc): KernelFunc {
    const kernelFunc = (args: WasmKernelArgs): TensorInfo | TensorInfo[] => {
      const { transposeA = false, transposeB = false } = (args.attrs ?? {}) as {
        transposeA?: boolean;
        transposeB?: boolean;
      };
      const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
      if (a.dtype !== 'float32' || b.dtype !== 'float32') return stock(args as unknown as Parameters<KernelFunc>[0]);
      const rank = a.shape.length;
      const m = a.shape[transposeA ? rank - 1 : rank - 2];
      const k = a.shape[transposeA ? rank - 2 : rank - 1];
      const n = b.shape[transposeB ? b.shape.length - 2 : b.shape.length - 1];
      const single = batchOf(a.shape) === 1 && batchOf(b.shape) === 1;
      const memory = heapMemory(args.backend);
      if (!single || m < MIN_ROWS || n < MIN_COLS || k < 1 || memory === undefined || !simdGemmFor(memory)) {
        if (!transposeA && !transposeB) return stock(args as unknown as Parameters<KernelFunc>[0]);
        return stockWithoutFlags(stock, args, transposeA, transposeB);
      }
      if (!transposeB) return gemm(args.backend, a, b, transposeA, m, k, n);
      const plainB = transposeLastTwo(args.backend, b);
      try {
        return gemm(args.backend, a, plainB, transposeA, m, k, n);
      } finally {
        disposeAll(args.backend, [plainB]);
      }
    };
    return kernelFunc as unknown as KernelFunc;
  },
};
