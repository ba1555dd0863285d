/**
 * The SGD-with-momentum update as a WebAssembly SIMD module on the tfjs wasm backend's
 * memory (see ./wasm-asm.ts). A JS loop over the heap runs one float at a time and measured
 * slower than tfjs's own ~4 SIMD elementwise kernels; this does the whole update in one
 * SIMD pass, 4 floats per step:
 *   sgd(w, g, v, o, n, momentum, lr):         v = momentum*v + g;             o = w - lr*v
 *   sgdM(w, g, v, o, m, n, momentum, lr, wd): v = momentum*v + (m*g + wd*w);  o = w - lr*v
 * Pointers are byte addresses in the heap, n a multiple of 4 (callers do the tail).
 */
import {
  F32,
  F32X4_ADD,
  F32X4_MUL,
  F32X4_SPLAT,
  F32X4_SUB,
  functionBody,
  get,
  I32,
  I32_ADD,
  load,
  loop,
  moduleBytes,
  set,
  simdModule,
  V128,
  V128_STORE,
} from './wasm-asm.ts';

// sgd: params 0 w, 1 g, 2 v, 3 o, 4 n, 5 momentum, 6 lr; locals 7 i, 8 end, 9 vmom, 10 vlr, 11 vi.
const SGD_BODY = functionBody(
  [
    [2, I32],
    [3, V128],
  ],
  [
    ...get(5),
    ...F32X4_SPLAT,
    ...set(9),
    ...get(6),
    ...F32X4_SPLAT,
    ...set(10),
    ...loop(4, 7, 8, [
      ...load(2, 7),
      ...get(9),
      ...F32X4_MUL,
      ...load(1, 7),
      ...F32X4_ADD,
      ...set(11),
      ...get(2),
      ...get(7),
      I32_ADD,
      ...get(11),
      ...V128_STORE,
      ...get(3),
      ...get(7),
      I32_ADD,
      ...load(0, 7),
      ...get(11),
      ...get(10),
      ...F32X4_MUL,
      ...F32X4_SUB,
      ...V128_STORE,
    ]),
  ],
);

// sgdM: params 0 w, 1 g, 2 v, 3 o, 4 m, 5 n, 6 momentum, 7 lr, 8 wd;
// locals 9 i, 10 end, 11 vmom, 12 vlr, 13 vwd, 14 wi, 15 vi.
const SGD_M_BODY = functionBody(
  [
    [2, I32],
    [5, V128],
  ],
  [
    ...get(6),
    ...F32X4_SPLAT,
    ...set(11),
    ...get(7),
    ...F32X4_SPLAT,
    ...set(12),
    ...get(8),
    ...F32X4_SPLAT,
    ...set(13),
    ...loop(5, 9, 10, [
      ...load(0, 9),
      ...set(14),
      ...load(2, 9),
      ...get(11),
      ...F32X4_MUL,
      ...load(1, 9),
      ...load(4, 9),
      ...F32X4_MUL,
      ...get(14),
      ...get(13),
      ...F32X4_MUL,
      ...F32X4_ADD,
      ...F32X4_ADD,
      ...set(15),
      ...get(2),
      ...get(9),
      I32_ADD,
      ...get(15),
      ...V128_STORE,
      ...get(3),
      ...get(9),
      I32_ADD,
      ...get(14),
      ...get(15),
      ...get(12),
      ...F32X4_MUL,
      ...F32X4_SUB,
      ...V128_STORE,
    ]),
  ],
);

export interface SimdSgd {
  sgd(w: number, g: number, v: number, o: number, n: number, momentum: number, lr: number): void;
  sgdM(
    w: number,
    g: number,
    v: number,
    o: number,
    m: number,
    n: number,
    momentum: number,
    lr: number,
    wd: number,
  ): void;
}

/** The module bound to `memory`, or undefined where WebAssembly SIMD is unavailable. */
export const simdSgdFor = simdModule<SimdSgd>(
  moduleBytes(
    [{ params: [I32, I32, I32, I32, I32, F32, F32] }, { params: [I32, I32, I32, I32, I32, I32, F32, F32, F32] }],
    [
      { name: 'sgd', type: 0, body: SGD_BODY },
      { name: 'sgdM', type: 1, body: SGD_M_BODY },
    ],
  ),
);
