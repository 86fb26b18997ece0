// @ts-check
// Holds a connection's bytes until its first packet (the CONNECT) is whole, optionally rewrites it, then
// lets everything through unchanged. Its verdict on the first packet also ends the CONNECT timeout.
//
//   'awaitingConnect' ──first packet whole──▶ 'passthrough'
//        │ (more than maxBytes held, or a malformed header)
//        ▼
//     refused: the connection closes
import { packetLength } from './packet-frame.js';

/**
 * @typedef {{ kind: 'hold' }
 *   | { kind: 'forward', bytes: Uint8Array, firstPacket: boolean }
 *   | { kind: 'refuse', reason: 'malformed-connect' | 'connect-too-large', detail: string }} GateVerdict
 */

/** @typedef {(packet: Uint8Array) => ({ ok: true, packet: Uint8Array } | { ok: false, reason: string })} FirstPacketRewrite */

/** @type {GateVerdict} */
const HOLD = { kind: 'hold' };

export class FirstPacketGate {
  /** @type {'awaitingConnect' | 'passthrough'} */
  state = 'awaitingConnect';
  /** @type {Uint8Array} bytes held while awaiting the CONNECT (at most maxBytes) */
  held = new Uint8Array(0);

  /**
   * @param {{ maxBytes: number, rewrite?: FirstPacketRewrite }} options maxBytes bounds the first packet
   */
  constructor(options) {
    this.maxBytes = options.maxBytes;
    this.rewrite = options.rewrite;
  }

  /**
   * @param {Uint8Array} chunk bytes from the client, in order
   * @returns {GateVerdict}
   */
  push(chunk) {
    if (this.state === 'passthrough') return { kind: 'forward', bytes: chunk, firstPacket: false };
    this.held = this.held.length === 0 ? chunk : concat(this.held, chunk);
    const frame = packetLength(this.held);
    if (frame.kind === 'malformed') return { kind: 'refuse', reason: 'malformed-connect', detail: 'malformed remaining length' };
    if (frame.kind === 'length' && frame.length > this.maxBytes) {
      return { kind: 'refuse', reason: 'connect-too-large', detail: `first packet of ${frame.length} bytes` };
    }
    if (frame.kind === 'incomplete' || this.held.length < frame.length) return HOLD;

    const held = this.held;
    this.held = new Uint8Array(0);
    this.state = 'passthrough';
    if (!this.rewrite) return { kind: 'forward', bytes: held, firstPacket: true };
    const rest = held.subarray(frame.length);
    const rewritten = this.rewrite(held.subarray(0, frame.length));
    if (!rewritten.ok) return { kind: 'refuse', reason: 'malformed-connect', detail: rewritten.reason };
    return { kind: 'forward', bytes: rest.length === 0 ? rewritten.packet : concat(rewritten.packet, rest), firstPacket: true };
  }
}

/** @param {Uint8Array} a @param {Uint8Array} b */
function concat(a, b) {
  if (b.length === 0) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
