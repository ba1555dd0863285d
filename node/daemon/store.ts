/**
 * The daemon's data directory:
 *
 *   <dataDir>/daemon.lock                    the daemon using the directory: pid, boot id, start time (see lock())
 *   <dataDir>/peer.key                       libp2p private key (protobuf), mode 0600, created once
 *   <dataDir>/peer.seq                       high-water mark of published seqs for that key (see seqMark())
 *   <dataDir>/peers.json                     neighbours and their addresses, redialed after a restart
 *   <dataDir>/checkpoints/round-<n>.mflm     model + round + publish seq (model-file format, CRC-32)
 *   <dataDir>/checkpoints/quarantine/        unusable checkpoints moved aside at start (newest few kept)
 *
 * Every write is atomic (temp file, fsync, rename, fsync of the directory), so a kill at any
 * moment leaves either the old or the new file. Reads check the CRC; a corrupt checkpoint
 * is reported and skipped, never loaded.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { decodeModelFile, encodeModelFile, type ModelFile } from '../../src/model/model-file.ts';
import { checkDataDirPath, StoreError } from './data-dir.ts';

export { checkDataDirPath, StoreError } from './data-dir.ts';

const KEY_FILE = 'peer.key';
const SEQ_FILE = 'peer.seq';
const PEERS_FILE = 'peers.json';
/** Neighbours remembered in peers.json (most recently seen first). */
export const KNOWN_PEERS_KEEP = 64;
const LOCK_FILE = 'daemon.lock';
const CHECKPOINT_DIR = 'checkpoints';
const QUARANTINE_DIR = 'quarantine';
/** Unusable checkpoints kept in quarantine for inspection; older ones are deleted. */
export const QUARANTINE_KEEP = 3;
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

/** A neighbour in peers.json. */
export interface KnownPeerRecord {
  readonly id: string;
  /** Dialable multiaddrs (TCP, WebSockets) with /p2p/<id>. */
  readonly addrs: readonly string[];
  /** ISO time it was last connected. */
  readonly lastSeen: string;
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
    // Node's recursive mkdirSync spins at 100% CPU under /proc: refuse such paths first.
    checkDataDirPath(this.dir);
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
   * peer identity and overwrite each other's checkpoints. The lock records the pid, the
   * kernel's boot id and the process start time (Linux /proc), so a lock whose pid was
   * reused by an unrelated process (after a reboot, or much later) is recognised as stale.
   * Throws StoreError naming the pid when the holder still runs; a stale or unreadable
   * lock is taken over. Then removes leftovers of interrupted writes (safe only once the
   * directory is ours). Returns the release function (removes the lock if still ours).
   */
  lock(): () => void {
    const file = path.join(this.dir, LOCK_FILE);
    const mine = `${JSON.stringify(lockRecord(process.pid))}\n`;
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
      if (holder !== undefined && holder.pid !== process.pid && holderAlive(holder)) {
        throw new StoreError(
          `dataDir ${this.dir} is in use by process ${holder.pid} (${file}); stop that daemon or give this one another dataDir`,
        );
      }
      rmSync(file, { force: true }); // stale: its process is gone
    }
    this.#removeTempFiles();
    return () => {
      if (lockHolder(file)?.pid === process.pid) rmSync(file, { force: true });
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

  /**
   * The high-water mark of seqs this identity may have published (0 when none is recorded
   * for `peerId`). Kept apart from checkpoints: when every checkpoint is unusable, or the
   * architecture changed, the identity stays and its seqs must still never go backwards
   * (neighbours ignore seqs they have seen as stale). A mark that cannot be read is
   * reported in `problem` and counts as 0.
   */
  seqMark(peerId: string): { seq: number; problem?: string } {
    const file = path.join(this.dir, SEQ_FILE);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { seq: 0 };
      return { seq: 0, problem: `${file}: cannot read (${errnoText(err)})` };
    }
    try {
      const parsed = JSON.parse(text) as { peerId?: unknown; seq?: unknown };
      if (typeof parsed.peerId !== 'string' || !Number.isSafeInteger(parsed.seq) || (parsed.seq as number) < 0) {
        throw new Error('expected {"peerId": string, "seq": integer >= 0}');
      }
      return { seq: parsed.peerId === peerId ? (parsed.seq as number) : 0 };
    } catch (err) {
      return { seq: 0, problem: `${file}: unreadable (${err instanceof Error ? err.message : String(err)})` };
    }
  }

  /** Records (durably) that `peerId` may publish seqs up to `seq`. */
  saveSeqMark(peerId: string, seq: number): void {
    writeFileDurable(path.join(this.dir, SEQ_FILE), new TextEncoder().encode(`${JSON.stringify({ peerId, seq })}\n`));
  }

  /**
   * Neighbours persisted by an earlier run (peers.json), most recently seen first. A file
   * that cannot be read is reported in `problem` and counts as empty: it is only a hint.
   */
  knownPeers(): { peers: KnownPeerRecord[]; problem?: string } {
    const file = path.join(this.dir, PEERS_FILE);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { peers: [] };
      return { peers: [], problem: `${file}: cannot read (${errnoText(err)})` };
    }
    try {
      const parsed = JSON.parse(text) as { peers?: unknown };
      if (!Array.isArray(parsed.peers)) throw new Error('expected {"peers": [...]}');
      const peers = parsed.peers.flatMap((p: unknown): KnownPeerRecord[] => {
        const r = p as Partial<KnownPeerRecord>;
        const ok =
          typeof r.id === 'string' &&
          Array.isArray(r.addrs) &&
          r.addrs.every((a) => typeof a === 'string') &&
          typeof r.lastSeen === 'string';
        return ok ? [{ id: r.id, addrs: [...r.addrs], lastSeen: r.lastSeen }] : [];
      });
      return { peers: peers.slice(0, KNOWN_PEERS_KEEP) };
    } catch (err) {
      return { peers: [], problem: `${file}: unreadable (${err instanceof Error ? err.message : String(err)})` };
    }
  }

  /** Persists neighbours (at most KNOWN_PEERS_KEEP, most recently seen first). */
  saveKnownPeers(peers: readonly KnownPeerRecord[]): void {
    const sorted = [...peers].sort((a, b) => b.lastSeen.localeCompare(a.lastSeen)).slice(0, KNOWN_PEERS_KEEP);
    const text = `${JSON.stringify({ version: 1, peers: sorted }, null, 1)}\n`;
    writeFileDurable(path.join(this.dir, PEERS_FILE), new TextEncoder().encode(text));
  }

  /**
   * Moves an unusable checkpoint out of the way (into checkpoints/quarantine/), so that it
   * neither takes one of the `keep` slots nor shadows newer checkpoints of a fresh start,
   * and prunes the quarantine to its newest QUARANTINE_KEEP files. Returns the new path.
   */
  quarantine(file: string): string {
    const dir = path.join(this.checkpointDir, QUARANTINE_DIR);
    mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    const target = path.join(dir, `${path.basename(file)}.${Date.now()}`);
    renameSync(file, target);
    const held = readdirSync(dir)
      .map((name) => ({ file: path.join(dir, name), mtime: statSync(path.join(dir, name)).mtimeMs }))
      .sort((a, b) => b.mtime - a.mtime || b.file.localeCompare(a.file));
    for (const old of held.slice(QUARANTINE_KEEP)) rmSync(old.file, { force: true });
    return target;
  }

  /** Files in quarantine (newest first). */
  quarantined(): string[] {
    const dir = path.join(this.checkpointDir, QUARANTINE_DIR);
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .map((name) => path.join(dir, name))
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
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
   * The newest checkpoint that decodes (CRC, header), belongs to `peerId` and `taskId` and
   * has no `problem` (e.g. another architecture); everything newer that did not is
   * returned in `skipped` (the daemon quarantines those).
   */
  newestCheckpoint(
    peerId: string,
    taskId: string,
    problem: (model: ModelFile) => string | undefined = () => undefined,
  ): { checkpoint: LoadedCheckpoint | undefined; skipped: SkippedCheckpoint[] } {
    const skipped: SkippedCheckpoint[] = [];
    for (const file of this.checkpointFiles()) {
      try {
        const model = decodeModelFile(readFileSync(file), file);
        const meta = parseMeta(model.meta);
        if (meta.peerId !== peerId) throw new Error(`written by peer ${meta.peerId}, this is ${peerId}`);
        if (meta.taskId !== taskId) throw new Error(`for task ${meta.taskId}, this is ${taskId}`);
        const unfit = problem(model);
        if (unfit !== undefined) throw new Error(unfit);
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

/** What a lock file records of its holder; bootId and startTime are absent off Linux. */
export interface LockRecord {
  readonly pid: number;
  readonly bootId?: string;
  readonly startTime?: string;
}

/** The kernel's boot id (changes at every boot), or undefined where /proc does not have it. */
export function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * A process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), or
 * undefined. The command name (field 2) may hold spaces and parentheses: fields are
 * counted after its last ')'.
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = fields[22 - 3];
    return start !== undefined && /^\d+$/.test(start) ? start : undefined;
  } catch {
    return undefined;
  }
}

export function lockRecord(pid: number): LockRecord {
  const boot = bootId();
  const start = processStartTime(pid);
  return { pid, ...(boot !== undefined ? { bootId: boot } : {}), ...(start !== undefined ? { startTime: start } : {}) };
}

/** The holder recorded in a lock file (JSON, or a bare pid as older versions wrote), or undefined. */
function lockHolder(file: string): LockRecord | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
  const validPid = (pid: unknown): pid is number => Number.isSafeInteger(pid) && (pid as number) > 0;
  if (/^\d+$/.test(text)) {
    const pid = Number(text);
    return validPid(pid) ? { pid } : undefined;
  }
  try {
    const parsed = JSON.parse(text) as { pid?: unknown; bootId?: unknown; startTime?: unknown };
    if (!validPid(parsed.pid)) return undefined;
    return {
      pid: parsed.pid,
      ...(typeof parsed.bootId === 'string' ? { bootId: parsed.bootId } : {}),
      ...(typeof parsed.startTime === 'string' ? { startTime: parsed.startTime } : {}),
    };
  } catch {
    return undefined;
  }
}

/**
 * Whether the process that wrote a lock still runs: its pid exists, and where the lock
 * recorded them, the boot id and the pid's start time are unchanged (a reused pid has
 * another start time; after a reboot the boot id differs). A bare-pid lock (older
 * versions) can only be checked by pid.
 */
function holderAlive(holder: LockRecord): boolean {
  if (!processAlive(holder.pid)) return false;
  if (holder.bootId !== undefined) {
    const now = bootId();
    if (now !== undefined && now !== holder.bootId) return false;
  }
  if (holder.startTime !== undefined) {
    const now = processStartTime(holder.pid);
    if (now !== undefined && now !== holder.startTime) return false;
  }
  return true;
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
