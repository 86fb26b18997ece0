// Reading an HTTP publish body: bounded however it arrives, sized as the MQTT PUBLISH it becomes.
import { describe, expect, it } from 'vitest';
import { HTTPException } from 'hono/http-exception';
import { publishBodyLimit, publishPacketSize } from '../../../worker/api/http-publish.js';
import { readJsonBody } from '../../../worker/api/json-body.js';
import { MAXIMUM_STORABLE_PACKET, brokerConfig } from '../../../durable-objects/config.js';
import type { Env } from '../../../durable-objects/env.js';

const MiB = 1024 * 1024;

/** A body of `chunks` chunks of 64 KiB, counting how many the reader pulled. */
function countedStream(chunks: number): { body: ReadableStream<Uint8Array>; pulled: () => number } {
  let pulled = 0;
  const chunk = new Uint8Array(64 * 1024).fill(0x78);
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled++ < chunks) controller.enqueue(chunk);
      else controller.close();
    },
  });
  return { body, pulled: () => pulled };
}

async function statusOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return 200;
  } catch (error) {
    if (error instanceof HTTPException) return error.status;
    throw error;
  }
}

describe('readJsonBody', () => {
  it('stops reading a body without Content-Length once it passes the limit (413)', async () => {
    const { body, pulled } = countedStream(640); // 40 MiB
    const request = new Request('http://x/', { method: 'POST', body, duplex: 'half' } as RequestInit);
    expect(request.headers.get('Content-Length')).toBeNull();
    expect(await statusOf(readJsonBody(request, MiB))).toBe(413);
    expect(pulled()).toBeLessThanOrEqual(20);
  });

  it('refuses a declared Content-Length past the limit without reading (413)', async () => {
    const { body, pulled } = countedStream(640);
    const request = new Request('http://x/', { method: 'POST', body, duplex: 'half', headers: { 'Content-Length': String(40 * MiB) } } as RequestInit);
    expect(await statusOf(readJsonBody(request, MiB))).toBe(413);
    expect(pulled()).toBeLessThanOrEqual(1);
  });

  it('parses a body within the limit, and answers 400 for one that is not JSON', async () => {
    expect(await readJsonBody(new Request('http://x/', { method: 'POST', body: '{"topic":"a"}' }), 13)).toEqual({ topic: 'a' });
    expect(await statusOf(readJsonBody(new Request('http://x/', { method: 'POST', body: '{"topic":"a"}' }), 12))).toBe(413);
    expect(await statusOf(readJsonBody(new Request('http://x/', { method: 'POST', body: '{"topic":' }), 100))).toBe(400);
  });
});

describe('publish size limits', () => {
  it('the packet limit is MAX_PACKET_SIZE, below what a Durable Object row holds', () => {
    const packetLimit = (maxPacketSize: number) => brokerConfig({ MAX_PACKET_SIZE: String(maxPacketSize) } as Env).maximumPacketSize;
    expect(packetLimit(MiB)).toBe(MiB);
    expect(packetLimit(32 * MiB)).toBe(MAXIMUM_STORABLE_PACKET);
    expect(MAXIMUM_STORABLE_PACKET).toBeLessThan(2_000_000);
  });

  it('the body limit holds a base64 payload of a whole packet and a 65,535-byte topic escaped', () => {
    const payload = Buffer.alloc(MiB).toString('base64');
    const topic = '\u001f'.repeat(65_535);
    const body = JSON.stringify({ topic, payload, encoding: 'base64', qos: 1, retain: true });
    expect(body.length).toBeLessThanOrEqual(publishBodyLimit(MiB));
  });

  it('a PUBLISH counts its fixed header, topic, packet id and payload', () => {
    // 0x30, remaining length 7 (1 byte), topic length 2 bytes + 'a/b', payload 'xx'
    expect(publishPacketSize('a/b', 2, 0)).toBe(1 + 1 + 2 + 3 + 2);
    expect(publishPacketSize('a/b', 2, 1)).toBe(1 + 1 + 2 + 3 + 2 + 2);
    // remaining length 128 takes two bytes
    expect(publishPacketSize('é', 128 - 4, 0)).toBe(1 + 2 + 128);
  });
});
