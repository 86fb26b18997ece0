// Durability: sessions, subscriptions, queued and retained messages survive a restart of the runtime.
import { describe, expect, it } from 'vitest';
import { startBroker, tempPersistDir } from './broker.js';
import { connectClient, end, publish, recorder, subscribe } from './clients.js';

describe('persistence across a runtime restart', () => {
  it('[MQTT-4.1.0-1] persistent sessions, queued QoS 1/2 and retained messages survive a restart', async () => {
    const persistDir = tempPersistDir();
    const first = await startBroker({ persistDir });
    const sub = await connectClient(first.mqttUrl, { clientId: 'durable-sub', clean: false });
    // QoS 1 keeps observed order equal to delivery order (mqtt.js emits QoS 2 at PUBREL).
    await subscribe(sub, 'durable/#', 1);
    await end(sub);
    const pub = await connectClient(first.mqttUrl, { clientId: 'durable-pub' });
    await publish(pub, 'durable/q1', 'queued-1', { qos: 1 });
    await publish(pub, 'durable/q2', 'queued-2', { qos: 2 });
    await publish(pub, 'durable/r', 'retained', { qos: 1, retain: true });
    await end(pub);
    await first.stop();

    const second = await startBroker({ persistDir });
    try {
      const back = await connectClient(second.mqttUrl, { clientId: 'durable-sub', clean: false });
      expect((back as unknown as { connackPacket?: { sessionPresent: boolean } }).connackPacket?.sessionPresent).toBe(true);
      const got = recorder(back);
      await got.waitFor(3);
      expect(got.messages.map((m) => m.payload)).toEqual(['queued-1', 'queued-2', 'retained']);
      // The subscription itself survived: a new publish still arrives.
      const pub2 = await connectClient(second.mqttUrl, { clientId: 'durable-pub2' });
      await publish(pub2, 'durable/after', 'after-restart', { qos: 1 });
      await got.waitFor(4);
      expect(got.messages[3]!.payload).toBe('after-restart');
      // Retained messages survived too.
      const reader = await connectClient(second.mqttUrl, { clientId: 'durable-reader' });
      const readerGot = recorder(reader);
      await subscribe(reader, 'durable/r', 0);
      await readerGot.waitFor(1);
      expect(readerGot.messages[0]!.payload).toBe('retained');
      await Promise.all([end(back), end(pub2), end(reader)]);
    } finally {
      await second.stop();
    }
  });
});

describe('a connection lost in a runtime reset', () => {
  it('[MQTT-3.1.2-8] its will is published when the session next wakes, and session present is kept', async () => {
    const persistDir = tempPersistDir();
    const first = await startBroker({ persistDir });
    const victim = await connectClient(first.mqttUrl, {
      clientId: 'reset-victim',
      clean: false,
      will: { topic: 'reset/will', payload: Buffer.from('lost in reset'), qos: 1, retain: true },
    });
    // The runtime goes away with the socket open: no webSocketClose reaches the session object.
    await first.stop();
    victim.end(true);

    const second = await startBroker({ persistDir });
    try {
      const back = await connectClient(second.mqttUrl, { clientId: 'reset-victim', clean: false });
      expect((back as unknown as { connackPacket?: { sessionPresent: boolean } }).connackPacket?.sessionPresent).toBe(true);
      const watcher = await connectClient(second.mqttUrl, { clientId: 'reset-watcher' });
      const got = recorder(watcher);
      await subscribe(watcher, 'reset/will', 1);
      await got.waitFor(1);
      expect([got.messages[0]!.payload, got.messages[0]!.packet.retain]).toEqual(['lost in reset', true]);
      await Promise.all([end(back), end(watcher)]);
    } finally {
      await second.stop();
    }
  });
});
