// Publish/subscribe through the real Worker and Durable Objects with mqtt.js over WebSocket.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from './broker.js';
import { RawClient, connectClient, end, publish, recorder, sentinel, subscribe } from './clients.js';

let broker: RunningBroker;
beforeAll(async () => {
  broker = await startBroker();
});
afterAll(async () => {
  await broker?.stop();
});

describe('publish and subscribe', () => {
  it('[MQTT-6.0.0-3] echoes the "mqtt" subprotocol and answers CONNECT with CONNACK', async () => {
    const raw = new RawClient(broker.mqttUrl, 'mqtt');
    await raw.open();
    expect(raw.protocol).toBe('mqtt');
    raw.close();
    const old = new RawClient(broker.mqttUrl, 'mqttv3.1');
    await old.open();
    expect(old.protocol).toBe('mqttv3.1');
    old.close();
    const client = await connectClient(broker.mqttUrl, { clientId: 'connack-1' });
    expect(client.connected).toBe(true);
    await end(client);
  });

  it('[MQTT-3.3.1-9] QoS 0 reaches a subscriber with RETAIN=0', async () => {
    const sub = await connectClient(broker.mqttUrl, { clientId: 'q0-sub' });
    const got = recorder(sub);
    await subscribe(sub, 'q0/topic', 0);
    const pub = await connectClient(broker.mqttUrl, { clientId: 'q0-pub' });
    await publish(pub, 'q0/topic', 'hello');
    const [message] = await got.waitFor(1);
    expect(message!.payload).toBe('hello');
    expect(message!.packet.retain).toBe(false);
    await Promise.all([end(sub), end(pub)]);
  });

  it('[MQTT-4.3.2-2] QoS 1 both directions: PUBACK to the publisher, delivered with a packet id', async () => {
    const sub = await connectClient(broker.mqttUrl, { clientId: 'q1-sub' });
    const got = recorder(sub);
    expect(await subscribe(sub, 'q1/topic', 1)).toEqual([{ topic: 'q1/topic', qos: 1 }]);
    const pub = await connectClient(broker.mqttUrl, { clientId: 'q1-pub' });
    await publish(pub, 'q1/topic', 'one', { qos: 1 });
    const [message] = await got.waitFor(1);
    expect(message!.packet.qos).toBe(1);
    expect(message!.packet.messageId).toBeGreaterThan(0);
    await Promise.all([end(sub), end(pub)]);
  });

  it('[MQTT-4.3.3-2] QoS 2 both directions: PUBREC/PUBREL/PUBCOMP, delivered once', async () => {
    const sub = await connectClient(broker.mqttUrl, { clientId: 'q2-sub' });
    const got = recorder(sub);
    await subscribe(sub, 'q2/topic', 2);
    const pub = await connectClient(broker.mqttUrl, { clientId: 'q2-pub' });
    for (let i = 0; i < 5; i++) await publish(pub, 'q2/topic', `m${i}`, { qos: 2 });
    await got.waitFor(5);
    await sentinel(pub, 'q2/topic', got, 2);
    expect(got.messages.map((m) => m.payload)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(got.messages.every((m) => m.packet.qos === 2)).toBe(true);
    await Promise.all([end(sub), end(pub)]);
  });

  it('[MQTT-3.8.4-6] delivery QoS is the minimum of message and subscription QoS', async () => {
    const sub = await connectClient(broker.mqttUrl, { clientId: 'down-sub' });
    const got = recorder(sub);
    await subscribe(sub, 'down/topic', 1);
    const pub = await connectClient(broker.mqttUrl, { clientId: 'down-pub' });
    await publish(pub, 'down/topic', 'x', { qos: 2 });
    await publish(pub, 'down/topic', 'y', { qos: 0 });
    await got.waitFor(2);
    expect(got.messages.map((m) => [m.payload, m.packet.qos])).toEqual([
      ['x', 1],
      ['y', 0],
    ]);
    await Promise.all([end(sub), end(pub)]);
  });

  it('[MQTT-3.3.5-1] overlapping subscriptions of one client get one copy at the highest QoS', async () => {
    const sub = await connectClient(broker.mqttUrl, { clientId: 'overlap-sub' });
    const got = recorder(sub);
    await subscribe(sub, { 'ov/+/x': { qos: 0 }, 'ov/#': { qos: 2 }, 'ov/a/x': { qos: 1 } });
    const pub = await connectClient(broker.mqttUrl, { clientId: 'overlap-pub' });
    await publish(pub, 'ov/a/x', 'once', { qos: 2 });
    await got.waitFor(1);
    await sentinel(pub, 'ov/a/x', got, 2);
    expect(got.messages).toHaveLength(1);
    expect(got.messages[0]!.packet.qos).toBe(2);
    await Promise.all([end(sub), end(pub)]);
  });

  it('[MQTT-4.6.0-5] messages from one publisher on one topic arrive in order', async () => {
    const sub = await connectClient(broker.mqttUrl, { clientId: 'order-sub' });
    const got = recorder(sub);
    await subscribe(sub, 'order/#', 1);
    const pub = await connectClient(broker.mqttUrl, { clientId: 'order-pub' });
    const sends = [];
    for (let i = 0; i < 200; i++) sends.push(publish(pub, 'order/t', String(i), { qos: (i % 2) as 0 | 1 }));
    await Promise.all(sends);
    await got.waitFor(200, 10_000);
    expect(got.messages.map((m) => Number(m.payload))).toEqual([...Array(200).keys()]);
    await Promise.all([end(sub), end(pub)]);
  });
});
