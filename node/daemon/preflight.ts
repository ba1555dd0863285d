/**
 * Checks of everything on disk a daemon will need, without creating or locking anything:
 * run by `--check` (so that it "validates everything", as docs/DAEMON.md says) and before
 * a real start loads tfjs and libp2p. Throws DataError or StoreError (exit code 2).
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { idxFiles } from '../datasets.ts';
import type { DaemonConfig } from './config.ts';
import { checkDataDirPath, StoreError } from './data-dir.ts';
import { DataError } from './data-error.ts';

function errnoText(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
}

/** A readable regular file, else `fail(problem)`. */
function readableFile(file: string, fail: (problem: string) => never): void {
  try {
    if (!statSync(file).isFile()) fail(`${file}: not a regular file`);
    accessSync(file, constants.R_OK);
  } catch (err) {
    if (err instanceof DataError || err instanceof StoreError) throw err;
    fail(`${file}: cannot read (${errnoText(err)})`);
  }
}

/** The data directory (or, when it does not exist yet, its nearest existing ancestor) is a writable directory. */
export function checkDataDir(dataDir: string): void {
  const dir = path.resolve(dataDir);
  checkDataDirPath(dir);
  let existing = dir;
  while (!existsSync(existing) && path.dirname(existing) !== existing) existing = path.dirname(existing);
  try {
    if (!statSync(existing).isDirectory()) {
      throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    }
    accessSync(existing, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new StoreError(`dataDir ${dir}: not a writable directory (${errnoText(err)})`);
  }
  const key = path.join(dir, 'peer.key');
  if (existsSync(key)) {
    readableFile(key, (p) => {
      throw new StoreError(`${p}; restore it or delete it for a new id`);
    });
  }
}

/** Data set files named by the config exist and are readable. */
export function checkDataFiles(config: DaemonConfig): void {
  const source = config.dataset;
  const fail = (problem: string): never => {
    throw new DataError(`dataset (${source.kind}): ${problem}`);
  };
  if (source.kind === 'idx') {
    let files: string[] = [];
    try {
      files = idxFiles(source.dir);
    } catch (err) {
      fail(err instanceof Error ? err.message : String(err));
    }
    for (const f of files) readableFile(f, fail);
  } else if (source.kind === 'csv') {
    readableFile(source.file, fail);
    if (source.testFile !== undefined) readableFile(source.testFile, fail);
  }
  if (config.backbone !== undefined) {
    readableFile(config.backbone, (p) => {
      throw new StoreError(`backbone: ${p}`);
    });
  }
}

/** The errors `preflight` throws: operator errors (exit code 2). */
export function isPreflightError(err: unknown): boolean {
  return err instanceof DataError || err instanceof StoreError;
}

/** Everything `--check` validates on disk. */
export function preflight(config: DaemonConfig): void {
  checkDataDir(config.dataDir);
  checkDataFiles(config);
}
