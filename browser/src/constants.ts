/** Every tunable number and fixed name of the browser peer, in one place. */

/** Directory (under the page's base URL) holding the tfjs .wasm binaries. */
export const WASM_DIR = 'tfjs-wasm';

/** Time to reach the daemon, per attempt. */
export const DAEMON_DIAL_TIMEOUT_MS = 10_000;
export const DAEMON_DIAL_ATTEMPTS = 3;
/** Pause between attempts to reach the daemon. */
export const DAEMON_RETRY_DELAY_MS = 1_500;
/** How often the page checks that it is still connected to its daemon. */
export const LINK_CHECK_INTERVAL_MS = 2_000;
/** First pause between redials of a lost daemon; doubles per attempt up to the maximum. */
export const LINK_BACKOFF_MIN_MS = 1_000;
export const LINK_BACKOFF_MAX_MS = 15_000;
/** Time for the daemon's `/status` to answer. */
export const STATUS_TIMEOUT_MS = 5_000;

/** Time for one WebRTC dial to another browser (signalled through the relay). */
export const WEBRTC_DIAL_TIMEOUT_MS = 20_000;
/** A neighbour whose WebRTC dial failed is tried again after this long. */
export const WEBRTC_RETRY_AFTER_MS = 5_000;
/** libp2p's per-address dial timeout (default 6 s is short for WebRTC, FIELD-NOTES). */
export const ADDRESS_DIAL_TIMEOUT_MS = 20_000;

/** Connections and neighbours are re-read this often for the live view. */
export const REFRESH_INTERVAL_MS = 1_000;
/** Time for the peer to finish its current step and leave. */
export const LEAVE_TIMEOUT_MS = 30_000;

/** Rounds averaged for the training speed shown. */
export const SPEED_WINDOW = 5;

/** Rejected messages kept for display. */
export const MAX_REJECTED_SHOWN = 20;
/** Peer errors kept for display, newest first. */
export const MAX_ERRORS_SHOWN = 8;

/** Round deadline learning for browser peers (ms). */
export const DEADLINE = { initialMs: 4_000, minMs: 500, maxMs: 8_000 } as const;
/** Close a round once this many fresh neighbour updates arrived. */
export const MIN_FRESH_UPDATES = 3;
