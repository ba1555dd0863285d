/**
 * Node only (imported dynamically by backend.ts): the directory holding the tfjs wasm
 * binaries inside the installed @tensorflow/tfjs-backend-wasm package.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const WASM_PACKAGE = '@tensorflow/tfjs-backend-wasm';
/** The plain build; the SIMD build the backend prefers sits next to it. */
const PLAIN_BINARY = 'tfjs-backend-wasm.wasm';

/** An absolute directory path ending in a separator, as setWasmPaths expects a prefix. */
export function nodeWasmDirectory(): string {
  // The package's Node entry point lives in dist/, next to the .wasm files.
  const entryUrl = import.meta.resolve(WASM_PACKAGE);
  const directory = fileURLToPath(new URL('./', entryUrl));
  if (!existsSync(directory + PLAIN_BINARY)) {
    throw new Error(`tfjs wasm binaries not found: ${directory + PLAIN_BINARY} does not exist`);
  }
  return directory;
}
