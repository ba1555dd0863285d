/**
 * A minimal WebAssembly assembler for the SIMD kernels in this folder (simd-sgd.ts,
 * simd-gemm.ts): they are assembled here from their bytes (no toolchain, nothing fetched at
 * run time) and instantiated on the tfjs wasm backend's own memory, imported, so they see
 * the same bytes and every heap growth.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

// Opcodes used below (WebAssembly core + SIMD proposal, as shipped in Node 16+ and browsers).
export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;
export const LOCAL_GET = 0x20;
export const LOCAL_SET = 0x21;
export const LOCAL_TEE = 0x22;
export const I32_CONST = 0x41;
export const I32_EQZ = 0x45;
export const I32_LT_U = 0x49;
export const I32_ADD = 0x6a;
export const I32_SHL = 0x74;
export const BLOCK = 0x02;
export const LOOP = 0x03;
export const VOID = 0x40;
export const BR_IF = 0x0d;
export const END = 0x0b;
export const SIMD = 0xfd;
/** memarg: alignment hint 1 (2^0: no alignment assumed), offset 0. */
export const V128_LOAD = [SIMD, 0x00, 0x00, 0x00];
export const V128_STORE = [SIMD, 0x0b, 0x00, 0x00];
export const F32X4_SPLAT = [SIMD, 0x13];
export const F32X4_ADD = [SIMD, 0xe4, 0x01];
export const F32X4_SUB = [SIMD, 0xe5, 0x01];
export const F32X4_MUL = [SIMD, 0xe6, 0x01];

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

export function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

export function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

export function name(s: string): number[] {
  return [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
}

export const get = (i: number) => [LOCAL_GET, i];
export const set = (i: number) => [LOCAL_SET, i];
/** v128.load of (pointer param `p` + byte index `i`). */
export const load = (p: number, i: number) => [...get(p), ...get(i), I32_ADD, ...V128_LOAD];

/** The loop `for (i = 0; i < n*4; i += 16) body` around `body`, with n in param `n`. */
export function loop(n: number, i: number, end: number, body: number[]): number[] {
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

export function functionBody(locals: Array<[number, number]>, code: number[]): number[] {
  const body = [...vec(locals.map(([count, type]) => [...uleb(count), type])), ...code, END];
  return [...uleb(body.length), ...body];
}

export const FUNC = 0x60;
export const I32_SUB = 0x6b;
export const I32_MUL = 0x6c;
/** v128.load32_splat (memarg: no alignment assumed, offset 0). */
export const V128_LOAD32_SPLAT = [SIMD, 0x09, 0x00, 0x00];
/** v128.load / v128.store at a constant byte offset. */
export const v128LoadAt = (offset: number) => [SIMD, 0x00, 0x00, ...uleb(offset)];
export const v128StoreAt = (offset: number) => [SIMD, 0x0b, 0x00, ...uleb(offset)];
export const V128_ZERO = [SIMD, 0x0c, ...new Array<number>(16).fill(0)];

/** A module importing env.memory and exporting `exports` (name, type index, body), type i = types[i]. */
export function moduleBytes(
  types: ReadonlyArray<{ params: number[] }>,
  exports: ReadonlyArray<{ name: string; type: number; body: number[] }>,
): Uint8Array<ArrayBuffer> {
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(types.map((t) => [FUNC, ...vec(t.params.map((p) => [p])), 0]))),
    // import env.memory (min 0 pages, no maximum: any memory fits)
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x00]])),
    ...section(3, vec(exports.map((e) => [e.type]))),
    ...section(7, vec(exports.map((e, i) => [...name(e.name), 0x00, i]))),
    ...section(10, vec(exports.map((e) => e.body))),
  ]);
}

/**
 * Compiles `bytes` once and instantiates it once per memory; undefined where WebAssembly
 * SIMD is unavailable (the callers then use their JS or stock-kernel path).
 */
export function simdModule<T>(bytes: Uint8Array<ArrayBuffer>): (memory: WebAssembly.Memory) => T | undefined {
  let compiled: WebAssembly.Module | null | undefined;
  const instances = new WeakMap<WebAssembly.Memory, T>();
  return (memory) => {
    if (compiled === undefined) {
      try {
        compiled = new WebAssembly.Module(bytes);
      } catch {
        compiled = null;
      }
    }
    if (compiled === null) return undefined;
    let instance = instances.get(memory);
    if (instance === undefined) {
      instance = new WebAssembly.Instance(compiled, { env: { memory } }).exports as unknown as T;
      instances.set(memory, instance);
    }
    return instance;
  };
}

/** The backend's WebAssembly.Memory (emscripten keeps the instance's exports in `asm`), if exposed. */
export function heapMemory(backend: BackendWasm): WebAssembly.Memory | undefined {
  const memory = (backend.wasm as unknown as { asm?: { memory?: unknown } }).asm?.memory;
  return memory instanceof WebAssembly.Memory ? memory : undefined;
}
