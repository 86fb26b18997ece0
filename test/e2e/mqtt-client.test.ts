// The dashboard's own MQTT 3.1.1 client (dashboard/mqtt-client.js), in Node: its framing and codec on fixed
// bytes, then a real session against the broker (with the `ws` package standing in for the browser's WebSocket).
import { pathToFileURL } from 'node:url';
import { VARINT_BOUNDARIES } from '../core/codec/fixtures.js';
import { resolve } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../integration/broker.js';
import { connectClient, end, publish, recorder, subscribe } from '../integration/clients.js';

// A browser module without type declarations: load it by URL (typed loosely on purpose).
const modulePath = pathToFileURL(resolve(import.meta.dirname, '../../dashboard/mqtt-client.js')).href;
const { Framer, MqttClient, decodePacket, encode, encodeLength } = await import(modulePath);

const ADMIN = 'client-admin';

describe('codec and framing', () => {
  it('[MQTT-1.5.5] Remaining Length uses 1 to 4 bytes at the spec boundaries', () => {
    const cases = VARINT_BOUNDARIES;
    for (const [length, bytes] of cases) expect(encodeLength(length)).toEqual(bytes);
    expect(() => encodeLength(268_435_456)).toThrow(RangeError);
  });

  it('[MQTT-3.1.2-1] CONNECT carries "MQTT", level 4, clean session, keepalive, client id and username only', () => {
    const bytes: Uint8Array = encode.connect({ clientId: 'c', username: 'u', keepalive: 30, clean: true });
    expect(Array.from(bytes)).toEqual([
      0x10, 16, //                         CONNECT, remaining length
      0, 4, 0x4d, 0x51, 0x54, 0x54, //     "MQTT"
      4, //                                protocol level 4 (3.1.1)
      0x82, //                             username + clean session, no password
      0, 30, //                            keepalive
      0, 1, 0x63, //                       client id "c"
      0, 1, 0x75, //                       username "u"
    ]);
  });

  it('[MQTT-3.8.1-1] SUBSCRIBE has flags 0010; PUBLISH QoS 1 carries its packet id', () => {
    expect(Array.from(encode.subscribe(7, [{ filter: 'a/#', qos: 1 }]) as Uint8Array)).toEqual([0x82, 8, 0, 7, 0, 3, 0x61, 0x2f, 0x23, 1]);
    const publishBytes: Uint8Array = encode.publish({ topic: 't', payload: Uint8Array.of(0x68, 0x69), qos: 1, retain: true, dup: false, packetId: 258 });
    expect(Array.from(publishBytes)).toEqual([0x33, 7, 0, 1, 0x74, 1, 2, 0x68, 0x69]);
  });

  it('[MQTT-6.0.0-2] the framer reassembles packets split across frames and splits frames holding several', () => {
    const publishBytes: Uint8Array = encode.publish({ topic: 'a/b', payload: new Uint8Array(300).fill(0x41), qos: 1, retain: false, dup: false, packetId: 9 });
    const suback = Uint8Array.of(0x90, 3, 0, 5, 1);
    const framer = new Framer();
    const stream = new Uint8Array([...publishBytes, ...suback, 0xd0, 0x00]);
    const seen: Array<{ type: number }> = [];
    // The PUBLISH one byte at a time: nothing until its last byte, which comes with the next two packets.
    for (let i = 0; i < publishBytes.length - 1; i++) seen.push(...framer.push(stream.subarray(i, i + 1)).map(decodePacket));
    expect(seen).toEqual([]);
    seen.push(...framer.push(stream.subarray(publishBytes.length - 1)).map(decodePacket));
    expect(seen.map((p) => p.type)).toEqual([3, 9, 13]);
    expect(seen[0]).toMatchObject({ topic: 'a/b', qos: 1, packetId: 9, retain: false });
    expect((seen[0] as unknown as { payload: Uint8Array }).payload.length).toBe(300);
    expect(seen[1]).toMatchObject({ packetId: 5, codes: [1] });
  });
});

describe('against the broker', () => {
  let broker: RunningBroker;
  let master: string;

  beforeAll(async () => {
    broker = await startBroker({ vars: { ADMIN_TOKEN: ADMIN, ALLOW_ANONYMOUS: 'false' } });
    const response = await fetch(`${broker.httpUrl}/api/v1/tenants`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'board' }),
    });
    master = ((await response.json()) as { masterToken: string }).masterToken;
  });
  afterAll(async () => {
    await broker?.stop();
  });

  function board(clientId: string, username = master) {
    return new MqttClient({ url: broker.mqttUrl, clientId, username, keepalive: 10, WebSocket });
  }

  it('[MQTT-3.2.2-3] connects, subscribes, publishes QoS 0 and 1 both ways with mqtt.js, disconnects', async () => {
    const client = board('node-board');
    const messages: Array<{ topic: string; payload: string; qos: number }> = [];
    client.addEventListener('message', (event: CustomEvent) => {
      messages.push({ topic: event.detail.topic, payload: new TextDecoder().decode(event.detail.payload), qos: event.detail.qos });
    });
    expect(await client.connect()).toEqual({ sessionPresent: false });
    expect(await client.subscribe('in/#', 1)).toBe(1);

    const peer = await connectClient(broker.mqttUrl, { clientId: 'peer', username: master });
    const got = recorder(peer);
    await subscribe(peer, 'out/#', 1);
    await publish(peer, 'in/a', 'one', { qos: 1 });
    await publish(peer, 'in/b', 'two', { qos: 0 });
    await client.publish('out/x', 'three', { qos: 1 }); // resolves on PUBACK
    await client.publish('out/y', new Uint8Array(70_000).fill(0x7a), { qos: 0 }); // a 3-byte remaining length
    await got.waitFor(2);
    expect(got.messages.map((m) => [m.topic, m.payload.length])).toEqual([
      ['out/x', 5],
      ['out/y', 70_000],
    ]);
    await expect.poll(() => messages.length).toBe(2);
    expect(messages).toEqual([
      { topic: 'in/a', payload: 'one', qos: 1 },
      { topic: 'in/b', payload: 'two', qos: 0 },
    ]);

    const closed = new Promise<{ byServer: boolean }>((done) => client.addEventListener('close', (e: CustomEvent) => done(e.detail), { once: true }));
    client.disconnect();
    expect((await closed).byServer).toBe(false);
    expect(client.state).toBe('closed');
    await end(peer);
  });

  it('a refused CONNECT rejects with the CONNACK reason in words', async () => {
    const client = board('refused', 'board.aaaaaaaaaaaa.wrongwrongwrongwrongwrongwrongwrong');
    await expect(client.connect()).rejects.toThrow(/not authorized \(CONNACK 5\)/);
    expect(client.state).toBe('closed');
  });

  it('a kick from the admin API is reported as closed by the server', async () => {
    const client = board('kicked');
    await client.connect();
    const closed = new Promise<{ byServer: boolean; reason: string }>((done) => client.addEventListener('close', (e: CustomEvent) => done(e.detail), { once: true }));
    const kick = await fetch(`${broker.httpUrl}/api/v1/tenants/board/sessions/kicked`, { method: 'DELETE', headers: { Authorization: `Bearer ${master}` } });
    expect(kick.status).toBe(204);
    const detail = await closed;
    expect(detail.byServer).toBe(true);
    expect(detail.reason).toMatch(/^connection closed by the server/);
    await expect(client.publish('x', 'y', { qos: 1 })).rejects.toThrow('not connected');
  });
});
