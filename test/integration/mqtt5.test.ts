// MQTT 5.0 end to end: CONNACK properties, expiry, wills, aliases, flow control and properties, mixed with 3.1.1.
import mqtt, { type IClientOptions, type IClientPublishOptions, type IClientSubscribeOptions, type IConnackPacket, type IDisconnectPacket, type MqttClient, type Packet } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PacketFramer, decodePacket, encodePacket, type Packet as WirePacket, type Properties } from '../../core/codec/index.js';
import { sessionOffline, startBroker, type RunningBroker } from './broker.js';
import { RawClient, connectClient, end, publish, recorder, roundTrip, sentinel, sleep, subscribe, waitUntil } from './clients.js';

type Recorder = ReturnType<typeof recorder>;
type ReasonError = Error & { code?: number };

interface Connection {
  client: MqttClient;
  /** Attached before CONNECT is sent, so nothing the server sends right after CONNACK is missed. */
  got: Recorder;
  connack: IConnackPacket;
  /** Errors mqtt.js emitted after the connection was up. */
  errors: ReasonError[];
}

/** Connects an mqtt.js 5.0 client and resolves on a successful CONNACK. */
async function open(url: string, options: IClientOptions = {}): Promise<Connection> {
  const client = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000, keepalive: 30, ...options });
  const got = recorder(client);
  const errors: ReasonError[] = [];
  const connack = await new Promise<IConnackPacket>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('connect timeout')), 8000);
    client.once('connect', (packet) => {
      clearTimeout(timer);
      resolve(packet);
    });
    client.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  client.on('error', (error) => errors.push(error));
  return { client, got, connack, errors };
}

/** Publishes; resolves with the PUBACK/PUBREC reason code when it is an error (≥ 0x80), else undefined. */
function publishCode(client: MqttClient, topic: string, payload: string | Buffer, options: IClientPublishOptions = {}): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    client.publish(topic, payload, { qos: 1, ...options }, (error?: ReasonError) => {
      if (!error) resolve(undefined);
      else if (typeof error.code === 'number') resolve(error.code);
      else reject(error);
    });
  });
}

async function publish5(client: MqttClient, topic: string, payload: string | Buffer, options: IClientPublishOptions = {}): Promise<void> {
  const code = await publishCode(client, topic, payload, options);
  if (code !== undefined) throw new Error(`publish to ${topic} refused with 0x${code.toString(16)}`);
}

function subscribe5(client: MqttClient, topic: string, options: IClientSubscribeOptions): Promise<number[]> {
  return new Promise((resolve, reject) => {
    client.subscribe(topic, options, (error, granted) => (error ? reject(error) : resolve((granted ?? []).map((g) => g.qos))));
  });
}

/** Resolves with the UNSUBACK reason codes. */
function unsubscribe5(client: MqttClient, topics: string[]): Promise<number[]> {
  return new Promise((resolve, reject) => {
    client.unsubscribe(topics, (error, packet) => (error ? reject(error) : resolve(((packet as { granted?: number[] } | undefined)?.granted ?? []) as number[])));
  });
}

/** Resolves with the reason code of the first DISCONNECT the server sends this client. */
function nextDisconnect(client: MqttClient): Promise<number | undefined> {
  return new Promise((resolve) => client.once('disconnect', (packet: IDisconnectPacket) => resolve(packet.reasonCode)));
}

const closed = (client: MqttClient) => new Promise<void>((resolve) => (client.connected ? client.once('close', () => resolve()) : resolve()));

/** Drops the client's TCP connection without DISCONNECT or WebSocket close frame. */
function drop(client: MqttClient): void {
  (client as unknown as { stream: { destroy(): void } }).stream.destroy();
}

const subscriptionIds = (packet: { properties?: { subscriptionIdentifier?: number | number[] } }) =>
  ([] as number[]).concat(packet.properties?.subscriptionIdentifier ?? []);

// ── Raw 5.0 packets, built and read with the project's codec ─────────────────────────────────────────

const wire = (...packets: WirePacket[]) => Buffer.concat(packets.map((packet) => encodePacket(packet, 5)));

/** Every whole packet received so far. */
function packetsOf(raw: RawClient): WirePacket[] {
  return new PacketFramer(268_435_460).push(raw.bytes()).map((bytes) => decodePacket(bytes, 5));
}

/** Waits for a received packet matching `match`; undefined if none came in time or the socket closed first. */
async function awaitPacket<T extends WirePacket>(raw: RawClient, match: (packet: WirePacket) => packet is T, timeoutMs = 5000): Promise<T | undefined> {
  await raw.until(() => packetsOf(raw).some(match), timeoutMs);
  return packetsOf(raw).find(match);
}

const isType =
  <K extends WirePacket['type']>(type: K) =>
  (packet: WirePacket): packet is Extract<WirePacket, { type: K }> =>
    packet.type === type;

async function rawConnect(url: string, clientId: string, options: { keepAlive?: number; properties?: Properties } = {}): Promise<RawClient> {
  const raw = new RawClient(url);
  await raw.send(
    wire({
      type: 'connect',
      protocolName: 'MQTT',
      protocolVersion: 5,
      cleanSession: true,
      keepAlive: options.keepAlive ?? 30,
      clientId,
      ...(options.properties ? { properties: options.properties } : {}),
    }),
  );
  const connack = await awaitPacket(raw, isType('connack'));
  if (!connack || connack.reasonCode !== 0) throw new Error(`raw CONNECT refused: ${JSON.stringify(connack)}`);
  return raw;
}

const MAX_KEEPALIVE = 60;
const TOPIC_ALIAS_MAXIMUM = 32;

let broker: RunningBroker;
beforeAll(async () => {
  broker = await startBroker();
});
afterAll(async () => {
  await broker?.stop();
});

describe('MQTT 5.0 CONNECT and CONNACK', () => {
  it('[MQTT-3.2.2-16 v5] a zero-length client id gets an Assigned Client Identifier in CONNACK', async () => {
    const a = await open(broker.mqttUrl, { clientId: '' });
    const b = await open(broker.mqttUrl, { clientId: '' });
    const assigned = [a.connack.properties?.assignedClientIdentifier, b.connack.properties?.assignedClientIdentifier];
    expect(assigned[0]).toBeTruthy();
    expect(assigned[1]).toBeTruthy();
    expect(assigned[0]).not.toBe(assigned[1]);
    await Promise.all([end(a.client), end(b.client)]);
  });

  it('[MQTT-3.1.4-5 v5] CONNACK 0x00 announces Topic Alias Maximum, Receive Maximum, Retain, Wildcard, Subscription Identifier and Shared Subscription availability', async () => {
    const { client, connack } = await open(broker.mqttUrl, { clientId: 'caps' });
    expect(connack.reasonCode).toBe(0);
    expect(connack.properties).toMatchObject({
      topicAliasMaximum: TOPIC_ALIAS_MAXIMUM,
      receiveMaximum: 1024,
      retainAvailable: true,
      wildcardSubscriptionAvailable: true,
      subscriptionIdentifiersAvailable: true,
      sharedSubscriptionAvailable: true,
    });
    // No Maximum QoS: the server supports QoS 2 [MQTT-3.2.2-9 v5]; no Response Information unasked [MQTT-3.1.2-28 v5].
    expect(connack.properties?.maximumQoS).toBeUndefined();
    expect(connack.properties?.responseInformation).toBeUndefined();
    expect(connack.properties?.assignedClientIdentifier).toBeUndefined();
    await end(client);
  });

  it('[MQTT-3.2.2-21 v5] keepalive 0 or above MAX_KEEPALIVE gets Server Keep Alive 60; one within it gets none [MQTT-3.2.2-22 v5]', async () => {
    const none = await open(broker.mqttUrl, { clientId: 'ska-0', keepalive: 0 });
    const long = await open(broker.mqttUrl, { clientId: 'ska-120', keepalive: 120 });
    const fine = await open(broker.mqttUrl, { clientId: 'ska-30', keepalive: 30 });
    expect(none.connack.properties?.serverKeepAlive).toBe(MAX_KEEPALIVE);
    expect(long.connack.properties?.serverKeepAlive).toBe(MAX_KEEPALIVE);
    expect(fine.connack.properties?.serverKeepAlive).toBeUndefined();
    await Promise.all([end(none.client), end(long.client), end(fine.client)]);
  });

  it('[MQTT-3.1.2-28 v5] Response Information is returned when requested, and only then', async () => {
    const asked = await open(broker.mqttUrl, { clientId: 'respinfo', properties: { requestResponseInformation: true } });
    const info = asked.connack.properties?.responseInformation;
    expect(typeof info).toBe('string');
    expect(info!.length).toBeGreaterThan(0);
    const unasked = await open(broker.mqttUrl, { clientId: 'respinfo-no', properties: { requestResponseInformation: false } });
    expect(unasked.connack.properties?.responseInformation).toBeUndefined();
    // The prefix is usable: a response published under it reaches a subscriber.
    await subscribe5(asked.client, `${info}/#`, { qos: 1 });
    await publish5(unasked.client, `${info}/r1`, 'answer');
    await asked.got.waitFor(1);
    expect(asked.got.messages[0]!.payload).toBe('answer');
    await Promise.all([end(asked.client), end(unasked.client)]);
  });

  it('[MQTT-4.12.0-1 v5] a CONNECT with an unsupported Authentication Method gets CONNACK 0x8C and the connection is closed', async () => {
    const client = mqtt.connect(broker.mqttUrl, {
      protocolVersion: 5,
      reconnectPeriod: 0,
      clientId: 'auth-method',
      properties: { authenticationMethod: 'SCRAM-SHA-256' },
    });
    const connack = new Promise<IConnackPacket>((resolve) => client.on('packetreceive', (p: Packet) => p.cmd === 'connack' && resolve(p)));
    const gone = new Promise<void>((resolve) => client.once('close', () => resolve()));
    const error = await new Promise<ReasonError>((resolve) => client.on('error', resolve));
    expect(error.code).toBe(0x8c);
    expect((await connack).reasonCode).toBe(0x8c);
    expect((await connack).sessionPresent).toBe(false); // [MQTT-3.2.2-6 v5]
    await gone;
    client.end(true);
  });
});

describe('MQTT 5.0 and 3.1.1 on the same topics', () => {
  it('[MQTT-4.5.0-1 v5] a 5.0 publish with properties reaches a 3.1.1 subscriber as a plain 3.1.1 PUBLISH', async () => {
    const sub = await connectClient(broker.mqttUrl, { clientId: 'mix-sub4' });
    const got = recorder(sub);
    await subscribe(sub, 'mix/a', 1);
    const pub = await open(broker.mqttUrl, { clientId: 'mix-pub5' });
    await publish5(pub.client, 'mix/a', 'from five', {
      qos: 1,
      properties: {
        userProperties: { origin: 'v5', tag: ['x', 'y'] },
        contentType: 'text/plain',
        payloadFormatIndicator: true,
        responseTopic: 'mix/reply',
        correlationData: Buffer.from('c1'),
        messageExpiryInterval: 60,
      },
    });
    await got.waitFor(1);
    // A 3.1.1 parser would read properties as payload bytes: an equal payload means none were sent.
    expect(got.messages[0]!.payload).toBe('from five');
    expect(got.messages[0]!.topic).toBe('mix/a');
    expect(got.messages[0]!.packet.qos).toBe(1);
    expect(got.messages[0]!.packet.properties).toBeUndefined();
    await Promise.all([end(sub), end(pub.client)]);
  });

  it('[MQTT-4.5.0-1] a 3.1.1 publish reaches a 5.0 subscriber', async () => {
    const sub = await open(broker.mqttUrl, { clientId: 'mix-sub5' });
    await subscribe5(sub.client, 'mix/b', { qos: 1 });
    const pub = await connectClient(broker.mqttUrl, { clientId: 'mix-pub4' });
    await publish(pub, 'mix/b', 'from three', { qos: 1 });
    await sub.got.waitFor(1);
    expect(sub.got.messages[0]!.topic).toBe('mix/b');
    expect(sub.got.messages[0]!.payload).toBe('from three');
    expect(sub.got.messages[0]!.packet.qos).toBe(1);
    await Promise.all([end(sub.client), end(pub)]);
  });
});

describe('MQTT 5.0 message properties', () => {
  it('[MQTT-3.3.2-4 v5] [MQTT-3.3.2-15 v5] [MQTT-3.3.2-16 v5] [MQTT-3.3.2-20 v5] Payload Format Indicator, Content Type, Response Topic and Correlation Data are forwarded unaltered', async () => {
    const sub = await open(broker.mqttUrl, { clientId: 'props-sub' });
    await subscribe5(sub.client, 'props/t', { qos: 1 });
    const pub = await open(broker.mqttUrl, { clientId: 'props-pub' });
    const correlationData = Buffer.from([0x00, 0xff, 0x10, 0x80]);
    await publish5(pub.client, 'props/t', '{"v":1}', {
      qos: 1,
      properties: {
        payloadFormatIndicator: true,
        contentType: 'application/json; charset=utf-8',
        responseTopic: 'props/reply/1',
        correlationData,
        userProperties: { a: '1', b: ['2', '3'] },
      },
    });
    const [message] = await sub.got.waitFor(1);
    expect(message!.payload).toBe('{"v":1}');
    expect(message!.packet.properties).toMatchObject({
      payloadFormatIndicator: true,
      contentType: 'application/json; charset=utf-8',
      responseTopic: 'props/reply/1',
      userProperties: { a: '1', b: ['2', '3'] },
    });
    expect(Buffer.from(message!.packet.properties!.correlationData!)).toEqual(correlationData);
    await Promise.all([end(sub.client), end(pub.client)]);
  });

  it('[MQTT-3.3.2-17 v5] [MQTT-3.3.2-18 v5] User Properties are forwarded in order, repeated names included', async () => {
    // Raw clients on both ends: mqtt.js folds user properties into an object and loses their interleaving.
    const sub = await rawConnect(broker.mqttUrl, 'uprop-sub');
    await sub.send(wire({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'uprop/t', qos: 1 }] }));
    expect(await awaitPacket(sub, isType('suback'))).toMatchObject({ reasonCodes: [1] });
    const pub = await rawConnect(broker.mqttUrl, 'uprop-pub');
    const userProperties: Array<[string, string]> = [
      ['k', '1'],
      ['x', 'y'],
      ['k', '2'],
      ['k', '1'],
      ['', 'empty name'],
    ];
    await pub.send(wire({ type: 'publish', topic: 'uprop/t', payload: new TextEncoder().encode('p'), qos: 1, retain: false, dup: false, packetId: 5, properties: { userProperties } }));
    expect(await awaitPacket(pub, isType('puback'))).toMatchObject({ packetId: 5 });
    const delivered = await awaitPacket(sub, isType('publish'));
    expect(delivered?.properties?.userProperties).toEqual(userProperties);
    sub.close();
    pub.close();
  });

  it('[MQTT-3.3.2-15 v5] [MQTT-3.3.2-16 v5] request/response: the responder answers on the Response Topic with the Correlation Data', async () => {
    const responder = await open(broker.mqttUrl, { clientId: 'rr-responder' });
    responder.client.on('message', (_topic, payload, packet) => {
      const { responseTopic, correlationData } = packet.properties ?? {};
      if (!responseTopic) return;
      responder.client.publish(responseTopic, `re: ${payload.toString()}`, { qos: 1, properties: { correlationData } });
    });
    await subscribe5(responder.client, 'rr/service', { qos: 1 });
    const requester = await open(broker.mqttUrl, { clientId: 'rr-requester' });
    await subscribe5(requester.client, 'rr/replies/rr-requester', { qos: 1 });
    await publish5(requester.client, 'rr/service', 'ping-1', { qos: 1, properties: { responseTopic: 'rr/replies/rr-requester', correlationData: Buffer.from('req-1') } });
    await publish5(requester.client, 'rr/service', 'ping-2', { qos: 1, properties: { responseTopic: 'rr/replies/rr-requester', correlationData: Buffer.from('req-2') } });
    const replies = await requester.got.waitFor(2);
    expect(replies.map((m) => [m.topic, m.payload, Buffer.from(m.packet.properties!.correlationData!).toString()])).toEqual([
      ['rr/replies/rr-requester', 're: ping-1', 'req-1'],
      ['rr/replies/rr-requester', 're: ping-2', 'req-2'],
    ]);
    await Promise.all([end(responder.client), end(requester.client)]);
  });

  it('[MQTT-3.3.2-4 v5] a PUBLISH with Payload Format Indicator 1 and a payload that is not UTF-8 is refused with 0x99 and not delivered', async () => {
    const sub = await open(broker.mqttUrl, { clientId: 'pfi-sub' });
    await subscribe5(sub.client, 'pfi/t', { qos: 1 });
    const pub = await open(broker.mqttUrl, { clientId: 'pfi-pub' });
    const code = await publishCode(pub.client, 'pfi/t', Buffer.from([0x61, 0xff, 0xfe, 0x62]), { qos: 1, properties: { payloadFormatIndicator: true } });
    expect(code).toBe(0x99);
    // The same bytes without the indicator, and valid UTF-8 with it, are fine.
    await publish5(pub.client, 'pfi/t', Buffer.from([0x61, 0xff, 0xfe, 0x62]), { qos: 1 });
    await publish5(pub.client, 'pfi/t', 'héllo', { qos: 1, properties: { payloadFormatIndicator: true } });
    await sub.got.waitFor(2);
    await sentinel(pub.client, 'pfi/t', sub.got);
    expect(sub.got.messages.map((m) => [...Buffer.from(m.packet.payload as Buffer)])).toEqual([
      [0x61, 0xff, 0xfe, 0x62],
      [...Buffer.from('héllo')],
    ]);
    expect(pub.client.connected).toBe(true);
    await Promise.all([end(sub.client), end(pub.client)]);
  });

  it('[MQTT-3.4.2-1 v5] a QoS 1 PUBLISH to $SYS/... is answered with PUBACK 0x87 (Not authorized)', async () => {
    const pub = await open(broker.mqttUrl, { clientId: 'sys-pub5' });
    expect(await publishCode(pub.client, '$SYS/broker/uptime', 'forged', { qos: 1 })).toBe(0x87);
    expect(pub.client.connected).toBe(true);
    await end(pub.client);
  });
});

describe('MQTT 5.0 session expiry and Clean Start', () => {
  it('[MQTT-3.1.2-23 v5] [MQTT-3.2.2-3 v5] a session with Session Expiry Interval 3 survives a disconnect: session present, queued message delivered', async () => {
    const first = await open(broker.mqttUrl, { clientId: 'sx-keep', clean: false, properties: { sessionExpiryInterval: 3 } });
    expect(first.connack.sessionPresent).toBe(false);
    await subscribe5(first.client, 'sx/keep', { qos: 1 });
    await end(first.client);
    const pub = await open(broker.mqttUrl, { clientId: 'sx-keep-pub' });
    await publish5(pub.client, 'sx/keep', 'while away', { qos: 1 });
    const again = await open(broker.mqttUrl, { clientId: 'sx-keep', clean: false, properties: { sessionExpiryInterval: 3 } });
    expect(again.connack.sessionPresent).toBe(true);
    await again.got.waitFor(1);
    expect(again.got.messages.map((m) => m.payload)).toEqual(['while away']);
    await Promise.all([end(again.client), end(pub.client)]);
  });

  it('[MQTT-4.1.0-2 v5] a session is discarded when its Session Expiry Interval has passed: session present 0, no old subscription', async () => {
    const first = await open(broker.mqttUrl, { clientId: 'sx-gone', clean: false, properties: { sessionExpiryInterval: 1 } });
    await subscribe5(first.client, 'sx/gone', { qos: 1 });
    await end(first.client);
    // The interval runs from when the session saw the connection end: then it must pass (1 s, the least there is).
    await sessionOffline(broker, 'sx-gone');
    await sleep(1100);
    const pub = await open(broker.mqttUrl, { clientId: 'sx-gone-pub' });
    await publish5(pub.client, 'sx/gone', 'after expiry', { qos: 1 });
    const again = await open(broker.mqttUrl, { clientId: 'sx-gone', clean: false, properties: { sessionExpiryInterval: 1 } });
    expect(again.connack.sessionPresent).toBe(false);
    await publish5(pub.client, 'sx/gone', 'live', { qos: 1 });
    await roundTrip(again.client); // after the PUBACK: had an old subscription matched, 'live' has arrived
    expect(again.got.messages).toHaveLength(0);
    await Promise.all([end(again.client), end(pub.client)]);
  });

  it('[MQTT-3.1.2-8 v5] [MQTT-4.1.0-2 v5] a session expires on time while nobody connects: its delayed will goes out when the session ends', async () => {
    const watcher = await open(broker.mqttUrl, { clientId: 'sx-alarm-watch' });
    await subscribe5(watcher.client, 'sx/alarm/will', { qos: 1 });
    const victim = await open(broker.mqttUrl, {
      clientId: 'sx-alarm',
      properties: { sessionExpiryInterval: 1 },
      will: { topic: 'sx/alarm/will', payload: Buffer.from('session ended'), qos: 1, retain: false, properties: { willDelayInterval: 30 } },
    });
    const droppedAt = Date.now();
    drop(victim.client);
    // The Will Delay (30 s) outlasts the session (1 s): the will is due when the session ends [MQTT-3.1.3-9 v5].
    await watcher.got.waitFor(1, 4000);
    const elapsed = Date.now() - droppedAt;
    expect(watcher.got.messages[0]!.payload).toBe('session ended');
    expect(elapsed).toBeGreaterThanOrEqual(900);
    await end(watcher.client);
  });

  it('[MQTT-3.1.2-4 v5] [MQTT-3.2.2-2 v5] Clean Start 1 discards the existing session: session present 0, queued messages and subscriptions gone', async () => {
    const first = await open(broker.mqttUrl, { clientId: 'cs-1', clean: false, properties: { sessionExpiryInterval: 30 } });
    await subscribe5(first.client, 'cs/t', { qos: 1 });
    await end(first.client);
    const pub = await open(broker.mqttUrl, { clientId: 'cs-1-pub' });
    await publish5(pub.client, 'cs/t', 'queued', { qos: 1 });
    const fresh = await open(broker.mqttUrl, { clientId: 'cs-1', clean: true, properties: { sessionExpiryInterval: 30 } });
    expect(fresh.connack.sessionPresent).toBe(false);
    await publish5(pub.client, 'cs/t', 'live', { qos: 1 });
    await roundTrip(fresh.client); // after the PUBACK, and after whatever the session sent with CONNACK
    expect(fresh.got.messages).toHaveLength(0);
    await Promise.all([end(fresh.client), end(pub.client)]);
  });

  it('[MQTT-3.1.2-23 v5] Session Expiry Interval 0 (absent) ends the session with the connection', async () => {
    const first = await open(broker.mqttUrl, { clientId: 'sx-zero', clean: false });
    await subscribe5(first.client, 'sx/zero', { qos: 1 });
    await end(first.client);
    const pub = await open(broker.mqttUrl, { clientId: 'sx-zero-pub' });
    await publish5(pub.client, 'sx/zero', 'nobody keeps this', { qos: 1 });
    const again = await open(broker.mqttUrl, { clientId: 'sx-zero', clean: false });
    expect(again.connack.sessionPresent).toBe(false);
    await roundTrip(again.client); // a queue would have been sent with CONNACK
    expect(again.got.messages).toHaveLength(0);
    await Promise.all([end(again.client), end(pub.client)]);
  });

  it('[MQTT-4.13.1-1 v5] a DISCONNECT setting a Session Expiry Interval when CONNECT had 0 is a Protocol Error: DISCONNECT 0x82 and close (§3.14.2.2.2)', async () => {
    const raw = await rawConnect(broker.mqttUrl, 'sx-late');
    await raw.send(wire({ type: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 60 } }));
    const disconnect = await awaitPacket(raw, isType('disconnect'));
    expect(disconnect?.reasonCode).toBe(0x82);
    expect(await raw.waitClosed()).toBe(true);
    // The session was not extended.
    const again = await open(broker.mqttUrl, { clientId: 'sx-late', clean: false });
    expect(again.connack.sessionPresent).toBe(false);
    await end(again.client);
  });
});

describe('MQTT 5.0 message expiry', () => {
  it('[MQTT-3.3.2-5 v5] a queued QoS 1 message whose Message Expiry Interval passed is not delivered', async () => {
    const sub = await open(broker.mqttUrl, { clientId: 'mx-short', clean: false, properties: { sessionExpiryInterval: 60 } });
    await subscribe5(sub.client, 'mx/short', { qos: 1 });
    await end(sub.client);
    const pub = await open(broker.mqttUrl, { clientId: 'mx-short-pub' });
    await publish5(pub.client, 'mx/short', 'expires', { qos: 1, properties: { messageExpiryInterval: 1 } });
    await publish5(pub.client, 'mx/short', 'stays', { qos: 1 });
    await sleep(1100); // 'expires' was stamped before its PUBACK: more than its 1 s has passed
    const again = await open(broker.mqttUrl, { clientId: 'mx-short', clean: false, properties: { sessionExpiryInterval: 60 } });
    expect(again.connack.sessionPresent).toBe(true);
    await again.got.waitFor(1);
    await sentinel(pub.client, 'mx/short', again.got);
    expect(again.got.messages.map((m) => m.payload)).toEqual(['stays']);
    await Promise.all([end(again.client, true), end(pub.client)]);
  });

  it('[MQTT-3.3.2-6 v5] a queued message is delivered with its Message Expiry Interval minus the time it waited', async () => {
    const sub = await open(broker.mqttUrl, { clientId: 'mx-long', clean: false, properties: { sessionExpiryInterval: 60 } });
    await subscribe5(sub.client, 'mx/long', { qos: 1 });
    await end(sub.client);
    const pub = await open(broker.mqttUrl, { clientId: 'mx-long-pub' });
    await publish5(pub.client, 'mx/long', 'lives a minute', { qos: 1, properties: { messageExpiryInterval: 60 } });
    await sleep(1100);
    const again = await open(broker.mqttUrl, { clientId: 'mx-long', clean: false, properties: { sessionExpiryInterval: 60 } });
    const [message] = await again.got.waitFor(1);
    expect(message!.payload).toBe('lives a minute');
    const remaining = message!.packet.properties?.messageExpiryInterval;
    expect(remaining).toBeGreaterThan(0);
    expect(remaining).toBeLessThan(60); // 1.1 s of waiting came off (rounded up: 59)
    await Promise.all([end(again.client, true), end(pub.client)]);
  });

  it('[MQTT-3.3.2-5 v5] a retained message whose Message Expiry Interval passed is not sent to a new subscriber', async () => {
    const pub = await open(broker.mqttUrl, { clientId: 'mx-ret-pub' });
    await publish5(pub.client, 'mx/ret', 'short-lived', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
    // While it lives, a new subscriber gets it, with at most the interval left.
    const early = await open(broker.mqttUrl, { clientId: 'mx-ret-early' });
    await subscribe5(early.client, 'mx/ret', { qos: 1 });
    const [first] = await early.got.waitFor(1);
    expect(first!.packet.retain).toBe(true);
    expect(first!.packet.properties?.messageExpiryInterval).toBeLessThanOrEqual(1);
    await sleep(1100); // it was stamped before its PUBACK: more than its 1 s has passed
    const late = await open(broker.mqttUrl, { clientId: 'mx-ret-late' });
    await subscribe5(late.client, 'mx/ret', { qos: 1 });
    await roundTrip(late.client); // retained messages go out with the SUBACK
    expect(late.got.messages).toHaveLength(0);
    await publish5(pub.client, 'mx/ret', '', { qos: 1, retain: true });
    await Promise.all([end(early.client), end(late.client), end(pub.client)]);
  });
});

describe('MQTT 5.0 wills', () => {
  it('[MQTT-3.1.3-9 v5] a reconnect within the Will Delay Interval means the will is never published', async () => {
    const watcher = await open(broker.mqttUrl, { clientId: 'wd-re-watch' });
    await subscribe5(watcher.client, 'wd/re/will', { qos: 1 });
    const options: IClientOptions = { clientId: 'wd-re', clean: false, properties: { sessionExpiryInterval: 10 } };
    const first = await open(broker.mqttUrl, {
      ...options,
      will: { topic: 'wd/re/will', payload: Buffer.from('gone'), qos: 1, retain: false, properties: { willDelayInterval: 2 } },
    });
    drop(first.client);
    await sessionOffline(broker, 'wd-re'); // the socket loss is seen: a reconnect, not a take-over
    const lostBy = Date.now();
    const again = await open(broker.mqttUrl, options);
    expect(again.connack.sessionPresent).toBe(true);
    // Past the moment the will was due (2 s after the loss), with room for a late alarm; then a marker from
    // the same session on the will topic comes after any will it published.
    await sleep(lostBy + 2500 - Date.now());
    await sentinel(again.client, 'wd/re/will', watcher.got);
    expect(watcher.got.messages).toHaveLength(0);
    await Promise.all([end(again.client), end(watcher.client)]);
  });

  it('[MQTT-3.1.2-8 v5] without a reconnect the will is published once the Will Delay Interval has passed', async () => {
    const watcher = await open(broker.mqttUrl, { clientId: 'wd-late-watch' });
    await subscribe5(watcher.client, 'wd/late/will', { qos: 1 });
    let arrivedAt = 0;
    watcher.client.on('message', () => (arrivedAt ||= Date.now()));
    const victim = await open(broker.mqttUrl, {
      clientId: 'wd-late',
      properties: { sessionExpiryInterval: 10 },
      will: { topic: 'wd/late/will', payload: Buffer.from('late'), qos: 1, retain: false, properties: { willDelayInterval: 2, contentType: 'text/plain' } },
    });
    const droppedAt = Date.now();
    drop(victim.client);
    await watcher.got.waitFor(1, 5000);
    expect(watcher.got.messages[0]!.payload).toBe('late');
    expect(watcher.got.messages[0]!.packet.properties?.contentType).toBe('text/plain');
    expect(arrivedAt - droppedAt).toBeGreaterThanOrEqual(1500);
    expect(arrivedAt - droppedAt).toBeLessThan(4500);
    await end(watcher.client);
  });

  it('[MQTT-3.14.4-3 v5] DISCONNECT with reason 0x04 (Disconnect with Will Message) publishes the will', async () => {
    const watcher = await open(broker.mqttUrl, { clientId: 'w4-watch' });
    await subscribe5(watcher.client, 'w4/will', { qos: 1 });
    const leaver = await open(broker.mqttUrl, {
      clientId: 'w4',
      will: { topic: 'w4/will', payload: Buffer.from('asked for'), qos: 1, retain: false },
    });
    await new Promise<void>((resolve) => leaver.client.end(false, { reasonCode: 0x04 }, () => resolve()));
    await watcher.got.waitFor(1);
    expect(watcher.got.messages[0]!.payload).toBe('asked for');
    await end(watcher.client);
  });
});

describe('MQTT 5.0 server DISCONNECT reasons', () => {
  it('[MQTT-3.1.4-3 v5] a take-over sends the old 5.0 connection DISCONNECT 0x8E and closes it', async () => {
    const old = await open(broker.mqttUrl, { clientId: 'takeover5' });
    const reason = nextDisconnect(old.client);
    const gone = closed(old.client);
    const fresh = await open(broker.mqttUrl, { clientId: 'takeover5' });
    expect(await reason).toBe(0x8e);
    await gone;
    expect(fresh.client.connected).toBe(true);
    await end(fresh.client);
    await end(old.client, true);
  });

  it('[MQTT-3.1.2-22 v5] a silent client is sent DISCONNECT 0x8D (Keep Alive timeout) after 1.5 × its keepalive', async () => {
    const startedAt = Date.now();
    const raw = await rawConnect(broker.mqttUrl, 'ka-silent', { keepAlive: 1 });
    const disconnect = await awaitPacket(raw, isType('disconnect'), 6000);
    expect(disconnect?.reasonCode).toBe(0x8d);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1400);
    expect(await raw.waitClosed()).toBe(true);
  });
});

describe('MQTT 5.0 topic aliases', () => {
  it('[MQTT-3.3.2-12 v5] the server accepts a Topic Alias the client defines and resolves an empty topic through it', async () => {
    const sub = await open(broker.mqttUrl, { clientId: 'tai-sub' });
    await subscribe5(sub.client, 'tai/full/topic', { qos: 1 });
    const pub = await open(broker.mqttUrl, { clientId: 'tai-pub' });
    await publish5(pub.client, 'tai/full/topic', 'defines', { qos: 1, properties: { topicAlias: 1 } });
    await publish5(pub.client, '', 'uses', { qos: 1, properties: { topicAlias: 1 } });
    await publish5(pub.client, '', 'uses again', { qos: 0, properties: { topicAlias: 1 } });
    await sub.got.waitFor(3);
    expect(sub.got.messages.map((m) => [m.topic, m.payload])).toEqual([
      ['tai/full/topic', 'defines'],
      ['tai/full/topic', 'uses'],
      ['tai/full/topic', 'uses again'],
    ]);
    await Promise.all([end(sub.client), end(pub.client)]);
  });

  it('[MQTT-3.3.2-8 v5] [MQTT-3.3.2-9 v5] a Topic Alias of 0 or above the Topic Alias Maximum gets DISCONNECT 0x94', async () => {
    for (const [clientId, topicAlias] of [
      ['ta-zero', 0],
      ['ta-over', TOPIC_ALIAS_MAXIMUM + 1],
    ] as const) {
      const raw = await rawConnect(broker.mqttUrl, clientId);
      await raw.send(wire({ type: 'publish', topic: 'ta/bad', payload: new Uint8Array([1]), qos: 0, retain: false, dup: false, properties: { topicAlias } }));
      const disconnect = await awaitPacket(raw, isType('disconnect'));
      expect({ topicAlias, reasonCode: disconnect?.reasonCode }).toEqual({ topicAlias, reasonCode: 0x94 });
      expect(await raw.waitClosed()).toBe(true);
    }
  });

  it('[MQTT-4.13.1-1 v5] an empty topic with a Topic Alias never defined is a Protocol Error: DISCONNECT 0x82 (§3.3.2.3.4)', async () => {
    const raw = await rawConnect(broker.mqttUrl, 'ta-unknown');
    await raw.send(wire({ type: 'publish', topic: '', payload: new Uint8Array([1]), qos: 1, packetId: 1, retain: false, dup: false, properties: { topicAlias: 7 } }));
    const disconnect = await awaitPacket(raw, isType('disconnect'));
    expect(disconnect?.reasonCode).toBe(0x82);
    expect(await raw.waitClosed()).toBe(true);
  });

  it('[MQTT-3.3.2-11 v5] [MQTT-3.1.2-26 v5] with Topic Alias Maximum 5 the server sends aliases (topic once, then empty), never above 5', async () => {
    const sub = await open(broker.mqttUrl, { clientId: 'tao-sub', properties: { topicAliasMaximum: 5 } });
    const seen: Array<{ topic: string; alias?: number }> = [];
    sub.client.on('packetreceive', (p: Packet) => {
      if (p.cmd === 'publish') seen.push({ topic: p.topic.toString(), alias: p.properties?.topicAlias });
    });
    await subscribe5(sub.client, 'tao/#', { qos: 1 });
    const pub = await open(broker.mqttUrl, { clientId: 'tao-pub' });
    for (let i = 0; i < 3; i++) await publish5(pub.client, 'tao/same', `s${i}`, { qos: 1 });
    const others = ['tao/b', 'tao/c', 'tao/d', 'tao/e', 'tao/f', 'tao/g'];
    for (const topic of others) await publish5(pub.client, topic, topic, { qos: 1 });
    await sub.got.waitFor(9);
    // mqtt.js resolves every alias back to the full topic.
    expect(sub.got.messages.map((m) => m.topic)).toEqual(['tao/same', 'tao/same', 'tao/same', ...others]);
    const alias = seen[0]!.alias;
    expect(alias).toBeGreaterThanOrEqual(1);
    expect(seen.slice(0, 3)).toEqual([
      { topic: 'tao/same', alias },
      { topic: '', alias },
      { topic: '', alias },
    ]);
    for (const packet of seen) if (packet.alias !== undefined) expect(packet.alias).toBeLessThanOrEqual(5);
    expect(sub.errors).toEqual([]);
    await Promise.all([end(sub.client), end(pub.client)]);
  });

  it('[MQTT-3.1.2-27 v5] without a Topic Alias Maximum the server sends no Topic Alias', async () => {
    const sub = await open(broker.mqttUrl, { clientId: 'tao-none-sub' });
    const aliases: Array<number | undefined> = [];
    sub.client.on('packetreceive', (p: Packet) => p.cmd === 'publish' && aliases.push(p.properties?.topicAlias));
    await subscribe5(sub.client, 'tao-none/t', { qos: 1 });
    const pub = await open(broker.mqttUrl, { clientId: 'tao-none-pub' });
    for (let i = 0; i < 3; i++) await publish5(pub.client, 'tao-none/t', `n${i}`, { qos: 1 });
    await sub.got.waitFor(3);
    expect(aliases).toEqual([undefined, undefined, undefined]);
    await Promise.all([end(sub.client), end(pub.client)]);
  });
});

describe('MQTT 5.0 flow control and packet size', () => {
  it('[MQTT-3.3.4-9 v5] [MQTT-4.9.0-2 v5] a burst of 20 QoS 1 messages to a client with Receive Maximum 3: never more than 3 unacknowledged, all 20 in order', async () => {
    const sub = await open(broker.mqttUrl, { clientId: 'rm-sub', properties: { receiveMaximum: 3 } });
    await subscribe5(sub.client, 'rm/t', { qos: 1 });
    // Hold PUBACKs without stalling mqtt.js (holding handleMessage's callback would stop it reading further
    // packets, so an excess PUBLISH would go unseen): intercept them on their way out.
    let unacknowledged = 0;
    let most = 0;
    const held: Array<() => void> = [];
    sub.client.on('packetreceive', (p: Packet) => {
      if (p.cmd !== 'publish') return;
      unacknowledged++;
      most = Math.max(most, unacknowledged);
    });
    const internals = sub.client as unknown as { _sendPacket(packet: Packet, cb?: (error?: Error) => void, ...rest: unknown[]): void };
    const send = internals._sendPacket.bind(sub.client);
    internals._sendPacket = (packet, cb, ...rest) => {
      if (packet.cmd !== 'puback') return send(packet, cb, ...rest);
      held.push(() => {
        unacknowledged--;
        send(packet);
      });
      cb?.();
    };
    const pub = await open(broker.mqttUrl, { clientId: 'rm-pub' });
    const burst = Promise.all(Array.from({ length: 20 }, (_, i) => publish5(pub.client, 'rm/t', String(i), { qos: 1 })));
    let acknowledged = 0;
    while (acknowledged < 20) {
      const window = Math.min(3, 20 - acknowledged);
      await waitUntil(() => held.length >= window, { intervalMs: 5, what: `${window} unacknowledged messages` });
      expect(held.length).toBe(window);
      // Room for the server to overrun the window, if it would: whatever the session sent before reading
      // this round trip (all it had been given by then) has arrived.
      await roundTrip(sub.client);
      expect(unacknowledged).toBeLessThanOrEqual(3);
      const batch = held.splice(0);
      acknowledged += batch.length;
      for (const release of batch) release();
    }
    await burst;
    expect(most).toBeLessThanOrEqual(3);
    expect(most).toBe(3); // the window was used, not just respected
    expect(sub.got.messages.map((m) => m.payload)).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    await Promise.all([end(sub.client), end(pub.client)]);
  });

  it('[MQTT-3.1.2-24 v5] [MQTT-3.1.2-25 v5] a message larger than the client Maximum Packet Size is not sent; a small one afterwards is', async () => {
    const sub = await open(broker.mqttUrl, { clientId: 'mps-sub', properties: { maximumPacketSize: 200 } });
    const sizes: number[] = [];
    sub.client.on('packetreceive', (p: Packet) => p.cmd === 'publish' && sizes.push(p.length ?? 0));
    await subscribe5(sub.client, 'mps/t', { qos: 1 });
    const pub = await open(broker.mqttUrl, { clientId: 'mps-pub' });
    await publish5(pub.client, 'mps/t', 'x'.repeat(500), { qos: 1 });
    await publish5(pub.client, 'mps/t', 'small', { qos: 1 });
    await sub.got.waitFor(1);
    await sentinel(pub.client, 'mps/t', sub.got);
    expect(sub.got.messages.map((m) => m.payload)).toEqual(['small']);
    expect(sub.errors).toEqual([]); // mqtt.js raises 0x95 on an oversized packet
    expect(sub.client.connected).toBe(true);
    await Promise.all([end(sub.client), end(pub.client)]);
  });
});

describe('MQTT 5.0 SUBSCRIBE and UNSUBSCRIBE', () => {
  it('[MQTT-3.11.3-2 v5] [MQTT-3.11.3-1 v5] UNSUBACK gives 0x11 for a filter never subscribed and 0x00 for a held one, in order', async () => {
    const { client } = await open(broker.mqttUrl, { clientId: 'unsuback5' });
    await subscribe5(client, 'unsub5/held', { qos: 1 });
    expect(await unsubscribe5(client, ['unsub5/never', 'unsub5/held'])).toEqual([0x11, 0x00]);
    expect(await unsubscribe5(client, ['unsub5/held'])).toEqual([0x11]);
    await end(client);
  });

  it('[MQTT-3.9.3-2 v5] SUBACK gives 0x8F (Topic Filter invalid) for an invalid filter, granted QoS for the others', async () => {
    const raw = await rawConnect(broker.mqttUrl, 'suback5');
    await raw.send(
      wire({
        type: 'subscribe',
        packetId: 3,
        subscriptions: [
          { topicFilter: 'a/#/b', qos: 1 },
          { topicFilter: 'ok/+', qos: 2 },
          { topicFilter: 'a+', qos: 0 },
        ],
      }),
    );
    const suback = await awaitPacket(raw, isType('suback'));
    expect(suback).toMatchObject({ packetId: 3, reasonCodes: [0x8f, 2, 0x8f] });
    raw.close();
  });

  it('[MQTT-3.3.4-3 v5] the Subscription Identifier goes with matching messages and with the retained messages sent on subscribe', async () => {
    const pub = await open(broker.mqttUrl, { clientId: 'sid-pub' });
    await publish5(pub.client, 'sid/kept', 'retained', { qos: 1, retain: true });
    const sub = await open(broker.mqttUrl, { clientId: 'sid-sub' });
    await subscribe5(sub.client, 'sid/#', { qos: 1, properties: { subscriptionIdentifier: 7 } });
    await subscribe5(sub.client, 'sid/live', { qos: 1 });
    const [retained] = await sub.got.waitFor(1);
    expect([retained!.topic, retained!.packet.retain, subscriptionIds(retained!.packet)]).toEqual(['sid/kept', true, [7]]);
    await publish5(pub.client, 'sid/other', 'one filter', { qos: 1 });
    await publish5(pub.client, 'sid/live', 'two filters', { qos: 1 });
    await sub.got.waitFor(3);
    await sentinel(pub.client, 'sid/live', sub.got);
    // One copy per message [MQTT-3.3.4-4 v5]: 'sid/live' matches both, only 'sid/#' has an identifier.
    expect(sub.got.messages.slice(1).map((m) => [m.topic, subscriptionIds(m.packet)])).toEqual([
      ['sid/other', [7]],
      ['sid/live', [7]],
    ]);
    await publish5(pub.client, 'sid/kept', '', { qos: 1, retain: true });
    await Promise.all([end(sub.client), end(pub.client)]);
  });

  it('[MQTT-3.3.1-11 v5] Retain Handling 2 sends no retained messages on subscribe', async () => {
    const pub = await open(broker.mqttUrl, { clientId: 'rh2-pub' });
    await publish5(pub.client, 'rh2/t', 'retained', { qos: 1, retain: true });
    const sub = await open(broker.mqttUrl, { clientId: 'rh2-sub' });
    await subscribe5(sub.client, 'rh2/t', { qos: 1, rh: 2 });
    await roundTrip(sub.client); // retained messages go out with the SUBACK
    expect(sub.got.messages).toHaveLength(0);
    // The subscription itself works.
    await publish5(pub.client, 'rh2/t', 'live', { qos: 1 });
    await sub.got.waitFor(1);
    expect(sub.got.messages.map((m) => [m.payload, m.packet.retain])).toEqual([['live', false]]);
    await publish5(pub.client, 'rh2/t', '', { qos: 1, retain: true });
    await Promise.all([end(sub.client), end(pub.client)]);
  });

  it('[MQTT-3.3.1-10 v5] Retain Handling 1 sends retained messages for a new subscription only, not when it is repeated', async () => {
    const pub = await open(broker.mqttUrl, { clientId: 'rh1-pub' });
    await publish5(pub.client, 'rh1/t', 'retained', { qos: 1, retain: true });
    const sub = await open(broker.mqttUrl, { clientId: 'rh1-sub' });
    await subscribe5(sub.client, 'rh1/t', { qos: 1, rh: 1 });
    await sub.got.waitFor(1);
    expect(sub.got.messages.map((m) => [m.payload, m.packet.retain])).toEqual([['retained', true]]);
    await subscribe5(sub.client, 'rh1/t', { qos: 1, rh: 1 });
    await roundTrip(sub.client);
    expect(sub.got.messages).toHaveLength(1);
    // Retain Handling 0 on the same, existing subscription sends it again [MQTT-3.3.1-9 v5].
    await subscribe5(sub.client, 'rh1/t', { qos: 1, rh: 0 });
    await sub.got.waitFor(2);
    expect(sub.got.messages[1]!.payload).toBe('retained');
    await publish5(pub.client, 'rh1/t', '', { qos: 1, retain: true });
    await Promise.all([end(sub.client), end(pub.client)]);
  });
});

describe('MQTT 5.0 inbound Receive Maximum (RECEIVE_MAXIMUM=2)', () => {
  let small: RunningBroker;
  beforeAll(async () => {
    small = await startBroker({ vars: { RECEIVE_MAXIMUM: '2' } });
  });
  afterAll(async () => {
    await small?.stop();
  });

  const publishPacket = (packetId: number, qos: 1 | 2): WirePacket => ({
    type: 'publish',
    topic: 'rmi/t',
    payload: new TextEncoder().encode(`m${packetId}`),
    qos,
    packetId,
    retain: false,
    dup: false,
  });

  it('[MQTT-3.3.4-7 v5] CONNACK announces Receive Maximum 2; three unacknowledged QoS 1 PUBLISH packets get DISCONNECT 0x93', async () => {
    const raw = new RawClient(small.mqttUrl);
    await raw.send(wire({ type: 'connect', protocolName: 'MQTT', protocolVersion: 5, cleanSession: true, keepAlive: 30, clientId: 'rmi-q1' }));
    expect((await awaitPacket(raw, isType('connack')))?.properties?.receiveMaximum).toBe(2);
    // Two at once are within the limit.
    await raw.send(wire(publishPacket(1, 1), publishPacket(2, 1)));
    await raw.until(() => packetsOf(raw).filter(isType('puback')).length >= 2);
    expect(packetsOf(raw).filter(isType('puback')).map((p) => p.packetId)).toEqual([1, 2]);
    // Three in one frame: the server has acknowledged none of them when the third arrives.
    await raw.send(wire(publishPacket(3, 1), publishPacket(4, 1), publishPacket(5, 1)));
    const disconnect = await awaitPacket(raw, isType('disconnect'));
    expect(disconnect?.reasonCode).toBe(0x93);
    expect(await raw.waitClosed()).toBe(true);
  });

  it('[MQTT-3.3.4-7 v5] a QoS 2 PUBLISH counts until PUBCOMP: a third unreleased one (after two PUBRECs) gets DISCONNECT 0x93', async () => {
    const raw = new RawClient(small.mqttUrl);
    await raw.send(wire({ type: 'connect', protocolName: 'MQTT', protocolVersion: 5, cleanSession: true, keepAlive: 30, clientId: 'rmi-q2' }));
    await awaitPacket(raw, isType('connack'));
    await raw.send(wire(publishPacket(1, 2)));
    await raw.until(() => packetsOf(raw).filter(isType('pubrec')).length >= 1);
    await raw.send(wire(publishPacket(2, 2)));
    await raw.until(() => packetsOf(raw).filter(isType('pubrec')).length >= 2);
    // Neither was released (no PUBREL, so no PUBCOMP): both still count against Receive Maximum 2.
    await raw.send(wire(publishPacket(3, 2)));
    const answer = await awaitPacket(raw, (p): p is WirePacket => p.type === 'disconnect' || (p.type === 'pubrec' && p.packetId === 3));
    expect(answer).toMatchObject({ type: 'disconnect', reasonCode: 0x93 });
    raw.close();
  });
});
