// MqttClient against a fake server: the packets it writes are decoded with the codec, the server's answers
// encoded and fed back. No sockets, no platform.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MqttClient, RefusedError, subscription, type ClientOptions, type MessageHandler, type Timers } from '../../../core/client/mqtt-client.js';
import { decodePacket, encodePacket, PacketFramer, type Packet, type PublishPacket } from '../../../core/codec/index.js';

const fakeTimers: Timers = { set: (callback, ms) => setTimeout(callback, ms), clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>) };

/** A client wired to a fake server that records what the client sent. */
function harness(options: Partial<ClientOptions> = {}, handler: MessageHandler = () => undefined) {
  const version = options.protocolVersion ?? 5;
  const framer = new PacketFramer(1 << 20);
  const sent: Packet[] = [];
  const closed: string[] = [];
  const client = new MqttClient(
    {
      send: (bytes) => {
        for (const raw of framer.push(bytes)) sent.push(decodePacket(raw, version));
      },
      close: (reason) => closed.push(reason),
    },
    { clientId: 'c1', protocolVersion: version, cleanStart: false, keepAlive: 0, ...options },
    handler,
    fakeTimers,
  );
  const serve = (packet: Packet) => client.receive(encodePacket(packet, version));
  const connect = async () => {
    const connected = client.connect();
    serve({ type: 'connack', sessionPresent: false, reasonCode: 0 });
    await connected;
  };
  const ofType = <T extends Packet['type']>(type: T) => sent.filter((p): p is Extract<Packet, { type: T }> => p.type === type);
  return { client, sent, closed, serve, connect, ofType, version };
}

const publishOf = (packetId: number, topic = 't'): PublishPacket => ({ type: 'publish', topic, payload: new Uint8Array([packetId]), qos: 1, retain: false, dup: false, packetId });
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('MqttClient: connecting', () => {
  it('[MQTT-3.1.2-4] sends CONNECT with its options (5.0 session expiry, receive maximum, maximum packet size) and resolves on CONNACK 0', async () => {
    const { client, sent, serve } = harness({ sessionExpiry: 600, receiveMaximum: 10, username: 'u', password: new Uint8Array([112]) });
    const connected = client.connect();
    expect(sent[0]).toMatchObject({
      type: 'connect',
      protocolVersion: 5,
      cleanSession: false,
      clientId: 'c1',
      username: 'u',
      properties: { sessionExpiryInterval: 600, receiveMaximum: 10, maximumPacketSize: 1024 * 1024 },
    });
    serve({ type: 'connack', sessionPresent: true, reasonCode: 0 });
    expect((await connected).sessionPresent).toBe(true);
    expect(client.isConnected).toBe(true);
  });

  it('a refused CONNECT rejects with RefusedError carrying the code, and the connection ends', async () => {
    const { client, serve } = harness({ protocolVersion: 4 });
    const connected = client.connect();
    serve({ type: 'connack', sessionPresent: false, reasonCode: 5 });
    const error = await connected.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RefusedError);
    expect((error as RefusedError).reasonCode).toBe(5);
    expect(client.isConnected).toBe(false);
    expect(client.closeReason).toBe('CONNECT refused');
  });

  it('3.1.1 sends no properties', async () => {
    const { client, sent } = harness({ protocolVersion: 4, sessionExpiry: 600 });
    void client.connect();
    expect((sent[0] as { properties?: unknown }).properties).toBeUndefined();
  });
});

describe('MqttClient: publishing', () => {
  it('QoS 0 resolves at once; QoS 1 resolves on its PUBACK with the reason code (0x10 is success)', async () => {
    const h = harness();
    await h.connect();
    await expect(h.client.publish({ topic: 'a', payload: new Uint8Array(), qos: 0, retain: false })).resolves.toBe(0);
    const acked = h.client.publish({ topic: 'b', payload: new Uint8Array([1]), qos: 1, retain: true, properties: { userProperties: [['k', 'v']] } });
    const [sent] = h.ofType('publish').filter((p) => p.qos === 1);
    expect(sent).toMatchObject({ topic: 'b', retain: true, properties: { userProperties: [['k', 'v']] } });
    expect(h.client.unacknowledged).toBe(1);
    h.serve({ type: 'puback', packetId: sent!.packetId!, reasonCode: 0x10 });
    await expect(acked).resolves.toBe(0x10);
    expect(h.client.unacknowledged).toBe(0);
  });

  it('a PUBACK with a failure code rejects with RefusedError (the message is refused for good)', async () => {
    const h = harness();
    await h.connect();
    const acked = h.client.publish({ topic: 'b', payload: new Uint8Array(), qos: 1, retain: false });
    h.serve({ type: 'puback', packetId: h.ofType('publish')[0]!.packetId!, reasonCode: 0x87 });
    await expect(acked).rejects.toMatchObject({ reasonCode: 0x87 });
  });

  it('[MQTT-4.4.0-1] an unacknowledged QoS 1 publish rejects when the connection ends first (the caller keeps it)', async () => {
    const h = harness();
    await h.connect();
    const acked = h.client.publish({ topic: 'b', payload: new Uint8Array(), qos: 1, retain: false });
    h.client.transportClosed('socket closed');
    await expect(acked).rejects.toThrow(/socket closed/);
    await expect(h.client.publish({ topic: 'c', payload: new Uint8Array(), qos: 0, retain: false })).rejects.toThrow(/closed/);
  });

  it('[MQTT-4.9.0-2 v5] no more QoS 1 publishes unacknowledged than the server\'s Receive Maximum: the next waits for a PUBACK', async () => {
    const h = harness();
    const connected = h.client.connect();
    h.serve({ type: 'connack', sessionPresent: false, reasonCode: 0, properties: { receiveMaximum: 1 } });
    await connected;
    const first = h.client.publish({ topic: 'a', payload: new Uint8Array(), qos: 1, retain: false });
    const second = h.client.publish({ topic: 'b', payload: new Uint8Array(), qos: 1, retain: false });
    expect(h.ofType('publish').map((p) => p.topic)).toEqual(['a']);
    expect(h.client.unacknowledged).toBe(2);
    h.serve({ type: 'puback', packetId: h.ofType('publish')[0]!.packetId!, reasonCode: 0 });
    await first;
    expect(h.ofType('publish').map((p) => p.topic)).toEqual(['a', 'b']);
    h.serve({ type: 'puback', packetId: h.ofType('publish')[1]!.packetId!, reasonCode: 0 });
    await second;
  });
});

describe('MqttClient: receiving', () => {
  it('[MQTT-4.6.0-2] PUBACKs leave in the order the messages arrived, whatever order their handlers finish in', async () => {
    const finish = new Map<number, () => void>();
    const h = harness({}, (message) => new Promise<void>((resolve) => finish.set(message.packetId!, resolve)));
    await h.connect();
    for (const id of [1, 2, 3]) h.serve(publishOf(id));
    finish.get(3)!();
    finish.get(2)!();
    await tick();
    expect(h.ofType('puback')).toEqual([]);
    finish.get(1)!();
    await tick();
    expect(h.ofType('puback').map((p) => p.packetId)).toEqual([1, 2, 3]);
  });

  it('[MQTT-4.4.0-1] a handler that fails closes the connection without acknowledging it or anything after it', async () => {
    const h = harness({}, (message) => (message.packetId === 2 ? Promise.reject(new Error('store failed')) : undefined));
    await h.connect();
    for (const id of [1, 2, 3]) h.serve(publishOf(id));
    await tick();
    await tick();
    expect(h.ofType('puback').map((p) => p.packetId)).toEqual([1]);
    expect(h.client.isConnected).toBe(false);
    expect(h.closed[0]).toMatch(/not handed over: store failed/);
  });

  it('QoS 0 messages reach the handler and are not acknowledged; a PUBREL is answered with PUBCOMP', async () => {
    const got: string[] = [];
    const h = harness({}, (message) => void got.push(message.topic));
    await h.connect();
    h.serve({ type: 'publish', topic: 'q0', payload: new Uint8Array(), qos: 0, retain: false, dup: false });
    h.serve({ type: 'pubrel', packetId: 9, reasonCode: 0 });
    expect(got).toEqual(['q0']);
    expect(h.ofType('pubcomp').map((p) => p.packetId)).toEqual([9]);
  });

  it('a server DISCONNECT ends the connection with its reason', async () => {
    const h = harness();
    await h.connect();
    const reasons: string[] = [];
    h.client.whenClosed((reason) => reasons.push(reason));
    h.serve({ type: 'disconnect', reasonCode: 0x8e });
    expect(reasons[0]).toMatch(/DISCONNECT 0x8e/);
  });
});

describe('MqttClient: subscriptions', () => {
  it('[MQTT-3.8.3-3 v5] subscribes with No Local and resolves with the SUBACK codes; a refused filter rejects with its code', async () => {
    const h = harness();
    await h.connect();
    const granted = h.client.subscribe([subscription('a/#', 1, true)]);
    const [packet] = h.ofType('subscribe');
    expect(packet!.subscriptions).toMatchObject([{ topicFilter: 'a/#', qos: 1, noLocal: true }]);
    h.serve({ type: 'suback', packetId: packet!.packetId, reasonCodes: [1] });
    await expect(granted).resolves.toEqual([1]);
    const refused = h.client.subscribe([subscription('b', 1, false)]);
    h.serve({ type: 'suback', packetId: h.ofType('subscribe')[1]!.packetId, reasonCodes: [0x87] });
    await expect(refused).rejects.toMatchObject({ reasonCode: 0x87 });
  });

  it('unsubscribes and resolves on UNSUBACK (0x11 No subscription existed included)', async () => {
    const h = harness();
    await h.connect();
    const done = h.client.unsubscribe(['old/#']);
    const [packet] = h.ofType('unsubscribe');
    expect(packet!.topicFilters).toEqual(['old/#']);
    h.serve({ type: 'unsuback', packetId: packet!.packetId, reasonCodes: [0x11] });
    await expect(done).resolves.toBeUndefined();
  });
});

describe('MqttClient: keepalive', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('[MQTT-3.1.2-23] sends PINGREQ when it has been silent, and ends the connection when no PINGRESP comes within the keepalive', async () => {
    const h = harness({ keepAlive: 4 });
    await h.connect();
    await vi.advanceTimersByTimeAsync(3500);
    expect(h.ofType('pingreq')).toHaveLength(1);
    h.serve({ type: 'pingresp' });
    await vi.advanceTimersByTimeAsync(3500);
    expect(h.ofType('pingreq')).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(5000);
    expect(h.client.isConnected).toBe(false);
    expect(h.client.closeReason).toMatch(/no PINGRESP/);
  });
});
