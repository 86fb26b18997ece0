// Sessions: take-over, clean and persistent sessions, offline queue, resend with DUP, exactly-once QoS 2.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionOffline, startBroker, type RunningBroker } from './broker.js';
import { RawClient, connectBytes, connectClient, end, publish, publishBytes, recorder, roundTrip, sentinel, subscribe, subscribeBytes } from './clients.js';

let broker: RunningBroker;
beforeAll(async () => {
  broker = await startBroker({ vars: { MAX_QUEUED: '5' } });
});
afterAll(async () => {
  await broker?.stop();
});

describe('sessions', () => {
  it('[MQTT-3.1.4-2] a new connection with a live client id closes the old one', async () => {
    const first = await connectClient(broker.mqttUrl, { clientId: 'takeover' });
    const closed = new Promise<void>((resolve) => first.once('close', () => resolve()));
    const second = await connectClient(broker.mqttUrl, { clientId: 'takeover' });
    await closed;
    expect(second.connected).toBe(true);
    await end(second);
    await end(first, true);
  });

  it('[MQTT-3.2.2-2] clean session 0 resumes subscriptions with session present set', async () => {
    const sub = await connectClient(broker.mqttUrl, { clientId: 'persist-sub', clean: false });
    await subscribe(sub, 'persist/t', 1);
    await end(sub);
    const again = await connectClient(broker.mqttUrl, { clientId: 'persist-sub', clean: false });
    const got = recorder(again);
    const present = await new Promise<boolean>((resolve) => {
      // The CONNACK has already been handled; mqtt.js keeps it on the client.
      resolve(Boolean((again as unknown as { connackPacket?: { sessionPresent: boolean } }).connackPacket?.sessionPresent));
    });
    expect(present).toBe(true);
    const pub = await connectClient(broker.mqttUrl, { clientId: 'persist-pub' });
    await publish(pub, 'persist/t', 'resumed', { qos: 1 });
    await got.waitFor(1);
    expect(got.messages[0]!.payload).toBe('resumed');
    await Promise.all([end(again), end(pub)]);
  });

  it('[MQTT-3.2.2-1] clean session 1 discards state: session present 0 and no old subscriptions', async () => {
    const sub = await connectClient(broker.mqttUrl, { clientId: 'clean-sub', clean: false });
    await subscribe(sub, 'clean/t', 1);
    await end(sub);
    const fresh = await connectClient(broker.mqttUrl, { clientId: 'clean-sub', clean: true });
    expect((fresh as unknown as { connackPacket?: { sessionPresent: boolean } }).connackPacket?.sessionPresent).toBe(false);
    const got = recorder(fresh);
    const pub = await connectClient(broker.mqttUrl, { clientId: 'clean-pub' });
    await publish(pub, 'clean/t', 'gone', { qos: 1 });
    await roundTrip(fresh); // after the PUBACK: anything delivered to this session has arrived
    expect(got.messages).toHaveLength(0);
    await Promise.all([end(fresh), end(pub)]);
    // After a clean session ends, a persistent reconnect finds nothing either.
    const later = await connectClient(broker.mqttUrl, { clientId: 'clean-sub', clean: false });
    expect((later as unknown as { connackPacket?: { sessionPresent: boolean } }).connackPacket?.sessionPresent).toBe(false);
    await end(later);
  });

  it('[MQTT-3.1.2-5] an offline persistent session queues QoS 1/2 (not QoS 0) and delivers in order', async () => {
    const sub = await connectClient(broker.mqttUrl, { clientId: 'queue-sub', clean: false });
    // QoS 1 subscription: mqtt.js emits QoS 2 messages only at PUBREL, which would reorder what we observe.
    await subscribe(sub, 'queue/#', 1);
    await end(sub);
    const pub = await connectClient(broker.mqttUrl, { clientId: 'queue-pub' });
    await publish(pub, 'queue/a', 'q1', { qos: 1 });
    await publish(pub, 'queue/b', 'q0', { qos: 0 });
    await publish(pub, 'queue/a', 'q2', { qos: 2 });
    await publish(pub, 'queue/c', 'q3', { qos: 1 });
    const back = await connectClient(broker.mqttUrl, { clientId: 'queue-sub', clean: false });
    const got = recorder(back);
    await got.waitFor(3);
    await sentinel(pub, 'queue/c', got); // after q3, from its publisher
    expect(got.messages.map((m) => m.payload)).toEqual(['q1', 'q2', 'q3']);
    await Promise.all([end(back), end(pub)]);
  });

  it('[DESIGN §3] the offline queue is bounded: the oldest messages are dropped', async () => {
    const sub = await connectClient(broker.mqttUrl, { clientId: 'bound-sub', clean: false });
    await subscribe(sub, 'bound/t', 1);
    await end(sub);
    const pub = await connectClient(broker.mqttUrl, { clientId: 'bound-pub' });
    for (let i = 0; i < 8; i++) await publish(pub, 'bound/t', String(i), { qos: 1 });
    const back = await connectClient(broker.mqttUrl, { clientId: 'bound-sub', clean: false });
    const got = recorder(back);
    await got.waitFor(5);
    await sentinel(pub, 'bound/t', got);
    expect(got.messages.map((m) => m.payload)).toEqual(['3', '4', '5', '6', '7']);
    await Promise.all([end(back), end(pub)]);
  });

  it('[MQTT-4.4.0-1] unacknowledged QoS 1 messages are resent with DUP=1 on reconnect', async () => {
    // A raw subscriber that never sends PUBACK.
    const raw = new RawClient(broker.mqttUrl);
    await raw.send(connectBytes({ clientId: 'noack', cleanSession: false }));
    await raw.until((b) => b.length >= 4);
    await raw.send(subscribeBytes(1, [['noack/t', 1]]));
    await raw.until((b) => b.length >= 9); // CONNACK + SUBACK
    const pub = await connectClient(broker.mqttUrl, { clientId: 'noack-pub' });
    await publish(pub, 'noack/t', 'please-ack', { qos: 1 });
    const bytes = await raw.until((b) => b.length > 9);
    expect(bytes[9]! & 0xf0).toBe(0x30);
    expect(bytes[9]! & 0x08).toBe(0); // first delivery: DUP=0
    raw.terminate();
    await sessionOffline(broker, 'noack'); // a reconnect, not a take-over
    const back = await connectClient(broker.mqttUrl, { clientId: 'noack', clean: false });
    const got = recorder(back);
    await got.waitFor(1);
    expect(got.messages[0]!.payload).toBe('please-ack');
    expect(got.messages[0]!.packet.dup).toBe(true);
    await Promise.all([end(back), end(pub)]);
  });

  it('[MQTT-4.3.3-2] an inbound QoS 2 PUBLISH sent twice before PUBREL is delivered once', async () => {
    const sub = await connectClient(broker.mqttUrl, { clientId: 'once-sub' });
    const got = recorder(sub);
    await subscribe(sub, 'once/t', 2);
    const raw = new RawClient(broker.mqttUrl);
    await raw.send(connectBytes({ clientId: 'once-pub', cleanSession: false }));
    await raw.until((b) => b.length >= 4);
    await raw.send(publishBytes('once/t', 'exactly', { qos: 2, packetId: 7 }));
    await raw.until((b) => b.length >= 8); // PUBREC
    await raw.send(publishBytes('once/t', 'exactly', { qos: 2, packetId: 7, dup: true }));
    const bytes = await raw.until((b) => b.length >= 12);
    expect([...bytes.subarray(4, 12)]).toEqual([0x50, 2, 0, 7, 0x50, 2, 0, 7]);
    await raw.send([0x62, 2, 0, 7]); // PUBREL
    const done = await raw.until((b) => b.length >= 16);
    expect([...done.subarray(12, 16)]).toEqual([0x70, 2, 0, 7]);
    // A QoS 2 marker from the same publisher on the same topic: mqtt.js reports QoS 2 messages at PUBREL, in order.
    await raw.send(publishBytes('once/t', 'marker', { qos: 2, packetId: 8 }));
    await raw.until((b) => b.length >= 20); // PUBREC
    await raw.send([0x62, 2, 0, 8]);
    await got.takeMarker('marker');
    expect(got.messages.map((m) => m.payload)).toEqual(['exactly']);
    raw.close();
    await end(sub);
  });

  it('[MQTT-3.8.4-5] SUBACK has one code per filter; an invalid filter gets 0x80', async () => {
    const raw = new RawClient(broker.mqttUrl);
    await raw.send(connectBytes({ clientId: 'suback' }));
    await raw.until((b) => b.length >= 4);
    await raw.send(subscribeBytes(9, [['ok/+', 2], ['bad/#/x', 1], ['fine', 0], ['a+', 1]]));
    const bytes = await raw.until((b) => b.length >= 12);
    expect([...bytes.subarray(4, 12)]).toEqual([0x90, 6, 0, 9, 2, 0x80, 0, 0x80]);
    raw.close();
  });

  it('[MQTT-3.8.4-3] re-subscribing replaces the QoS and re-sends retained messages', async () => {
    const pub = await connectClient(broker.mqttUrl, { clientId: 'resub-pub' });
    await publish(pub, 'resub/t', 'kept', { qos: 1, retain: true });
    const sub = await connectClient(broker.mqttUrl, { clientId: 'resub-sub' });
    const got = recorder(sub);
    expect(await subscribe(sub, 'resub/t', 0)).toEqual([{ topic: 'resub/t', qos: 0 }]);
    await got.waitFor(1);
    expect(await subscribe(sub, 'resub/t', 1)).toEqual([{ topic: 'resub/t', qos: 1 }]);
    await got.waitFor(2);
    expect(got.messages.map((m) => [m.payload, m.packet.qos, m.packet.retain])).toEqual([
      ['kept', 0, true],
      ['kept', 1, true],
    ]);
    await publish(pub, 'resub/t', 'live', { qos: 1 });
    await got.waitFor(3);
    expect(got.messages[2]!.packet.qos).toBe(1);
    await sentinel(pub, 'resub/t', got);
    expect(got.messages).toHaveLength(3); // one subscription, replaced: one copy
    await publish(pub, 'resub/t', '', { qos: 0, retain: true });
    await Promise.all([end(sub), end(pub)]);
  });

  it('[MQTT-3.10.4-4] UNSUBSCRIBE stops delivery and is answered with UNSUBACK', async () => {
    const sub = await connectClient(broker.mqttUrl, { clientId: 'unsub-sub' });
    const got = recorder(sub);
    await subscribe(sub, 'unsub/#', 0);
    await new Promise<void>((resolve, reject) => sub.unsubscribe('unsub/#', (error) => (error ? reject(error) : resolve())));
    const pub = await connectClient(broker.mqttUrl, { clientId: 'unsub-pub' });
    await publish(pub, 'unsub/x', 'nobody', { qos: 1 });
    await roundTrip(sub);
    expect(got.messages).toHaveLength(0);
    await Promise.all([end(sub), end(pub)]);
  });
});
