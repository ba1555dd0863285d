/**
 * Limits the wire format (src/wire) and the transports (src/net) share, defined once here.
 * A leaf module that imports nothing, so both layers use it without depending on each other.
 */

/**
 * Largest whole message meshfl sends or accepts (64 MiB): an update message, a payload
 * published or fetched, a request/response body (snapshots carry keyframes). It is about
 * memory safety, not gossipsub's 4 MiB cap (payloads that large travel by announce + fetch);
 * 64 MiB admits a 16M-parameter fp32 keyframe. Each use is configurable per call or instance.
 */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
