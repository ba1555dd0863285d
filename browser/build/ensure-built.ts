/**
 * Builds browser/dist with Vite when it is missing or older than the sources it bundles.
 * `npm start` runs it first (prestart), so a daemon's HTTP address serves the page out of
 * the box; the browser e2e test calls `ensureBuilt` too.
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

/** True when browser/dist exists and is newer than every source. */
export function isBuilt(): boolean {
  const index = path.join(DIST, 'index.html');
  if (!existsSync(index)) return false;
  const built = statSync(index).mtimeMs;
  return SOURCES.map((s) => path.join(REPO, s))
    .filter(existsSync)
    .every((s) => newestMtime(s) <= built);
}

/** Builds browser/dist unless it is up to date; returns whether it built. */
export async function ensureBuilt(): Promise<boolean> {
  if (isBuilt()) return false;
  const { build } = await import('vite');
  await build({ configFile: path.join(REPO, 'browser', 'vite.config.ts'), logLevel: 'warn' });
  const index = path.join(DIST, 'index.html');
  if (!existsSync(index)) throw new Error(`vite build did not produce ${index}`);
  return true;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (!isBuilt()) console.log('meshfl: building the web page (browser/dist) ...');
  ensureBuilt().then(
    (built) => {
      if (built) console.log('meshfl: web page built');
    },
    (err: unknown) => {
      console.error(`meshfl: could not build the web page: ${(err as Error).message}`);
      process.exitCode = 1;
    },
  );
}
