/**
 * Vite configuration of the browser peer: `npm run browser` serves it for development,
 * `npm run build:browser` writes browser/dist (relative URLs, so any HTTP server, e.g.
 * the daemon, can serve it under any path).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { meshflStaticFiles } from './build/vite-plugins.ts';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: './',
  plugins: [meshflStaticFiles()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    // Minifying breaks tfjs-wasm's threaded build: its pthread worker is source text run
    // from a blob, and renamed identifiers leave it with "e is not defined", so a
    // cross-origin isolated page (the daemon serves it so) hung in "loading tfjs backend".
    minify: false,
  },
  server: { host: '127.0.0.1' },
});
