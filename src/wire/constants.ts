/**
 * Wire-format constants for update messages and snapshot requests (docs/PROTOCOL.md).
 * Changing any byte value here changes the protocol: bump FORMAT_VERSION.
 */
import { MAX_MESSAGE_BYTES } from '../limits.ts';

/** "MFLU": first four bytes of every update message. */
export const UPDATE_MAGIC = Uint8Array.of(0x4d, 0x46, 0x4c, 0x55);
/** "MFLQ": first four bytes of a snapshot request. */
export const SNAPSHOT_REQUEST_MAGIC = Uint8Array.of(0x4d, 0x46, 0x4c, 0x51);
export const FORMAT_VERSION = 1;

/** Fixed part of the update header, before the task id bytes. */
export const FIXED_HEADER_BYTES = 31;
/** Each layer payload is preceded by its byte length as uint32. */
export const LAYER_PREFIX_BYTES = 4;

export const KIND_DELTA = 1;
export const KIND_KEYFRAME = 2;

export const VALUE_CODEC_FP32 = 1;
export const VALUE_CODEC_FP16 = 2;
export const VALUE_CODEC_INT8 = 3;
export const SPARSITY_DENSE = 0;
export const SPARSITY_TOPK = 1;

/** Top-k fractions travel as integer parts per million: exact, and no float parsing. */
export const TOPK_PPM_SCALE = 1_000_000;

/**
 * The one task id rule (wire, configs, pages, TaskSpec). Task ids appear in topic names and
 * log lines, so they are short (1-64 bytes) from a safe alphabet, and start with a letter
 * or digit (no "..", no leading "-" that reads as a flag).
 */
export const TASK_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** What TASK_ID_PATTERN says, for error messages. */
export const TASK_ID_RULE = '1-64 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit';

/** Default upper bound on an update message (64 MiB, src/limits.ts). Configurable per validator. */
export const DEFAULT_MAX_MESSAGE_BYTES = MAX_MESSAGE_BYTES;

/** Reported local sample counts above this are treated as lies (no peer holds 1e9 samples). */
export const MAX_SAMPLES = 1_000_000_000;

/** Sequence numbers are uint32 on the wire. */
export const MAX_SEQ = 0xffffffff;

/** Layer count is uint16 on the wire. */
export const MAX_LAYERS = 0xffff;

/** Sender default: a full keyframe every this many messages (CHOCO resynchronisation). */
export const DEFAULT_KEYFRAME_INTERVAL = 10;

/** int8 codec levels are symmetric: q in [-127, 127], value = q * scale. */
export const INT8_LEVELS = 127;

export const UPDATES_TOPIC_PREFIX = '/meshfl/1/';
export const UPDATES_TOPIC_SUFFIX = '/updates';
export const SNAPSHOT_PROTOCOL = '/meshfl/1/snapshot';
/** Peer sampling exchanges and follow requests (src/wire/sampling.ts, src/peer/neighbourhood.ts). */
export const SAMPLE_PROTOCOL = '/meshfl/1/sample';
/** An author pushes each update to its followers: request = the update message, answer empty. */
export const PUSH_PROTOCOL = '/meshfl/1/push';
/** Request/response protocol serving a peer's TaskSpec (src/peer/task-exchange.ts). */
export const TASK_PROTOCOL = '/meshfl/1/task';

/** The typed-array fast paths assume a little-endian host (all current browsers and Node targets). */
export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
