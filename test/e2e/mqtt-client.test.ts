// The dashboard's own MQTT 5.0 / 3.1.1 client (dashboard/mqtt-client.js, mqtt-codec.js), in Node: its framing
// and codec on fixed bytes and against the broker's codec (core/codec), its topic matcher against core's, then
// real sessions against the broker (with the `ws` package standing in for the browser's WebSocket).
import { pathToFileURL } from 'node:url';
import { VARINT_BOUNDARIES } from '../core/codec/fixtures.js';
import { resolve } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePacket as coreDecode, encodePacket as coreEncode, type Packet } from '../../core/codec/index.js';
import { ReasonCode } from '../../core/reason-codes.js';
import { topicMatchesFilter } from '../../core/topic/match.js';
import { startBroker, type RunningBroker } from '../integration/broker.js';
import { connectClient, end, publish, recorder, subscribe } from '../integration/clients.js';
import { newToken } from '../integration/tenants.js';

// Browser modules without type declarations: load them by URL (typed loosely on purpose).
const dashboard = (file: string) => import(pathToFileURL(resolve(import.meta.dirname, '../../dashboard', file)).href);
const { MqttClient } = await dashboard('mqtt-client.js');
const { Framer, decodePacket, encode, encodeLength } = await dashboard('mqtt-codec.js');
const { describeReason, reasonName } = await dashboard('reason-codes.js');
const { isValidTopicFilter, topicMatches } = await dashboard('topic-filter.js');

/** One whole packet's bytes as the client's framer hands it to decodePacket. */
function framed(bytes: Uint8Array): { first: number; body: Uint8Array } {
  const [packet, ...rest] = new Framer().push(bytes);
  expect(rest).toEqual([]);
  return packet;
}

const ADMIN = 'client-admin';

describe('codec and framing', () => {
  it('[MQTT-1.5.5] Remaining Length uses 1 to 4 bytes at the spec boundaries', () => {
    const cases = VARINT_BOUNDARIES;
    for (const [length, bytes] of cases) expect(encodeLength(length)).toEqual(bytes);
    expect(() => encodeLength(268_435_456)).toThrow(RangeError);
  });

  it('[MQTT-3.1.2-1] CONNECT carries "MQTT", level 4, clean session, keepalive, client id and username only', () => {
    const bytes: Uint8Array = encode.connect({ protocolVersion: 4, clientId: 'c', username: 'u', keepalive: 30, clean: true });
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
    expect(Array.from(encode.subscribe(7, [{ filter: 'a/#', qos: 1 }], 4) as Uint8Array)).toEqual([0x82, 8, 0, 7, 0, 3, 0x61, 0x2f, 0x23, 1]);
    const publishBytes: Uint8Array = encode.publish({ topic: 't', payload: Uint8Array.of(0x68, 0x69), qos: 1, retain: true, dup: false, packetId: 258 }, 4);
    expect(Array.from(publishBytes)).toEqual([0x33, 7, 0, 1, 0x74, 1, 2, 0x68, 0x69]);
  });

  it('[MQTT-6.0.0-2] the framer reassembles packets split across frames and splits frames holding several', () => {
    const publishBytes: Uint8Array = encode.publish({ topic: 'a/b', payload: new Uint8Array(300).fill(0x41), qos: 1, retain: false, dup: false, packetId: 9 }, 4);
    const v4 = (raw: unknown) => decodePacket(raw, 4);
    const suback = Uint8Array.of(0x90, 3, 0, 5, 1);
    const framer = new Framer();
    const stream = new Uint8Array([...publishBytes, ...suback, 0xd0, 0x00]);
    const seen: Array<{ type: number }> = [];
    // The PUBLISH one byte at a time: nothing until its last byte, which comes with the next two packets.
    for (let i = 0; i < publishBytes.length - 1; i++) seen.push(...framer.push(stream.subarray(i, i + 1)).map(v4));
    expect(seen).toEqual([]);
    seen.push(...framer.push(stream.subarray(publishBytes.length - 1)).map(v4));
    expect(seen.map((p) => p.type)).toEqual([3, 9, 13]);
    expect(seen[0]).toMatchObject({ topic: 'a/b', qos: 1, packetId: 9, retain: false });
    expect((seen[0] as unknown as { payload: Uint8Array }).payload.length).toBe(300);
    expect(seen[1]).toMatchObject({ packetId: 5, reasonCodes: [1] });
  });
});

describe('5.0 codec, checked against the broker codec (core/codec)', () => {
  const userProperties: Array<[string, string]> = [['unit', 'celsius'], ['unit', 'kelvin'], ['é', '']];

  it('[MQTT-3.1.2-2 v5] CONNECT level 5 with a will, clean start, session expiry and a user name decodes as sent', () => {
    const bytes: Uint8Array = encode.connect({
      protocolVersion: 5,
      clientId: 'board',
      username: 'tenant.token.secret',
      keepalive: 45,
      clean: true,
      properties: { sessionExpiryInterval: 300 },
      will: { topic: 'board/gone', payload: 'bye', qos: 2, retain: true },
    });
    expect(coreDecode(bytes, 5)).toEqual({
      type: 'connect',
      protocolName: 'MQTT',
      protocolVersion: 5,
      cleanSession: true,
      keepAlive: 45,
      clientId: 'board',
      username: 'tenant.token.secret',
      properties: { sessionExpiryInterval: 300 },
      will: { topic: 'board/gone', payload: new TextEncoder().encode('bye'), qos: 2, retain: true },
    });
    // 3.1.1 carries the same will without properties.
    const v4: Uint8Array = encode.connect({ protocolVersion: 4, clientId: 'b', keepalive: 0, clean: false, will: { topic: 'w', payload: '', qos: 1, retain: false } });
    expect(coreDecode(v4, 4)).toMatchObject({ protocolVersion: 4, cleanSession: false, will: { topic: 'w', payload: new Uint8Array(0), qos: 1, retain: false } });
  });

  it('[MQTT-3.3.2-17 v5] PUBLISH QoS 2 carries its user properties in order, repeated names included', () => {
    const bytes: Uint8Array = encode.publish({ topic: 'a/b', payload: Uint8Array.of(1, 2), qos: 2, retain: true, dup: false, packetId: 513, properties: { userProperties } }, 5);
    expect(coreDecode(bytes, 5)).toEqual({ type: 'publish', topic: 'a/b', payload: Uint8Array.of(1, 2), qos: 2, retain: true, dup: false, packetId: 513, properties: { userProperties } });
  });

  it('[MQTT-3.8.3-1 v5] SUBSCRIBE and UNSUBSCRIBE carry an empty property block; acks a short Success form', () => {
    expect(coreDecode(encode.subscribe(3, [{ filter: 'x/+', qos: 2 }], 5), 5)).toEqual({ type: 'subscribe', packetId: 3, subscriptions: [{ topicFilter: 'x/+', qos: 2, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
    expect(coreDecode(encode.unsubscribe(4, ['x/+'], 5), 5)).toEqual({ type: 'unsubscribe', packetId: 4, topicFilters: ['x/+'] });
    expect(Array.from(encode.ack(5, 9, 5) as Uint8Array)).toEqual([0x50, 2, 0, 9]); // PUBREC Success: Remaining Length 2
    expect(coreDecode(encode.ack(7, 9, 5, 0x92), 5)).toEqual({ type: 'pubcomp', packetId: 9, reasonCode: 0x92 });
    expect(coreDecode(encode.ack(6, 9, 5), 5)).toEqual({ type: 'pubrel', packetId: 9, reasonCode: 0 });
  });

  // What the server sends, encoded by the broker's codec, read by the client's.
  const fromServer: Array<{ name: string; packet: Packet; expected: Record<string, unknown> }> = [
    {
      name: '[MQTT-3.2.2-8 v5] CONNACK reason code and properties',
      packet: { type: 'connack', sessionPresent: true, reasonCode: 0, properties: { assignedClientIdentifier: 'auto-1', serverKeepAlive: 60, receiveMaximum: 20, maximumQoS: 1, retainAvailable: 0, topicAliasMaximum: 10 } },
      expected: { type: 2, sessionPresent: true, reasonCode: 0, properties: { assignedClientIdentifier: 'auto-1', serverKeepAlive: 60, receiveMaximum: 20, maximumQoS: 1, retainAvailable: 0, topicAliasMaximum: 10 } },
    },
    {
      name: '[MQTT-3.2.2-8 v5] a refused CONNACK with a Reason String',
      packet: { type: 'connack', sessionPresent: false, reasonCode: 0x87, properties: { reasonString: 'token disabled' } },
      expected: { reasonCode: 0x87, properties: { reasonString: 'token disabled' } },
    },
    {
      name: '[MQTT-3.4.2-1 v5] PUBACK 0x87 Not authorized with a Reason String',
      packet: { type: 'puback', packetId: 7, reasonCode: 0x87, properties: { reasonString: 'this token may not publish to "x"' } },
      expected: { type: 4, packetId: 7, reasonCode: 0x87, properties: { reasonString: 'this token may not publish to "x"' } },
    },
    { name: '[MQTT-3.5.2-1 v5] PUBREC 0x10 without properties', packet: { type: 'pubrec', packetId: 8, reasonCode: 0x10 }, expected: { type: 5, packetId: 8, reasonCode: 0x10, properties: {} } },
    { name: '[MQTT-3.7.2-1 v5] PUBCOMP Success in its short form', packet: { type: 'pubcomp', packetId: 8 }, expected: { type: 7, packetId: 8, reasonCode: 0, properties: {} } },
    {
      name: '[MQTT-3.9.3-1 v5] SUBACK: one code per filter, in order',
      packet: { type: 'suback', packetId: 2, reasonCodes: [2, 0x87, 0], properties: { reasonString: 'partly' } },
      expected: { type: 9, packetId: 2, reasonCodes: [2, 0x87, 0], properties: { reasonString: 'partly' } },
    },
    { name: '[MQTT-3.11.3-1 v5] UNSUBACK codes', packet: { type: 'unsuback', packetId: 3, reasonCodes: [0x11] }, expected: { type: 11, packetId: 3, reasonCodes: [0x11], properties: {} } },
    {
      name: '[MQTT-3.14.2-1 v5] DISCONNECT 0x98 with a Reason String',
      packet: { type: 'disconnect', reasonCode: 0x98, properties: { reasonString: 'kicked by an admin' } },
      expected: { type: 14, reasonCode: 0x98, properties: { reasonString: 'kicked by an admin' } },
    },
    { name: '[MQTT-3.14.2-1 v5] DISCONNECT 0x8E alone', packet: { type: 'disconnect', reasonCode: 0x8e }, expected: { type: 14, reasonCode: 0x8e, properties: {} } },
    {
      name: '[MQTT-3.3.2-17 v5] PUBLISH with user properties, content type and subscription identifiers',
      packet: { type: 'publish', topic: 't', payload: Uint8Array.of(0x41), qos: 1, retain: true, dup: true, packetId: 4, properties: { userProperties, contentType: 'text/plain', subscriptionIdentifiers: [1, 300] } },
      expected: { type: 3, topic: 't', payload: Uint8Array.of(0x41), qos: 1, retain: true, dup: true, packetId: 4, properties: { userProperties, contentType: 'text/plain', subscriptionIdentifiers: [1, 300] } },
    },
  ];
  for (const { name, packet, expected } of fromServer) {
    it(`${name} decodes as the broker encodes it`, () => {
      expect(decodePacket(framed(coreEncode(packet, 5)), 5)).toMatchObject(expected);
    });
  }

  it('a property block that runs past its packet is an error, not a guess', () => {
    // PUBACK id 1, code 0x87, property length 5 with only 2 bytes following.
    expect(() => decodePacket(framed(Uint8Array.of(0x40, 6, 0, 1, 0x87, 5, 0x1f, 0)), 5)).toThrow();
  });
});

describe('reason code names and topic filters (dashboard copies of core tables)', () => {
  it('every 5.0 reason code of core/reason-codes.ts has a name in dashboard/reason-codes.js', () => {
    for (const [name, code] of Object.entries(ReasonCode)) {
      const packet = name === 'NormalDisconnection' ? 'disconnect' : name.startsWith('Granted') ? 'suback' : 'ack';
      expect(reasonName(code, packet), name).toBeTruthy();
    }
    expect(describeReason(0x87)).toBe('0x87 Not authorized');
    expect(describeReason(0x98, 'disconnect')).toBe('0x98 Administrative action');
    expect(describeReason(0x01, 'suback')).toBe('0x01 Granted QoS 1');
    expect(describeReason(0x00, 'disconnect')).toBe('0x00 Normal disconnection');
  });

  it('[MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.7.2-1] the message-list filter matches as the broker does', () => {
    const filters = ['#', '+', 'a/#', 'a/+', '+/+', 'a/+/c', 'a/b', '/#', '+/b/#', 'a//c', '$SYS/#', '+/uptime', 'a/b/#'];
    const topics = ['a', 'a/b', 'a/b/c', 'a//c', '/a', '/', 'b', '$SYS/uptime', 'a/b/c/d', 'x/b/y', ''];
    for (const filter of filters) {
      expect(isValidTopicFilter(filter), filter).toBe(true);
      for (const topic of topics.filter((t) => t !== '')) expect(topicMatches(filter, topic), `${filter} ~ ${topic}`).toBe(topicMatchesFilter(filter, topic));
    }
    for (const invalid of ['', 'a/#/b', 'a#', 'a/b+', '++', '#/']) expect(isValidTopicFilter(invalid), invalid).toBe(false);
  });
});

describe('flows against a scripted server (a stand-in WebSocket)', () => {
  /** Records what the client sends; `serve` hands it packets as the broker's codec encodes them. */
  class ScriptedSocket {
    static last: ScriptedSocket;
    readyState = 0;
    binaryType = 'blob';
    sent: Packet[] = [];
    onopen: (() => void) | null = null;
    onmessage: ((event: { data: ArrayBuffer }) => void) | null = null;
    onclose: ((event: { code: number; reason: string }) => void) | null = null;
    onerror: (() => void) | null = null;
    constructor() {
      ScriptedSocket.last = this;
      queueMicrotask(() => {
        this.readyState = 1;
        this.onopen?.();
      });
    }
    send(bytes: Uint8Array) {
      this.sent.push(coreDecode(bytes, 5));
    }
    close() {
      this.readyState = 3;
    }
    serve(...packets: Packet[]) {
      for (const packet of packets) this.onmessage?.({ data: coreEncode(packet, 5).slice().buffer });
    }
  }

  async function connected() {
    const client = new MqttClient({ url: 'ws://scripted/mqtt', clientId: 'c', WebSocket: ScriptedSocket, keepalive: 0 });
    const connecting = client.connect();
    await new Promise((done) => setTimeout(done, 0));
    const socket = ScriptedSocket.last;
    expect(socket.sent[0]).toMatchObject({ type: 'connect', protocolVersion: 5 });
    socket.serve({ type: 'connack', sessionPresent: false, reasonCode: 0 });
    await connecting;
    return { client, socket };
  }

  it('[MQTT-4.3.3-10 v5] [MQTT-4.3.3-11 v5] an inbound QoS 2 resend before PUBREL is acknowledged, not delivered twice; an unknown PUBREL gets PUBCOMP 0x92', async () => {
    const { client, socket } = await connected();
    const delivered: string[] = [];
    client.addEventListener('message', (e: CustomEvent) => delivered.push(e.detail.topic));
    const message: Packet = { type: 'publish', topic: 'q2', payload: Uint8Array.of(1), qos: 2, retain: false, dup: false, packetId: 5 };
    socket.serve(message, { ...message, dup: true }, { type: 'pubrel', packetId: 5 }, { type: 'pubrel', packetId: 6 });
    expect(delivered).toEqual(['q2']);
    expect(socket.sent.slice(1)).toEqual([
      { type: 'pubrec', packetId: 5, reasonCode: 0 },
      { type: 'pubrec', packetId: 5, reasonCode: 0 },
      { type: 'pubcomp', packetId: 5, reasonCode: 0 },
      { type: 'pubcomp', packetId: 6, reasonCode: 0x92 },
    ]);
    client.disconnect();
  });

  it('[MQTT-4.3.3-4 v5] an outbound QoS 2 publish: PUBREL only after a PUBREC below 0x80; a PUBREC 0x87 ends the exchange', async () => {
    const { client, socket } = await connected();
    const accepted = client.publish('a', 'x', { qos: 2 });
    const refused = client.publish('b', 'y', { qos: 2 });
    const [first, second] = socket.sent.slice(1) as Array<{ packetId: number }>;
    socket.serve({ type: 'pubrec', packetId: second!.packetId, reasonCode: 0x87, properties: { reasonString: 'no' } });
    expect(await refused).toEqual({ reasonCode: 0x87, reasonString: 'no' });
    socket.serve({ type: 'pubrec', packetId: first!.packetId, reasonCode: 0x10 });
    expect(socket.sent.at(-1)).toEqual({ type: 'pubrel', packetId: first!.packetId, reasonCode: 0 });
    socket.serve({ type: 'pubcomp', packetId: first!.packetId });
    expect(await accepted).toEqual({ reasonCode: 0x10 }); // the PUBREC's outcome: delivered to no one
    expect(socket.sent.filter((p) => p.type === 'pubrel')).toHaveLength(1);
    client.disconnect();
  });

  it('[MQTT-3.14.2-1 v5] a server DISCONNECT is the close reason, with its Reason String when there is one', async () => {
    for (const [properties, expected] of [
      [{ reasonString: 'token revoked' }, 'connection closed by the server: 0x98 Administrative action (token revoked)'],
      [undefined, 'connection closed by the server: 0x8e Session taken over'],
    ] as const) {
      const { client, socket } = await connected();
      const closed = new Promise<any>((done) => client.addEventListener('close', (e: CustomEvent) => done(e.detail), { once: true }));
      socket.serve({ type: 'disconnect', reasonCode: properties ? 0x98 : 0x8e, ...(properties ? { properties } : {}) });
      const detail = await closed;
      expect(detail).toMatchObject({ byServer: true, reason: expected });
      expect(socket.readyState).toBe(3); // the client closes the socket after a DISCONNECT
    }
  });

  it('a socket closed without DISCONNECT says so, and keeps the WebSocket close code as a detail', async () => {
    const { client, socket } = await connected();
    const closed = new Promise<any>((done) => client.addEventListener('close', (e: CustomEvent) => done(e.detail), { once: true }));
    socket.onclose?.({ code: 1006, reason: '' });
    expect(await closed).toEqual({ byServer: true, reason: 'connection closed by the server', code: 1006, wsReason: '' });
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

  function board(clientId: string, options: { username?: string; protocolVersion?: 4 | 5 } = {}) {
    return new MqttClient({ url: broker.mqttUrl, clientId, username: options.username ?? master, protocolVersion: options.protocolVersion ?? 5, keepalive: 10, WebSocket });
  }

  function messagesOf(client: any) {
    const messages: Array<{ topic: string; payload: string; qos: number; userProperties?: Array<[string, string]> }> = [];
    client.addEventListener('message', (event: CustomEvent) => {
      const { topic, payload, qos, properties } = event.detail;
      messages.push({ topic, payload: new TextDecoder().decode(payload), qos, ...(properties?.userProperties ? { userProperties: properties.userProperties } : {}) });
    });
    return messages;
  }

  it('[MQTT-3.2.2-3] 3.1.1: connects, subscribes, publishes QoS 0 and 1 both ways with mqtt.js, disconnects', async () => {
    const client = board('node-board', { protocolVersion: 4 });
    const messages = messagesOf(client);
    expect(await client.connect()).toMatchObject({ sessionPresent: false, reasonCode: 0 });
    expect(await client.subscribe('in/#', 1)).toEqual({ reasonCode: 1 });

    const peer = await connectClient(broker.mqttUrl, { clientId: 'peer', username: master });
    const got = recorder(peer);
    await subscribe(peer, 'out/#', 1);
    await publish(peer, 'in/a', 'one', { qos: 1 });
    await publish(peer, 'in/b', 'two', { qos: 0 });
    expect(await client.publish('out/x', 'three', { qos: 1 })).toEqual({ reasonCode: 0 }); // resolves on PUBACK
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

  it('[MQTT-4.3.3-4 v5] [MQTT-4.3.3-11 v5] 5.0: QoS 2 both ways with mqtt.js, user properties forwarded [MQTT-3.3.2-17 v5]', async () => {
    const client = board('node-board-5');
    const messages = messagesOf(client);
    expect(await client.connect()).toMatchObject({ sessionPresent: false, reasonCode: 0 });
    expect(await client.subscribe('in5/#', 2)).toEqual({ reasonCode: 2 });

    const peer = await connectClient(broker.mqttUrl, { clientId: 'peer-5', username: master, protocolVersion: 5 });
    const got = recorder(peer);
    await subscribe(peer, 'out5/#', 2);
    await new Promise<void>((done, fail) =>
      peer.publish('in5/a', 'one', { qos: 2, properties: { userProperties: { origin: 'mqtt.js' } } }, (error) => (error ? fail(error) : done())),
    );
    // Resolves at PUBCOMP: PUBREC 0x00, PUBREL, PUBCOMP ran.
    expect(await client.publish('out5/x', 'two', { qos: 2, userProperties: [['k', 'v'], ['k', 'w']] })).toEqual({ reasonCode: 0 });
    await got.waitFor(1);
    expect(got.messages[0]).toMatchObject({ topic: 'out5/x', payload: 'two' });
    expect(got.messages[0]!.packet.qos).toBe(2);
    expect(got.messages[0]!.packet.properties?.userProperties).toEqual({ k: ['v', 'w'] });
    await expect.poll(() => messages.length).toBe(1);
    expect(messages).toEqual([{ topic: 'in5/a', payload: 'one', qos: 2, userProperties: [['origin', 'mqtt.js']] }]);
    // Every exchange completed: no packet id is held.
    expect(client.pending.size).toBe(0);
    await expect.poll(() => client.inboundQos2.size).toBe(0);
    client.disconnect();
    await end(peer);
  });

  it('[MQTT-3.4.2-1 v5] [MQTT-3.5.2-1 v5] a publish the token may not make is answered 0x87, at QoS 1 and at QoS 2', async () => {
    const limited = await newToken(broker, 'board', master, { name: 'only demo', acl: [{ filter: 'demo/#', rights: ['pub', 'sub'] }] });
    const client = board('node-limited', { username: limited.token });
    await client.connect();
    expect(await client.publish('secret/x', 'no', { qos: 1 })).toMatchObject({ reasonCode: 0x87 });
    expect(await client.publish('secret/x', 'no', { qos: 2 })).toMatchObject({ reasonCode: 0x87 });
    expect(await client.subscribe('secret/#', 1)).toMatchObject({ reasonCode: 0x87 });
    expect(await client.publish('demo/x', 'yes', { qos: 2 })).toMatchObject({ reasonCode: expect.any(Number) });
    expect(client.pending.size).toBe(0); // the refused QoS 2 ended at PUBREC: no PUBREL is outstanding
    client.disconnect();
  });

  it('a refused CONNECT rejects with the CONNACK reason in words (3.1.1 return code, 5.0 reason code)', async () => {
    const wrong = 'board.aaaaaaaaaaaa.wrongwrongwrongwrongwrongwrongwrong';
    const v4 = board('refused', { username: wrong, protocolVersion: 4 });
    await expect(v4.connect()).rejects.toThrow(/not authorized \(CONNACK 5\)/);
    expect(v4.state).toBe('closed');
    const v5 = board('refused', { username: wrong });
    await expect(v5.connect()).rejects.toThrow(/^connection refused: 0x8[67] (Bad User Name or Password|Not authorized)/);
  });

  it('[MQTT-3.14.2-1 v5] an admin kick arrives as DISCONNECT 0x98 Administrative action; 3.1.1 sees the socket close', async () => {
    const kick = async (clientId: string) => {
      const answer = await fetch(`${broker.httpUrl}/api/v1/tenants/board/sessions/${clientId}`, { method: 'DELETE', headers: { Authorization: `Bearer ${master}` } });
      expect(answer.status).toBe(204);
    };
    const closing = (client: any) => new Promise<any>((done) => client.addEventListener('close', (e: CustomEvent) => done(e.detail), { once: true }));

    const v5 = board('kicked');
    await v5.connect();
    const closed5 = closing(v5);
    await kick('kicked');
    const detail5 = await closed5;
    expect(detail5).toMatchObject({ byServer: true, disconnect: { reasonCode: 0x98 } });
    expect(detail5.reason).toMatch(/^connection closed by the server: 0x98 Administrative action/);
    await expect(v5.publish('x', 'y', { qos: 1 })).rejects.toThrow('not connected');

    const v4 = board('kicked-v4', { protocolVersion: 4 });
    await v4.connect();
    const closed4 = closing(v4);
    await kick('kicked-v4');
    const detail4 = await closed4;
    expect(detail4.byServer).toBe(true);
    expect(detail4.disconnect).toBeUndefined();
    expect(detail4.reason).toBe('connection closed by the server');
    expect(detail4.code).toEqual(expect.any(Number)); // the WebSocket close code, a detail for the page
  });
});
