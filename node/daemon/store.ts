/**
 * The daemon's data directory:
 *
 *   <dataDir>/daemon.lock                    pid of the daemon using the directory (see lock())
 *   <dataDir>/peer.key                       libp2p private key (protobuf), mode 0600, created once
 *   <dataDir>/checkpoints/round-<n>.mflm     model + round + publish seq (model-file format, CRC-32)
 *
 * Every write is atomic (temp file, fsync, rename, fsync of the directory), so a kill at any
 * moment leaves either the old or the new file. Reads check the CRC; a corrupt checkpoint
 * is reported and skipped, never loaded.
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { decodeModelFile, encodeModelFile, type ModelFile } from '../../src/model/model-file.ts';

/** A problem with the data directory or its files that the operator must fix (exit code 2). */
export class StoreError extends Error {
  override readonly name = 'StoreError';
}

const KEY_FILE = 'peer.key';
const LOCK_FILE = 'daemon.lock';
const CHECKPOINT_DIR = 'checkpoints';
const CHECKPOINT_NAME = /^round-(\d{1,12})\.mflm$/;
const TEMP_MARK = '.tmp-';
const PRIVATE_FILE_MODE = 0o600;
const DATA_FILE_MODE = 0o644;
const PRIVATE_DIR_MODE = 0o700;
const ROUND_DIGITS = 9;

function errnoText(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
}

/** Writes `bytes` to `file` atomically and durably. */
export function writeFileDurable(file: string, bytes: Uint8Array, mode = DATA_FILE_MODE): void {
  const tmp = `${file}${TEMP_MARK}${process.pid}`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  // The rename itself is durable only once the directory entry is flushed.
  const dir = openSync(path.dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

export interface CheckpointMeta {
  /** The next round to run (rounds completed so far). */
  readonly round: number;
  /** Seq of the last update published before this checkpoint. */
  readonly seq: number;
  readonly peerId: string;
  readonly taskId: string;
  readonly savedAt: string;
}

export interface LoadedCheckpoint {
  readonly file: string;
  readonly model: ModelFile;
  readonly meta: CheckpointMeta;
}

/** Report of what `newestCheckpoint` skipped, for logging. */
export interface SkippedCheckpoint {
  readonly file: string;
  readonly reason: string;
}

export class DataStore {
  readonly dir: string;
  readonly checkpointDir: string;
  readonly keep: number;

  /**
   * Creates the directory tree (mode 0700) and proves it is writable. Throws StoreError.
   * Reading only: a daemon then calls lock() before it writes anything else.
   */
  constructor(dir: string, keep: number) {
    this.dir = path.resolve(dir);
    this.checkpointDir = path.join(this.dir, CHECKPOINT_DIR);
    this.keep = keep;
    try {
      mkdirSync(this.checkpointDir, { recursive: true, mode: PRIVATE_DIR_MODE });
      writeFileDurable(path.join(this.checkpointDir, `.write-probe${TEMP_MARK}x`), new Uint8Array(1));
      unlinkSync(path.join(this.checkpointDir, `.write-probe${TEMP_MARK}x`));
    } catch (err) {
      throw new StoreError(`dataDir ${this.dir}: not a writable directory (${errnoText(err)})`);
    }
  }

  /**
   * Claims the directory for this process: two daemons on one directory would share one
   * peer identity and overwrite each other's checkpoints. Throws StoreError naming the pid
   * when a live process holds the lock; a lock left by a dead process (or unreadable) is
   * taken over. Then removes leftovers of interrupted writes (safe only once the directory
   * is ours). Returns the release function (removes the lock if it is still ours).
   */
  lock(): () => void {
    const file = path.join(this.dir, LOCK_FILE);
    const mine = `${process.pid}\n`;
    for (let attempt = 0; ; attempt++) {
      try {
        writeFileSync(file, mine, { flag: 'wx', mode: DATA_FILE_MODE });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) {
          throw new StoreError(`${file}: cannot create the lock (${errnoText(err)})`);
        }
      }
      const holder = lockHolder(file);
      if (holder !== undefined && holder !== process.pid && processAlive(holder)) {
        throw new StoreError(
          `dataDir ${this.dir} is in use by process ${holder} (${file}); stop that daemon or give this one another dataDir`,
        );
      }
      rmSync(file, { force: true }); // stale: its process is gone
    }
    this.#removeTempFiles();
    return () => {
      if (lockHolder(file) === process.pid) rmSync(file, { force: true });
    };
  }

  /** The peer's private key: read from peer.key, or generated (Ed25519) and saved with mode 0600. */
  async identity(): Promise<{ key: PrivateKey; created: boolean }> {
    const file = path.join(this.dir, KEY_FILE);
    let bytes: Uint8Array | undefined;
    try {
      bytes = readFileSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new StoreError(`${file}: cannot read the peer key (${errnoText(err)})`);
      }
    }
    if (bytes !== undefined) {
      try {
        return { key: privateKeyFromProtobuf(bytes), created: false };
      } catch (err) {
        // Never silently replace an identity: the operator decides (restore a backup or delete it).
        throw new StoreError(
          `${file}: not a valid libp2p private key (${errnoText(err)}); restore it or delete it for a new id`,
        );
      }
    }
    const key = await generateKeyPair('Ed25519');
    writeFileDurable(file, privateKeyToProtobuf(key), PRIVATE_FILE_MODE);
    return { key, created: true };
  }

  /** Saves a checkpoint and prunes all but the newest `keep`. Returns the file path. */
  saveCheckpoint(model: Omit<ModelFile, 'meta'>, meta: CheckpointMeta): string {
    const file = path.join(this.checkpointDir, `round-${String(meta.round).padStart(ROUND_DIGITS, '0')}.mflm`);
    writeFileDurable(file, encodeModelFile({ ...model, meta: { ...meta } }));
    // The file just written always survives, whatever round numbers older files carry.
    const others = this.checkpointFiles().filter((f) => f !== file);
    for (const old of others.slice(Math.max(0, this.keep - 1))) {
      try {
        unlinkSync(old);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    return file;
  }

  /** Checkpoint files, newest round first. */
  checkpointFiles(): string[] {
    return readdirSync(this.checkpointDir)
      .flatMap((name) => {
        const m = CHECKPOINT_NAME.exec(name);
        return m ? [{ name, round: Number(m[1]) }] : [];
      })
      .sort((a, b) => b.round - a.round)
      .map((c) => path.join(this.checkpointDir, c.name));
  }

  /**
   * The newest checkpoint that decodes (CRC, header) and belongs to `peerId` and `taskId`;
   * everything newer that did not is returned in `skipped`.
   */
  newestCheckpoint(
    peerId: string,
    taskId: string,
  ): { checkpoint: LoadedCheckpoint | undefined; skipped: SkippedCheckpoint[] } {
    const skipped: SkippedCheckpoint[] = [];
    for (const file of this.checkpointFiles()) {
      try {
        const model = decodeModelFile(readFileSync(file), file);
        const meta = parseMeta(model.meta);
        if (meta.peerId !== peerId) throw new Error(`written by peer ${meta.peerId}, this is ${peerId}`);
        if (meta.taskId !== taskId) throw new Error(`for task ${meta.taskId}, this is ${taskId}`);
        return { checkpoint: { file, model, meta }, skipped };
      } catch (err) {
        skipped.push({ file, reason: err instanceof Error ? err.message : String(err) });
      }
    }
    return { checkpoint: undefined, skipped };
  }

  /** Leftovers of writes interrupted by a kill. */
  #removeTempFiles(): void {
    for (const dir of [this.dir, this.checkpointDir]) {
      for (const name of readdirSync(dir)) {
        if (name.includes(TEMP_MARK)) unlinkSync(path.join(dir, name));
      }
    }
  }
}

/** The pid written in a lock file, or undefined if it cannot be read as one. */
function lockHolder(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Signal 0 checks existence; EPERM means it exists under another user. */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parseMeta(meta: Readonly<Record<string, unknown>>): CheckpointMeta {
  const { round, seq, peerId, taskId, savedAt } = meta;
  if (!Number.isInteger(round) || (round as number) < 0) throw new Error('checkpoint meta: bad round');
  if (!Number.isInteger(seq) || (seq as number) < 0) throw new Error('checkpoint meta: bad seq');
  if (typeof peerId !== 'string' || typeof taskId !== 'string')
    throw new Error('checkpoint meta: missing peerId/taskId');
  return { round: round as number, seq: seq as number, peerId, taskId, savedAt: String(savedAt) };
}
