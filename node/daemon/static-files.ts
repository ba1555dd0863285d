/**
 * Static files of the built web page (browser/dist), resolved safely: the decoded request
 * path must stay inside the root after normalisation and after following symlinks.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
};
const FALLBACK_TYPE = 'application/octet-stream';
const INDEX = 'index.html';

export type StaticResult =
  | { readonly kind: 'file'; readonly body: Uint8Array; readonly contentType: string }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'bad-path' };

export function contentTypeOf(file: string): string {
  return CONTENT_TYPES[path.extname(file).toLowerCase()] ?? FALLBACK_TYPE;
}

/** True when `root` holds a built page (an index.html). */
export async function hasBuiltPage(root: string): Promise<boolean> {
  try {
    return (await stat(path.join(root, INDEX))).isFile();
  } catch {
    return false;
  }
}

/** Resolves a URL path (without query) under `root`; directories serve their index.html. */
export async function readStatic(root: string, urlPath: string): Promise<StaticResult> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return { kind: 'bad-path' };
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return { kind: 'bad-path' };
  const rootReal = await realpath(root).catch(() => undefined);
  if (rootReal === undefined) return { kind: 'not-found' };
  let file = path.resolve(rootReal, `.${path.posix.normalize(`/${decoded}`)}`);
  if (!inside(rootReal, file)) return { kind: 'bad-path' };
  try {
    if ((await stat(file)).isDirectory()) file = path.join(file, INDEX);
    const real = await realpath(file);
    if (!inside(rootReal, real)) return { kind: 'bad-path' };
    if (!(await stat(real)).isFile()) return { kind: 'not-found' };
    return { kind: 'file', body: await readFile(real), contentType: contentTypeOf(real) };
  } catch {
    return { kind: 'not-found' };
  }
}

function inside(root: string, file: string): boolean {
  return file === root || file.startsWith(root + path.sep);
}
