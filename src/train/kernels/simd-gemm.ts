/**
 * C = A' B as a WebAssembly SIMD module on the tfjs wasm backend's memory (./wasm-asm.ts),
 * where A' is A or A transposed, read in place through strides: no transposed copy and no
 * packed copy of B. The stock BatchMatMul (XNNPACK) packs B on every call whose B tensor
 * it has not seen (weights change every step, so every training call) and needs an
 * explicit transposed copy of a transposed operand.
 *
 *   gemm(a, b, c, m, n8, k, ldb, sai, sak):
 *     for i < m (multiple of 4), j < n8 (multiple of 8):
 *       c[i*ldb + j] = sum_{p<k} a[i*sai + p*sak] * b[p*ldb + j]
 *   (gemmRowsAdd: c[...] += the sum.)
 *   Pointers are byte addresses; m, n8, k, ldb, sai, sak count floats; m, n8, k > 0.
 *   A [m, k] row-major: sai = k, sak = 1. A stored [k, m] (transposed): sai = 1, sak = m.
 *
 * Register tile 4 rows x 8 columns (8 accumulators); two loop orders (gemmBody). The caller
 * does the columns n8..n.
 */
import {
  BR_IF,
  END,
  F32X4_ADD,
  F32X4_MUL,
  functionBody,
  get,
  I32,
  I32_ADD,
  I32_CONST,
  I32_LT_U,
  I32_MUL,
  I32_SHL,
  I32_SUB,
  LOCAL_TEE,
  LOOP,
  moduleBytes,
  set,
  simdModule,
  V128,
  V128_LOAD32_SPLAT,
  V128_ZERO,
  VOID,
  v128LoadAt,
  v128StoreAt,
} from './wasm-asm.ts';

// params
const A = 0;
const B = 1;
const C = 2;
const M = 3;
const N8 = 4;
const K = 5;
const LDB = 6;
const SAI = 7;
const SAK = 8;
// i32 locals
const I = 9;
const J = 10;
const KK = 11;
const PA = [12, 13, 14, 15] as const;
const PB = 16;
const SAK4 = 17;
const LDB4 = 18;
const SAI4 = 19;
const PC = 20;
// v128 locals: accumulators (row r, half h) at ACC + 2r + h, then b0, b1, a.
const ACC = 21;
const B0 = 29;
const B1 = 30;
const AV = 31;

const shl2 = (local: number) => [...get(local), I32_CONST, 2, I32_SHL];

/** acc += av * b (one row, one half). */
const fma = (acc: number, b: number) => [...get(acc), ...get(AV), ...get(b), ...F32X4_MUL, ...F32X4_ADD, ...set(acc)];

const innerK = [
  LOOP,
  VOID,
  ...get(PB),
  ...v128LoadAt(0),
  ...set(B0),
  ...get(PB),
  ...v128LoadAt(16),
  ...set(B1),
  ...[0, 1, 2, 3].flatMap((r) => [
    ...get(PA[r]),
    ...V128_LOAD32_SPLAT,
    ...set(AV),
    ...fma(ACC + 2 * r, B0),
    ...fma(ACC + 2 * r + 1, B1),
    ...get(PA[r]),
    ...get(SAK4),
    I32_ADD,
    ...set(PA[r]),
  ]),
  ...get(PB),
  ...get(LDB4),
  I32_ADD,
  ...set(PB),
  ...get(KK),
  I32_CONST,
  1,
  I32_SUB,
  LOCAL_TEE,
  KK,
  BR_IF,
  0,
  END,
];

/** pc = c + (i*ldb + j)*4, the tile's first row in C. */
const tileStart = [...get(C), ...get(I), ...get(LDB4), I32_MUL, I32_ADD, ...shl2(J), I32_ADD, ...set(PC)];

/** The 4 rows of the tile, from pc on: `row(r)` per row, pc advanced by a row after each. */
const eachRow = (row: (r: number) => number[]) =>
  [0, 1, 2, 3].flatMap((r) => [...row(r), ...get(PC), ...get(LDB4), I32_ADD, ...set(PC)]);

/** One 4 x 8 tile of C at rows i, columns j: C = A'B, or C += A'B when accumulating. */
function tile(accumulate: boolean): number[] {
  return [
    ...(accumulate
      ? [
          ...tileStart,
          ...eachRow((r) => [
            ...get(PC),
            ...v128LoadAt(0),
            ...set(ACC + 2 * r),
            ...get(PC),
            ...v128LoadAt(16),
            ...set(ACC + 2 * r + 1),
          ]),
        ]
      : Array.from({ length: 8 }, (_, x) => [...V128_ZERO, ...set(ACC + x)]).flat()),
    // pa0 = a + i*sai4, pa(r+1) = pa(r) + sai4
    ...get(A),
    ...get(I),
    ...get(SAI4),
    I32_MUL,
    I32_ADD,
    ...set(PA[0]),
    ...[1, 2, 3].flatMap((r) => [...get(PA[r - 1]), ...get(SAI4), I32_ADD, ...set(PA[r])]),
    // pb = b + j*4
    ...get(B),
    ...shl2(J),
    I32_ADD,
    ...set(PB),
    ...get(K),
    ...set(KK),
    ...innerK,
    ...tileStart,
    ...eachRow((r) => [
      ...get(PC),
      ...get(ACC + 2 * r),
      ...v128StoreAt(0),
      ...get(PC),
      ...get(ACC + 2 * r + 1),
      ...v128StoreAt(16),
    ]),
  ];
}

/** `for (index = 0; index < limit; index += step) body` (limit > 0). */
function countedLoop(index: number, step: number, limit: number, body: number[]): number[] {
  return [
    I32_CONST,
    0,
    ...set(index),
    LOOP,
    VOID,
    ...body,
    ...get(index),
    I32_CONST,
    step,
    I32_ADD,
    LOCAL_TEE,
    index,
    ...get(limit),
    I32_LT_U,
    BR_IF,
    0,
    END,
  ];
}

/**
 * Columns outermost (a k x 8 panel of B stays in L1 while every row block passes over it:
 * for a B too big for L2), or rows outermost (C and A' are written and read once, B is
 * re-read from L2: for a small B, e.g. the weight gradient x^T dy, whose C is the big one).
 */
function gemmBody(rowsOutermost: boolean, accumulate = false): number[] {
  return functionBody(
    [
      [12, I32],
      [11, V128],
    ],
    [
      ...shl2(SAK),
      ...set(SAK4),
      ...shl2(LDB),
      ...set(LDB4),
      ...shl2(SAI),
      ...set(SAI4),
      ...(rowsOutermost
        ? countedLoop(I, 4, M, countedLoop(J, 8, N8, tile(accumulate)))
        : countedLoop(J, 8, N8, countedLoop(I, 4, M, tile(accumulate)))),
    ],
  );
}

type GemmFn = (
  a: number,
  b: number,
  c: number,
  m: number,
  n8: number,
  k: number,
  ldb: number,
  sai: number,
  sak: number,
) => void;

export interface SimdGemm {
  /** Columns outermost. */
  gemm(...args: Parameters<GemmFn>): void;
  /** Rows outermost. */
  gemmRows(...args: Parameters<GemmFn>): void;
  /** Rows outermost, C += A'B (C is read, not overwritten). */
  gemmRowsAdd(...args: Parameters<GemmFn>): void;
}

/** The module bound to `memory`, or undefined where WebAssembly SIMD is unavailable. */
export const simdGemmFor = simdModule<SimdGemm>(
  moduleBytes(
    [{ params: [I32, I32, I32, I32, I32, I32, I32, I32, I32] }],
    [
      { name: 'gemm', type: 0, body: gemmBody(false) },
      { name: 'gemmRows', type: 0, body: gemmBody(true) },
      { name: 'gemmRowsAdd', type: 0, body: gemmBody(true, true) },
    ],
  ),
);
