// Reassembles a byte stream into whole packets, reading only each fixed header's type byte and Remaining Length.
//
//   chunk 1: [30 0a 00 04 74 65 73 74 74 65 73 74][c0 00][30 0a 00]   -> PUBLISH, PINGREQ; 3 bytes kept
//   chunk 2: [04 74 65 73 74 74 65 73 74]                           -> PUBLISH (assembled from both chunks)
//
// A packet that lies wholly inside a chunk comes back as a view into that chunk, without copying. A packet
// spanning chunks is kept as the pieces that arrived and joined once it is complete: memory follows the bytes
// received, never the size a header announces (a 4-byte header must not reserve a megabyte before CONNECT).
import { MqttError } from '../errors.js';
import { ReasonCode } from '../reason-codes.js';
import { concatBytes } from './bytes.js';
import { decodeVarint, varintLength } from './varint.js';

/** Type byte plus at most four Remaining Length bytes. */
const MAX_FIXED_HEADER = 5;

export class PacketFramer {
  /** The start of a fixed header that ended a chunk, before its Remaining Length is complete. */
  private readonly header = new Uint8Array(MAX_FIXED_HEADER);
  private headerLength = 0;
  /** The packet being assembled across chunks: its announced size (0: none), the pieces so far, their bytes. */
  private expected = 0;
  private pieces: Uint8Array[] = [];
  private filled = 0;

  /** `maximumPacketSize` bounds a whole packet, fixed header included (5.0 section 3.1.2.11.4). */
  constructor(private readonly maximumPacketSize: number) {}

  /** Bytes held while waiting for the rest of a packet. */
  get buffered(): number {
    return this.headerLength + this.filled;
  }

  /**
   * Feeds the next chunk of the stream; returns the packets it completes, in order. Each is one whole packet
   * for decodePacket. Throws MqttError(MalformedPacket) for a Remaining Length over four bytes and
   * MqttError(PacketTooLarge) as soon as a packet's length exceeds the maximum; the stream is then unusable.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    const packets: Uint8Array[] = [];
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.expected > 0) {
        // Continue the packet in progress (the chunk is the caller's: keep a copy of the part we hold on to).
        const take = Math.min(this.expected - this.filled, n - i);
        this.pieces.push(chunk.slice(i, i + take));
        this.filled += take;
        i += take;
        if (this.filled === this.expected) packets.push(this.finishPacket());
      } else if (this.headerLength > 0) {
        // Continue a fixed header split across chunks, a byte at a time: it is at most five bytes.
        this.header[this.headerLength++] = chunk[i++]!;
        const size = this.packetSize(this.header, 0, this.headerLength);
        if (size < 0) continue;
        this.startPacket(size, this.header.slice(0, this.headerLength));
        this.headerLength = 0;
        if (this.filled === size) packets.push(this.finishPacket());
      } else {
        // At a packet boundary inside the chunk.
        const size = this.packetSize(chunk, i, n);
        if (size < 0) {
          this.header.set(chunk.subarray(i, n));
          this.headerLength = n - i;
          break;
        }
        if (i + size <= n) {
          packets.push(chunk.subarray(i, i + size));
          i += size;
        } else {
          this.startPacket(size, chunk.slice(i, n));
          break;
        }
      }
    }
    return packets;
  }

  private startPacket(size: number, first: Uint8Array): void {
    this.expected = size;
    this.pieces = [first];
    this.filled = first.length;
  }

  private finishPacket(): Uint8Array {
    const packet = this.pieces.length === 1 ? this.pieces[0]! : concatBytes(this.pieces);
    this.expected = 0;
    this.pieces = [];
    this.filled = 0;
    return packet;
  }

  /** Total size of the packet whose fixed header starts at bytes[offset], or -1 if its length is incomplete. */
  private packetSize(bytes: Uint8Array, offset: number, end: number): number {
    if (end - offset < 2) return -1;
    const remainingLength = decodeVarint(bytes, offset + 1, end); // throws past four bytes
    if (remainingLength < 0) return -1;
    const size = 1 + varintLength(remainingLength) + remainingLength;
    if (size > this.maximumPacketSize) {
      throw new MqttError(
        ReasonCode.PacketTooLarge,
        `packet of ${size} bytes exceeds the maximum packet size ${this.maximumPacketSize}`,
      ); // [MQTT-3.2.2-15 v5]: the Server answers DISCONNECT 0x95
    }
    return size;
  }
}
