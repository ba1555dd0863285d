/**
 * tfjs backend setup, the same call in Node and in browsers. The wasm backend is the
 * default: in Node it is much faster than the pure-JS cpu backend, and with the training
 * kernels from ./kernels registered it can train conv nets, which tfjs 4.22 cannot.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from './kernels/index.ts';

/** 'webgl' and 'webgpu' exist only in browsers (webgpu only when its tfjs package is loaded). */
export type BackendName = 'wasm' | 'cpu' | 'webgl' | 'webgpu';
export type BackendChoice = BackendName | 'auto';

export interface BackendOptions {
  /**
   * Browsers only: URL prefix (ending in '/') the page serves the tfjs .wasm files from.
   * Without it tfjs looks next to the bundled script. Ignored in Node, where the files are
   * read from the installed package.
   */
  wasmPaths?: string;
}

/** Backends 'auto' tries in Node, best first. */
const AUTO_ORDER: readonly BackendName[] = ['wasm', 'cpu'];
/** Backends 'auto' tries in browsers, best first. */
const BROWSER_AUTO_ORDER: readonly BackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

let wasmPathsConfigured = false;
/** One initialisation per backend name, so concurrent and repeated calls share it. */
const initialising = new Map<BackendName, Promise<void>>();

/**
 * Makes `name` the active tfjs backend (after registering our wasm training kernels) and
 * resolves to its name. 'auto' picks wasm and falls back to cpu if wasm cannot start; in
 * browsers it tries webgpu and webgl first.
 * Idempotent: calling it again is cheap and returns the same backend.
 * Throws when an explicitly named backend fails to initialise.
 */
export async function initBackend(name: BackendChoice = 'auto', options: BackendOptions = {}): Promise<string> {
  registerWasmTrainingKernels();
  if (name !== 'auto') {
    await activate(name, options);
    return tf.getBackend();
  }
  const failures: string[] = [];
  for (const candidate of isNode() ? AUTO_ORDER : BROWSER_AUTO_ORDER) {
    if (candidate === 'webgl' && softwareWebGl()) {
      failures.push('webgl: skipped, the only WebGL here is a software renderer');
      continue;
    }
    try {
      await activate(candidate, options);
      return tf.getBackend();
    } catch (error) {
      failures.push((error as Error).message);
    }
  }
  throw new Error(`no tfjs backend could be initialised: ${failures.join('; ')}`);
}

async function activate(name: BackendName, options: BackendOptions): Promise<void> {
  let pending = initialising.get(name);
  if (pending === undefined) {
    pending = initialise(name, options);
    initialising.set(name, pending);
    // A failed attempt may be retried (e.g. after fixing the wasm path).
    pending.catch(() => initialising.delete(name));
  }
  await pending;
  // Another caller may have switched backends since; switching back to an initialised
  // backend is immediate.
  if (tf.getBackend() !== name && !(await tf.setBackend(name))) {
    throw new Error(`tfjs backend '${name}' could not be re-activated`);
  }
}

async function initialise(name: BackendName, options: BackendOptions): Promise<void> {
  if (name === 'wasm') await configureWasmPaths(options);
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
    await tf.ready();
  } catch (error) {
    throw new Error(`tfjs backend '${name}' failed to initialise: ${(error as Error).message}`);
  }
  // tf.setBackend reports failure by returning false (and logging the cause as a warning).
  if (!ok || tf.getBackend() !== name) {
    throw new Error(`tfjs backend '${name}' failed to initialise (see the tfjs warning above)`);
  }
  if (name === 'cpu' && isNode()) silenceTfjsNodeBanner();
}

/**
 * tfjs-backend-cpu prints a "looks like you are running TensorFlow.js in Node.js ... install
 * our node backend" banner to the console on its first tensor in Node. meshfl does not use
 * tfjs-node on purpose (no native build; wasm is its fast path), so the banner is noise in
 * the CLI and the daemon's logs. It is guarded by the backend's own `firstUse` flag
 * (backend_cpu.ts); clearing it silences only the banner, not tfjs's other warnings. If a
 * tfjs release renames the flag, the banner simply comes back (a test watches for it).
 */
function silenceTfjsNodeBanner(): void {
  const backend = tf.findBackend('cpu') as { firstUse?: unknown } | null;
  if (backend !== null && typeof backend.firstUse === 'boolean') backend.firstUse = false;
}

async function configureWasmPaths(options: BackendOptions): Promise<void> {
  if (wasmPathsConfigured) return;
  const prefix = isNode() ? (await import('./wasm-paths-node.ts')).nodeWasmDirectory() : options.wasmPaths;
  // tfjs picks the SIMD build itself when WebAssembly SIMD is available (Node 22: yes);
  // the threaded build is never used in Node.
  if (prefix !== undefined) setWasmPaths(prefix);
  wasmPathsConfigured = true;
}

/**
 * True when the browser's WebGL is a CPU emulation (SwiftShader, llvmpipe: headless or
 * GPU-less machines). tfjs-webgl there is slower than wasm, and compiling its shaders
 * blocks the page's main thread for many seconds, long enough for libp2p stream
 * negotiations with the page to time out (the e2e test lost its gossip that way).
 */
export function softwareWebGl(): boolean {
  const doc = (globalThis as { document?: { createElement(tag: string): unknown } }).document;
  if (doc === undefined) return false;
  try {
    const canvas = doc.createElement('canvas') as { getContext(kind: string): WebGLRenderingContext | null };
    const gl = canvas.getContext('webgl2') ?? canvas.getContext('webgl');
    if (gl === null) return false;
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    const renderer = String(gl.getParameter(info === null ? gl.RENDERER : info.UNMASKED_RENDERER_WEBGL));
    return /swiftshader|llvmpipe|software|softpipe/i.test(renderer);
  } catch {
    return false;
  }
}

function isNode(): boolean {
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof proc?.versions?.node === 'string';
}

/** True when the wasm backend runs the SIMD build (resolved only after it initialised). */
export async function wasmUsesSimd(): Promise<boolean> {
  return Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
}
