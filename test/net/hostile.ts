/**
 * A hostile libp2p peer for tests: no gossipsub of its own, it writes raw gossipsub RPCs
 * (validly signed, badly signed, garbage, oversized), serves announced payloads with
 * whatever bytes it likes, and speaks the request/response protocols with hand-made
 * frames (oversized length prefixes, malformed varints, slow streams, floods).
 */
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys';
import { RPC } from '@libp2p/gossipsub/message';
import { identify } from '@libp2p/identify';
import type { Libp2p, PeerId, PrivateKey, Stream } from '@libp2p/interface';
import { memory } from '@libp2p/memory';
import { noise } from '@libp2p/noise';
import { tcp } from '@libp2p/tcp';
import { lpStream } from '@libp2p/utils';
import { yamux } from '@libp2p/yamux';
import type { Multiaddr } from '@multiformats/multiaddr';
import { encode as lpEncode } from 'it-length-prefixed';
import { createLibp2p } from 'libp2p';

const SIGN_PREFIX = new TextEncoder().encode('libp2p-pubsub:');
/** Gossipsub protocol ids the target speaks, newest first. */
const MESHSUB = ['/meshsub/1.2.0', '/meshsub/1.1.0'];

export type Transport = 'tcp' | 'memory';

export class HostilePeer {
  readonly node: Libp2p;
  readonly key: PrivateKey;
  #seqno = 1n;
  #rpc: Stream | undefined;

  private constructor(node: Libp2p, key: PrivateKey) {
    this.node = node;
    this.key = key;
  }

  static async create(transport: Transport = 'tcp'): Promise<HostilePeer> {
    const key = await generateKeyPair('Ed25519');
    const node = await createLibp2p({
      privateKey: key,
      addresses: {
        listen: [
          transport === 'tcp' ? '/ip4/127.0.0.1/tcp/0' : `/memory/hostile-${Math.random().toString(36).slice(2)}`,
        ],
      },
      transports: [transport === 'tcp' ? tcp() : memory()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionManager: { inboundConnectionThreshold: 10_000 },
      services: { identify: identify() },
    });
    return new HostilePeer(node, key);
  }

  get id(): string {
    return this.node.peerId.toString();
  }

  async connect(target: Multiaddr | Multiaddr[]): Promise<void> {
    await this.node.dial(target);
  }

  /** A gossipsub message signed by this peer (StrictSign), or with a bad signature. */
  async message(topic: string, data: Uint8Array, options: { badSignature?: boolean } = {}): Promise<RPC.Message> {
    const seqno = new Uint8Array(8);
    new DataView(seqno.buffer).setBigUint64(0, this.#seqno++, false);
    const unsigned: RPC.Message = { from: this.node.peerId.toMultihash().bytes, data, seqno, topic };
    const bytes = new Uint8Array([...SIGN_PREFIX, ...RPC.Message.encode(unsigned)]);
    const signature = await this.key.sign(bytes);
    if (options.badSignature === true) signature[0] = signature[0] ^ 0xff;
    return { ...unsigned, signature, key: publicKeyToProtobuf(this.key.publicKey) };
  }

  /** The protobuf bytes of an RPC carrying `messages` (and optionally a subscription). */
  static rpc(messages: RPC.Message[], subscribe?: string): Uint8Array {
    return RPC.encode({
      subscriptions: subscribe === undefined ? [] : [{ subscribe: true, topic: subscribe }],
      messages,
    });
  }

  /** Writes raw frames to `target`'s gossipsub on one long-lived inbound stream. */
  async sendRpcFrames(target: PeerId, frames: Uint8Array[], options: { raw?: boolean } = {}): Promise<void> {
    if (this.#rpc === undefined || this.#rpc.status !== 'open') {
      this.#rpc = await this.node.dialProtocol(target, MESHSUB);
    }
    for (const frame of frames) {
      const out = options.raw === true ? frame : concat([...lpEncode([frame])]);
      if (!this.#rpc.send(out)) await this.#rpc.onDrain();
    }
  }

  /** Publishes `data` on `topic` to `target` as a signed message. */
  async publish(target: PeerId, topic: string, data: Uint8Array): Promise<void> {
    await this.sendRpcFrames(target, [HostilePeer.rpc([await this.message(topic, data)])]);
  }

  /** Closes the raw gossipsub stream (the next send opens another). */
  async closeRpc(): Promise<void> {
    await this.#rpc?.close().catch(() => this.#rpc?.abort(new Error('closed')));
    this.#rpc = undefined;
  }

  /**
   * Serves `/meshfl/1/payload` with `serve(requestedHash)` (junk, a slow trickle, nothing);
   * the meshfl exchange framing is written by hand: varint 1, status 0, varint len, body.
   */
  async servePayloads(serve: (hash: Uint8Array, stream: Stream) => Promise<Uint8Array | undefined>): Promise<void> {
    await this.node.handle(
      '/meshfl/1/payload',
      async (stream) => {
        try {
          const lp = lpStream(stream, { maxDataLength: 64, maxBufferSize: 128 });
          const hash = (await lp.read()).subarray();
          const body = await serve(hash, stream);
          if (body === undefined) {
            stream.abort(new Error('not serving'));
            return;
          }
          await lp.writeV([Uint8Array.of(0), body]);
          await stream.close();
        } catch (err) {
          stream.abort(err instanceof Error ? err : new Error(String(err)));
        }
      },
      { maxInboundStreams: 1024, force: true },
    );
  }

  /** Opens a request/response stream and writes raw bytes; returns the stream for reading. */
  async rawRequest(target: PeerId, protocol: string, bytes: Uint8Array): Promise<Stream> {
    const stream = await this.node.dialProtocol(target, protocol);
    if (bytes.byteLength > 0 && !stream.send(bytes)) await stream.onDrain();
    return stream;
  }

  /** Everything `stream` sends until it closes or `timeoutMs` passes, and how it ended. */
  static async readAll(
    stream: Stream,
    timeoutMs: number,
  ): Promise<{ bytes: Uint8Array; ended: 'closed' | 'reset' | 'timeout' }> {
    const chunks: Uint8Array[] = [];
    const state: { ended: 'closed' | 'reset' | 'timeout' } = { ended: 'closed' };
    const timer = setTimeout(() => {
      state.ended = 'timeout';
      stream.abort(new Error('test timeout'));
    }, timeoutMs);
    try {
      for await (const chunk of stream) chunks.push(chunk.subarray());
    } catch {
      if (state.ended !== 'timeout') state.ended = 'reset';
    } finally {
      clearTimeout(timer);
      // Our side too: a half-open stream counts against the remote's inbound stream limit.
      await stream.close().catch(() => stream.abort(new Error('closing')));
    }
    return { bytes: concat(chunks), ended: state.ended };
  }

  async stop(): Promise<void> {
    await this.node.stop();
  }
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Unsigned LEB128 varint. */
export function varint(n: number): Uint8Array {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}

/** The meshfl exchange response parsed from raw bytes: status byte and body, if complete. */
export function parseResponse(bytes: Uint8Array): { status: number; body: Uint8Array } | undefined {
  const read = (at: number): [number, number] | undefined => {
    let value = 0;
    let scale = 1;
    for (let i = at; i < bytes.length && i < at + 5; i++) {
      const b = bytes[i];
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return [value, i + 1];
      scale *= 0x80;
    }
    return undefined;
  };
  const first = read(0);
  if (first === undefined || first[0] !== 1) return undefined;
  const status = bytes[first[1]];
  const second = read(first[1] + 1);
  if (status === undefined || second === undefined) return undefined;
  return { status, body: bytes.subarray(second[1], second[1] + second[0]) };
}
