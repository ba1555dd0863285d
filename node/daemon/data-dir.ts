/**
 * The data directory's path checks and error type, kept free of libp2p and tfjs so that
 * `meshfl daemon --check` can use them without loading either (test/cli/lazy-imports.test.ts).
 */
import { existsSync, statfsSync } from 'node:fs';
import path from 'node:path';

/** A problem with the data directory or its files that the operator must fix (exit code 2). */
export class StoreError extends Error {
  override readonly name = 'StoreError';
}

/** statfs types of kernel pseudo file systems, where no data directory belongs (proc, sysfs). */
const PSEUDO_FS_TYPES = new Map([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
]);
const PSEUDO_FS_ROOTS = ['/proc', '/sys'];

/**
 * Refuses a data directory on a kernel pseudo file system (/proc, /sys): Node's recursive
 * mkdirSync spins at 100% CPU there and ignores SIGTERM. Checks the path and the file
 * system of its nearest existing ancestor; creates nothing. Throws StoreError.
 */
export function checkDataDirPath(dir: string): void {
  const resolved = path.resolve(dir);
  for (const root of PSEUDO_FS_ROOTS) {
    if (resolved === root || resolved.startsWith(`${root}/`)) {
      throw new StoreError(`dataDir ${resolved}: under ${root}, a kernel pseudo file system; choose a real directory`);
    }
  }
  let existing = resolved;
  while (!existsSync(existing) && path.dirname(existing) !== existing) existing = path.dirname(existing);
  let type: number | undefined;
  try {
    type = statfsSync(existing).type;
  } catch {
    return; // the mkdir that follows reports what is wrong
  }
  const fs = PSEUDO_FS_TYPES.get(type);
  if (fs !== undefined) {
    throw new StoreError(`dataDir ${resolved}: on a ${fs} file system (${existing}); choose a real directory`);
  }
}
