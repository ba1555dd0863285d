/**
 * Browser test helpers: builds browser/dist with Vite when it is missing or older than the
 * sources it bundles (the daemon serves it at /).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const DIST = path.join(REPO, 'browser', 'dist');
/** What the page's bundle is built from. */
const SOURCES = ['browser/src', 'browser/public', 'browser/index.html', 'browser/vite.config.ts', 'src'];

function newestMtime(file: string): number {
  const s = statSync(file);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(s.mtimeMs, ...readdirSync(file).map((name) => newestMtime(path.join(file, name))));
}

/** Builds browser/dist with Vite unless it exists and is newer than every source. */
export async function ensureBuilt(): Promise<void> {
  const index = path.join(DIST, 'index.html');
  if (existsSync(index)) {
    const built = statSync(index).mtimeMs;
    const sources = SOURCES.map((s) => path.join(REPO, s)).filter(existsSync);
    if (sources.every((s) => newestMtime(s) <= built)) return;
  }
  const { build } = await import('vite');
  await build({ configFile: path.join(REPO, 'browser', 'vite.config.ts'), logLevel: 'warn' });
  if (!existsSync(index)) throw new Error(`vite build did not produce ${index}`);
}
