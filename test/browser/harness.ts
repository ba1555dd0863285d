/** Browser test helpers: builds browser/dist with Vite when missing (the daemon serves it at /). */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const DIST = path.join(REPO, 'browser', 'dist');

/** Builds browser/dist with Vite unless it exists. */
export async function ensureBuilt(): Promise<void> {
  if (existsSync(path.join(DIST, 'index.html'))) return;
  const { build } = await import('vite');
  await build({ configFile: path.join(REPO, 'browser', 'vite.config.ts'), logLevel: 'warn' });
  if (!existsSync(path.join(DIST, 'index.html'))) throw new Error(`vite build did not produce ${DIST}/index.html`);
}
