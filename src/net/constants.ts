/**
 * Every tunable number of the network layer, in one place. Each is the default of an
 * `Init` option that overrides it.
 */
import { MAX_MESSAGE_BYTES } from '../limits.ts';

/** Protocol ids are `/${PROTOCOL_PREFIX}/${version}/${name}`. */
export const PROTOCOL_PREFIX = 'meshfl';
export const PROTOCOL_VERSION = '1';

/** Stream protocol that serves payloads too large to gossip inline (announce + fetch). */
export const PAYLOAD_PROTOCOL = `/${PROTOCOL_PREFIX}/${PROTOCOL_VERSION}/payload`;

/**
 * Payloads up to this many bytes travel inside the gossip message itself; larger ones are
 * announced (hash + size) and fetched over {@link PAYLOAD_PROTOCOL}. Measured on 30 nodes
 * (docs/PERFORMANCE.md "Gossip"): at 100 kB, announce + fetch reached all peers faster
 * (73 vs 129 ms) with a fifth of the bytes (1.0x vs 4.9x the payload per peer), because
 * inline gossip pushes every payload to all mesh peers, most of which already have it.
 * Below a few tens of kB the extra round trip per hop matters more than the bytes. It
 * must also stay far under gossipsub's silent 4 MiB outbound RPC cap.
 */
export const INLINE_LIMIT = 64 * 1024;

/** Largest payload `publish` accepts and a receiver will fetch (64 MiB, src/limits.ts). */
export const MAX_PAYLOAD_BYTES = MAX_MESSAGE_BYTES;

/** Bytes of recent announced payloads each node keeps to serve fetches (256 MiB). */
export const PAYLOAD_CACHE_BYTES = 256 * 1024 * 1024;

/**
 * With topic payload limits known (the Peer passes its task's largest update), the cache
 * holds at most this many of the largest payloads (and never more than PAYLOAD_CACHE_BYTES).
 */
export const PAYLOAD_CACHE_FACTOR = 64;

/** Announced-payload fetches running at once. */
export const FETCH_MAX_RUNNING = 8;
/** ...of them caused by one propagation source. */
export const FETCH_MAX_RUNNING_PER_PEER = 2;
/** Fetches running or waiting for one propagation source; beyond, announcements are ignored ('busy'). */
export const FETCH_MAX_QUEUED_PER_PEER = 32;
/** Fetches waiting in total. */
export const FETCH_MAX_QUEUED = 256;
/**
 * Bytes of unvalidated payloads held at once = this x the largest payload a subscribed
 * topic allows (a small multiple of the model size).
 */
export const FETCH_BYTES_FACTOR = 4;

/** Entries in the payload cache, whatever their size. */
export const PAYLOAD_CACHE_ENTRIES = 64;

/** Time to fetch one announced payload from one source. */
export const PAYLOAD_FETCH_TIMEOUT = 30_000;

/** Sources tried for one announced payload (propagation source, author, other neighbours). */
export const PAYLOAD_FETCH_ATTEMPTS = 4;

/** Default time for a whole `fetch` request/response exchange. */
export const FETCH_TIMEOUT = 10_000;

/**
 * Time a request may take to arrive whole (length prefix and body) before the responder
 * closes the stream: requests are small, so a slow or stalled one is hostile or broken.
 */
export const REQUEST_READ_TIMEOUT = 5_000;

/** Default time a responder may take to answer one request. */
export const RESPOND_TIMEOUT = 30_000;

/** Default largest request body for `handle`/`fetch` protocols (1 MiB). */
export const MAX_REQUEST_BYTES = 1024 * 1024;

/** Default largest response body for `handle`/`fetch` protocols (64 MiB, src/limits.ts). */
export const MAX_RESPONSE_BYTES = MAX_MESSAGE_BYTES;

/** Concurrent inbound streams per request/response protocol per connection. */
export const MAX_INBOUND_STREAMS = 32;

/** Concurrent outbound streams per request/response protocol per connection. */
export const MAX_OUTBOUND_STREAMS = 64;

/** Slack over the largest body for the varint length and the status byte. */
export const FRAME_OVERHEAD = 16;

/** Gossipsub: largest inbound message data; inline payloads plus the header fit easily. */
export const GOSSIP_MAX_INBOUND_DATA = 4 * 1024 * 1024;

/** Reputation: one `penalize` call lowers a peer's app-specific score by this much. */
export const PENALTY = 1;

/** Reputation: penalties halve every this many milliseconds (10 minutes). */
export const PENALTY_HALF_LIFE = 10 * 60_000;

/** Time `waitForMesh` and similar helpers wait by default. */
export const MESH_WAIT_TIMEOUT = 20_000;

/** Poll interval of `waitForMesh`. */
export const MESH_POLL_INTERVAL = 50;

/** Time to dial one peer in `connectTopology`. */
export const DIAL_TIMEOUT = 10_000;

/** Concurrent dials in `connectTopology`. */
export const DIAL_CONCURRENCY = 8;

/**
 * libp2p's connection monitor pings every connection and, by default, aborts it when a
 * ping takes longer than 5 s. A peer's event loop is blocked for seconds by a training
 * step or a merge evaluation on a busy machine (a browser tab compiling WebGL shaders
 * blocks for longer), so healthy connections were cut: the browser e2e test lost its
 * daemon 10 s in. Dead connections still end (transport close, ICE consent), and a
 * ping failure is only judged after this much silence.
 */
export const CONNECTION_MONITOR = {
  pingInterval: 10_000,
  pingTimeout: { minTimeout: 45_000, maxTimeout: 120_000 },
} as const;
