// PacketFramer: a byte stream in, whole packets out, however the stream is cut into chunks.
import { describe, expect, it } from 'vitest';
import { PacketFramer, decodePacket } from '../../../core/codec/index.js';
import { MqttError } from '../../../core/errors.js';
import { ReasonCode } from '../../../core/reason-codes.js';
import { fixturesV4, fixturesV5, thrown } from './fixtures.js';

const allFixtures = [...fixturesV4, ...fixturesV5];
const stream = allFixtures.flatMap((f) => f.bytes);

function framesOf(framer: PacketFramer, chunks: number[][]): number[][] {
  return chunks.flatMap((chunk) => framer.push(Uint8Array.from(chunk)).map((p) => Array.from(p)));
}

describe('PacketFramer', () => {
  it('[MQTT-6.0.0-2] splits one chunk holding several packets', () => {
    const framer = new PacketFramer(1 << 20);
    expect(framesOf(framer, [stream])).toStrictEqual(allFixtures.map((f) => f.bytes));
    expect(framer.buffered).toBe(0);
  });

  it('[MQTT-6.0.0-2] reassembles packets fed one byte at a time', () => {
    const framer = new PacketFramer(1 << 20);
    expect(framesOf(framer, stream.map((b) => [b]))).toStrictEqual(allFixtures.map((f) => f.bytes));
    expect(framer.buffered).toBe(0);
  });

  it('[MQTT-6.0.0-2] reassembles the stream cut at every chunk size from 1 to 64', () => {
    for (let size = 1; size <= 64; size++) {
      const chunks: number[][] = [];
      for (let i = 0; i < stream.length; i += size) chunks.push(stream.slice(i, i + size));
      const framer = new PacketFramer(1 << 20);
      expect(framesOf(framer, chunks)).toStrictEqual(allFixtures.map((f) => f.bytes));
    }
  });

  it('[MQTT-6.0.0-2] waits for a Remaining Length split across chunks', () => {
    const framer = new PacketFramer(1 << 20);
    const publish = fixturesV5.find((f) => f.bytes[1] === 0xcc)!.bytes; // two-byte Remaining Length
    expect(framer.push(Uint8Array.from(publish.slice(0, 2)))).toStrictEqual([]);
    expect(framer.buffered).toBe(2);
    expect(framer.push(Uint8Array.from(publish.slice(2, 10)))).toStrictEqual([]);
    expect(framer.buffered).toBe(10);
    const frames = framer.push(Uint8Array.from([...publish.slice(10), 0xc0, 0x00]));
    expect(frames.map((p) => Array.from(p))).toStrictEqual([publish, [0xc0, 0x00]]);
    expect(framer.buffered).toBe(0);
  });

  it('(3.1.1 §2.2.3) hands out a packet wholly inside a chunk as a view of that chunk', () => {
    const chunk = Uint8Array.from([0xc0, 0x00, 0xd0, 0x00]);
    const frames = new PacketFramer(100).push(chunk);
    expect(frames).toHaveLength(2);
    expect(frames[1]!.buffer).toBe(chunk.buffer);
    expect(frames[1]!.byteOffset).toBe(2);
  });

  it('(3.1.1 §2.2.3) an empty chunk yields nothing', () => {
    expect(new PacketFramer(100).push(new Uint8Array(0))).toStrictEqual([]);
  });

  it('[MQTT-6.0.0-2] frames are whole packets for decodePacket', () => {
    const framer = new PacketFramer(1 << 20);
    const packets = framer.push(Uint8Array.from(fixturesV5.flatMap((f) => f.bytes))).map((p) => decodePacket(p, 5));
    expect(packets).toStrictEqual(fixturesV5.map((f) => f.packet));
  });

  it('[MQTT-3.2.2-15 v5] rejects a too-large packet as soon as its length is known, before buffering it', () => {
    const framer = new PacketFramer(1000);
    // PUBLISH with Remaining Length 2,097,151: only the fixed header is pushed.
    const error = thrown(() => framer.push(Uint8Array.from([0x30, 0xff, 0xff, 0x7f])));
    expect(error).toBeInstanceOf(MqttError);
    expect((error as MqttError).reasonCode).toBe(ReasonCode.PacketTooLarge);
  });

  it('[MQTT-3.2.2-15 v5] rejects a too-large packet whose header arrives a byte at a time', () => {
    const framer = new PacketFramer(100);
    expect(framer.push(Uint8Array.from([0x30]))).toStrictEqual([]);
    const error = thrown(() => framer.push(Uint8Array.from([0x80, 0x01]))); // 128: 131 bytes in all
    expect((error as MqttError).reasonCode).toBe(ReasonCode.PacketTooLarge);
  });

  it('[MQTT-3.2.2-15 v5] accepts a packet of exactly the maximum size', () => {
    const framer = new PacketFramer(6);
    expect(framer.push(Uint8Array.from([0x30, 4, 0, 1, 0x74, 0x00])).map((p) => p.length)).toStrictEqual([6]);
    expect(thrown(() => new PacketFramer(5).push(Uint8Array.from([0x30, 4])))).toBeInstanceOf(MqttError);
  });

  it('(3.1.1 §2.2.3) a Remaining Length longer than four bytes is malformed', () => {
    const error = thrown(() => new PacketFramer(1 << 30).push(Uint8Array.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])));
    expect((error as MqttError).reasonCode).toBe(ReasonCode.MalformedPacket);
  });

  it('(3.1.1 §2.2.3) a Remaining Length longer than four bytes is malformed across chunks', () => {
    const framer = new PacketFramer(1 << 30);
    expect(framer.push(Uint8Array.from([0x30, 0xff, 0xff]))).toStrictEqual([]);
    const error = thrown(() => framer.push(Uint8Array.from([0xff, 0xff])));
    expect((error as MqttError).reasonCode).toBe(ReasonCode.MalformedPacket);
  });
});

describe('PacketFramer memory', () => {
  it('[MQTT-4.8.0-1] a header announcing 1 MiB holds only the bytes that arrived, not the announced size', () => {
    // 300 connections each send the first 4 bytes of a 1 MiB packet and stop (a cheap pre-CONNECT attack).
    const header = Uint8Array.from([0x10, 0xfa, 0xff, 0x3f]); // CONNECT, Remaining Length 1,048,570
    const before = process.memoryUsage().arrayBuffers;
    const framers = Array.from({ length: 300 }, () => new PacketFramer(1 << 20));
    for (const framer of framers) expect(framer.push(header)).toStrictEqual([]);
    const held = process.memoryUsage().arrayBuffers - before;
    expect(framers.every((framer) => framer.buffered === 4)).toBe(true);
    // Reserving the announced size would hold 300 MiB here.
    expect(held).toBeLessThan(16 * 1024 * 1024);
  });

  it('a packet assembled from many pieces comes out whole and in order', () => {
    const payload = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    const packet = Uint8Array.from([0x30, 0xac, 0x02, 0x00, 0x01, 0x74, ...payload.subarray(0, 297)]); // Remaining Length 300
    const framer = new PacketFramer(1 << 20);
    const out: Uint8Array[] = [];
    for (let i = 0; i < packet.length; i += 7) out.push(...framer.push(packet.slice(i, i + 7)));
    expect(out).toHaveLength(1);
    expect([...out[0]!]).toEqual([...packet]);
    expect(framer.buffered).toBe(0);
  });
});
