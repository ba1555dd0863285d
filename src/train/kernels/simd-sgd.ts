/**
 * The SGD-with-momentum update as a tiny WebAssembly SIMD module that works directly on the
 * tfjs wasm backend's memory (imported, so it sees the same bytes and every heap growth).
 * A JS loop over the heap runs one float at a time and measured slower than tfjs's own ~4
 * SIMD elementwise kernels; this does the whole update in one SIMD pass, 4 floats per step.
 *
 * The module is assembled here from its bytes (no toolchain, nothing fetched at run time):
 *   sgd(w, g, v, o, n, momentum, lr):         v = momentum*v + g;             o = w - lr*v
 *   sgdM(w, g, v, o, m, n, momentum, lr, wd): v = momentum*v + (m*g + wd*w);  o = w - lr*v
 * Pointers are byte addresses in the heap, n a multiple of 4 (callers do the tail).
 */

// Opcodes used below (WebAssembly core + SIMD proposal, as shipped in Node 16+ and browsers).
const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const LOCAL_TEE = 0x22;
const I32_CONST = 0x41;
const I32_EQZ = 0x45;
const I32_LT_U = 0x49;
const I32_ADD = 0x6a;
const I32_SHL = 0x74;
const BLOCK = 0x02;
const LOOP = 0x03;
const VOID = 0x40;
const BR_IF = 0x0d;
const END = 0x0b;
const SIMD = 0xfd;
/** memarg: alignment hint 1 (2^0: no alignment assumed), offset 0. */
const V128_LOAD = [SIMD, 0x00, 0x00, 0x00];
const V128_STORE = [SIMD, 0x0b, 0x00, 0x00];
const F32X4_SPLAT = [SIMD, 0x13];
const F32X4_ADD = [SIMD, 0xe4, 0x01];
const F32X4_SUB = [SIMD, 0xe5, 0x01];
const F32X4_MUL = [SIMD, 0xe6, 0x01];

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function name(s: string): number[] {
  return [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
}

const get = (i: number) => [LOCAL_GET, i];
const set = (i: number) => [LOCAL_SET, i];
/** v128.load of (pointer param `p` + byte index `i`). */
const load = (p: number, i: number) => [...get(p), ...get(i), I32_ADD, ...V128_LOAD];

/** The loop `for (i = 0; i < n*4; i += 16) body` around `body`, with n in param `n`. */
function loop(n: number, i: number, end: number, body: number[]): number[] {
  return [
    ...get(n),
    I32_CONST,
    2,
    I32_SHL,
    ...set(end),
    BLOCK,
    VOID,
    ...get(end),
    I32_EQZ,
    BR_IF,
    0,
    LOOP,
    VOID,
    ...body,
    ...get(i),
    I32_CONST,
    16,
    I32_ADD,
    LOCAL_TEE,
    i,
    ...get(end),
    I32_LT_U,
    BR_IF,
    0,
    END,
    END,
  ];
}

function functionBody(locals: Array<[number, number]>, code: number[]): number[] {
  const body = [...vec(locals.map(([count, type]) => [...uleb(count), type])), ...code, END];
  return [...uleb(body.length), ...body];
}

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

const FUNC = 0x60;
const MODULE_BYTES = new Uint8Array([
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
  // types: 0 = sgd, 1 = sgdM
  ...section(
    1,
    vec([
      [FUNC, ...vec([[I32], [I32], [I32], [I32], [I32], [F32], [F32]]), 0],
      [FUNC, ...vec([[I32], [I32], [I32], [I32], [I32], [I32], [F32], [F32], [F32]]), 0],
    ]),
  ),
  // import env.memory (min 0 pages, no maximum: any memory fits)
  ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x00]])),
  ...section(3, vec([[0], [1]])),
  ...section(
    7,
    vec([
      [...name('sgd'), 0x00, 0],
      [...name('sgdM'), 0x00, 1],
    ]),
  ),
  ...section(10, vec([SGD_BODY, SGD_M_BODY])),
]);

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

let compiled: WebAssembly.Module | null | undefined;
const instances = new WeakMap<WebAssembly.Memory, SimdSgd>();

/** The module bound to `memory`, or undefined where WebAssembly SIMD is unavailable. */
export function simdSgdFor(memory: WebAssembly.Memory): SimdSgd | undefined {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(MODULE_BYTES);
    } catch {
      compiled = null;
    }
  }
  if (compiled === null) return undefined;
  let instance = instances.get(memory);
  if (instance === undefined) {
    instance = new WebAssembly.Instance(compiled, { env: { memory } }).exports as unknown as SimdSgd;
    instances.set(memory, instance);
  }
  return instance;
}
