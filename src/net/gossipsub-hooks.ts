/**
 * Counting what gossipsub drops before any topic validator runs, so that every rejected
 * message is visible (issue 14: 2,032 malformed messages from a rogue peer showed as 0):
 *
 * - an RPC frame longer than `maxInboundDataLength`, or that does not decode as protobuf:
 *   gossipsub logs it at debug level and moves on;
 * - every message of an RPC from a graylisted peer (score below the graylist threshold):
 *   dropped whole, silently;
 * - a message whose signature, seqno or author fields are invalid.
 *
 * `@libp2p/gossipsub` 17 exposes none of this except through its Prometheus metrics
 * (without the peer), so these hooks wrap four of its methods on the instance:
 * `pipePeerReadStream` (to learn which peer each inbound frame came from),
 * `decodeRpc`, `acceptFrom` + `handleReceivedRpc`, and `validateReceivedMessage`. Each is
 * checked to exist first; on a gossipsub version without them nothing is installed and
 * `install` returns false (tests catch that). Behaviour is unchanged: every wrapper calls
 * the original with the same arguments and returns its result.
 */
import type { GossipSub } from '@libp2p/gossipsub';

export type MessageRejectReason =
  | 'rpc-too-large'
  | 'bad-rpc-frame'
  | 'undecodable-rpc'
  | 'graylisted'
  | `invalid-${string}`;

export type OnMessageReject = (reason: MessageRejectReason, peer: string, count: number) => void;

interface RpcLike {
  readonly messages?: readonly unknown[];
}

interface ValidationLike {
  readonly code?: string;
  readonly reason?: string;
  readonly error?: string;
}

/** The gossipsub internals wrapped here (present in @libp2p/gossipsub 17). */
interface Internals {
  pipePeerReadStream(peerId: { toString(): string }, source: AsyncIterable<{ subarray(): Uint8Array }>): Promise<void>;
  decodeRpc(bytes: Uint8Array): RpcLike;
  acceptFrom(id: string): boolean;
  handleReceivedRpc(from: { toString(): string }, rpc: RpcLike): Promise<void>;
  validateReceivedMessage(from: { toString(): string }, rpcMsg: unknown): Promise<ValidationLike>;
}

const HOOKED = [
  'pipePeerReadStream',
  'decodeRpc',
  'acceptFrom',
  'handleReceivedRpc',
  'validateReceivedMessage',
] as const;

/** gossipsub's RejectReason.Error: the message itself is malformed (not a topic validator's verdict). */
const REJECT_ERROR = 'error';

/** Where each hooked gossipsub reports; a second install on the same instance only replaces the sink. */
const sinks = new WeakMap<GossipSub, { onReject: OnMessageReject }>();

/**
 * Installs the hooks; returns false (and changes nothing) if this gossipsub lacks the
 * methods. Installing again on the same instance replaces `onReject`.
 */
export function installMessageRejectHooks(pubsub: GossipSub, onReject: OnMessageReject): boolean {
  const existing = sinks.get(pubsub);
  if (existing !== undefined) {
    existing.onReject = onReject;
    return true;
  }
  const ps = pubsub as unknown as Internals;
  if (!HOOKED.every((m) => typeof ps[m] === 'function')) return false;
  const sink = { onReject };
  sinks.set(pubsub, sink);
  const report: OnMessageReject = (reason, peer, count) => sink.onReject(reason, peer, count);
  const pipe = ps.pipePeerReadStream.bind(ps);
  const decode = ps.decodeRpc.bind(ps);
  const accept = ps.acceptFrom.bind(ps);
  const handle = ps.handleReceivedRpc.bind(ps);
  const validate = ps.validateReceivedMessage.bind(ps);
  /** Inbound frame bytes -> the peer that sent them (set just before gossipsub decodes them). */
  const senders = new WeakMap<Uint8Array, string>();
  let refused: string | undefined;

  ps.pipePeerReadStream = (peerId, source) => {
    const peer = peerId.toString();
    async function* tagged(): AsyncGenerator<{ subarray(): Uint8Array }> {
      try {
        for await (const chunk of source) {
          const bytes = chunk.subarray();
          senders.set(bytes, peer);
          yield { subarray: () => bytes };
        }
      } catch (err) {
        // it-length-prefixed refuses a frame over maxInboundDataLength; gossipsub then drops the stream.
        const name = err instanceof Error ? err.name : '';
        if (name === 'InvalidDataLengthError') report('rpc-too-large', peer, 1);
        else if (name === 'InvalidDataLengthLengthError' || name === 'InvalidMessageLengthError') {
          report('bad-rpc-frame', peer, 1);
        }
        throw err;
      }
    }
    return pipe(peerId, tagged());
  };
  ps.decodeRpc = (bytes) => {
    try {
      return decode(bytes);
    } catch (err) {
      report('undecodable-rpc', senders.get(bytes) ?? 'unknown', 1);
      throw err;
    }
  };
  // acceptFrom is called once per RPC, synchronously at the start of handleReceivedRpc.
  ps.acceptFrom = (id) => {
    const ok = accept(id);
    refused = ok ? undefined : id;
    return ok;
  };
  ps.handleReceivedRpc = (from, rpc) => {
    refused = undefined;
    const done = handle(from, rpc);
    const id = from.toString();
    if (refused === id) {
      const n = rpc.messages?.length ?? 0;
      if (n > 0) report('graylisted', id, n);
    }
    refused = undefined;
    return done;
  };
  ps.validateReceivedMessage = async (from, rpcMsg) => {
    const result = await validate(from, rpcMsg);
    if (result.code === 'invalid' && result.reason === REJECT_ERROR) {
      report(`invalid-${String(result.error ?? 'message').replaceAll('_', '-')}`, from.toString(), 1);
    }
    return result;
  };
  return true;
}
