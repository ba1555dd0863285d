/**
 * Typed errors of the network layer. Callers switch on `code` (a closed union), never on
 * message text.
 */

/** Why a `fetch` (request/response exchange) failed. */
export type FetchErrorCode =
  /** The exchange did not finish within its timeout. */
  | 'timeout'
  /** The caller's signal aborted it. */
  | 'aborted'
  /** The request or the response exceeded its size limit. */
  | 'too-large'
  /** The remote responder threw; `message` carries its text. */
  | 'remote-error'
  /** No connection or stream could be opened to the peer, or it does not speak the protocol. */
  | 'unreachable'
  /** The remote sent something that is not a valid frame. */
  | 'protocol'
  /** This node is stopped. */
  | 'stopped';

export class FetchError extends Error {
  override name = 'FetchError';
  readonly code: FetchErrorCode;
  readonly peer: string;
  readonly protocol: string;

  constructor(code: FetchErrorCode, peer: string, protocol: string, detail: string, options?: { cause?: unknown }) {
    super(`${protocol} to ${peer}: ${code}: ${detail}`, options);
    this.code = code;
    this.peer = peer;
    this.protocol = protocol;
  }
}

/** Why a `publish` failed. Publishing with no peers is not an error: it reports 0 recipients. */
export type PublishErrorCode = 'too-large' | 'stopped';

export class PublishError extends Error {
  override name = 'PublishError';
  readonly code: PublishErrorCode;
  readonly topic: string;

  constructor(code: PublishErrorCode, topic: string, detail: string) {
    super(`publish on ${topic}: ${code}: ${detail}`);
    this.code = code;
    this.topic = topic;
  }
}

/** A frame of this layer's own gossip header could not be parsed. */
export class FrameError extends Error {
  override name = 'FrameError';
}

/** A helper such as `waitForMesh` gave up waiting. */
export class WaitTimeoutError extends Error {
  override name = 'WaitTimeoutError';
}
