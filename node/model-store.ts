/** Model files on disk: atomic writes (temp file, fsync, rename) and checked reads. */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { decodeModelFile, encodeModelFile, type ModelFile } from '../src/model/model-file.ts';

export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeSync(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function saveModelFile(path: string, file: ModelFile): number {
  const bytes = encodeModelFile(file);
  writeFileAtomic(path, bytes);
  return bytes.length;
}

export function loadModelFile(path: string): ModelFile {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read model file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return decodeModelFile(bytes, path);
}
