// Durability: sessions, subscriptions, queued and retained messages survive a restart of the runtime.
import { describe, expect, it } from 'vitest';
import { startBroker, tempPersistDir } from './broker.js';
import { connectClient, end, publish, recorder, roundTrip, sentinel, subscribe } from './clients.js';

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

describe('outbound rows of a persistent session (one slot row per message, a mark row for what is live)', () => {
  it('[MQTT-4.1.0-1] [MQTT-4.4.0-1] after a restart only what was not acknowledged comes back: acknowledged messages are not resent, queued ones arrive in order with DUP 0', async () => {
    const persistDir = tempPersistDir();
    const first = await startBroker({ persistDir });
    const sub = await connectClient(first.mqttUrl, { clientId: 'slots-sub', clean: false });
    await subscribe(sub, 'slots/#', 1);
    await end(sub);
    // 30 queued while offline take 30 slots; drained and acknowledged at the reconnect, all 30 are free, and
    // their rows still say "queued": only the mark row says they are gone.
    const pub = await connectClient(first.mqttUrl, { clientId: 'slots-pub' });
    for (let i = 0; i < 30; i++) await publish(pub, 'slots/a', `a${i}`, { qos: 1 });
    const again = await connectClient(first.mqttUrl, { clientId: 'slots-sub', clean: false });
    const got = recorder(again);
    await got.waitFor(30);
    await roundTrip(again); // the PUBACKs went before this round trip's answer
    await end(again);
    // 10 queued while offline: written into 10 of the free slots; 20 rows of a* stay behind, dead.
    for (let i = 0; i < 10; i++) await publish(pub, 'slots/b', `b${i}`, { qos: 1 });
    await end(pub);
    await new Promise((resolve) => setTimeout(resolve, 2000)); // the session is quiet for 1 s: its mark row is written
    await first.stop();

    const second = await startBroker({ persistDir });
    try {
      const back = await connectClient(second.mqttUrl, { clientId: 'slots-sub', clean: false });
      const backGot = recorder(back);
      const marker = await connectClient(second.mqttUrl, { clientId: 'slots-marker' });
      await backGot.waitFor(10);
      await sentinel(marker, 'slots/end', backGot);
      expect(backGot.messages.map((m) => m.payload)).toEqual(Array.from({ length: 10 }, (_, i) => `b${i}`));
      expect(backGot.messages.every((m) => m.packet.dup === false)).toBe(true);
      await Promise.all([end(back), end(marker)]);
    } finally {
      await second.stop();
    }
  });
});

describe('a connection lost in a runtime restart (the platform\'s loss, not the client\'s)', () => {
  it('(5.0 §3.1.2.5) [MQTT-3.1.3-9 v5] no will is published when the client reconnects within the grace, and session present is kept', async () => {
    const persistDir = tempPersistDir();
    const first = await startBroker({ persistDir });
    const victim = await connectClient(first.mqttUrl, {
      clientId: 'reset-victim',
      clean: false,
      will: { topic: 'reset/will', payload: Buffer.from('lost in reset'), qos: 1, retain: true },
    });
    await subscribe(victim, 'reset/cmd', 1);
    // The runtime goes away with the socket open: no webSocketClose reaches the session object.
    await first.stop();
    victim.end(true);

    const second = await startBroker({ persistDir });
    try {
      const watcher = await connectClient(second.mqttUrl, { clientId: 'reset-watcher' });
      const got = recorder(watcher);
      await subscribe(watcher, 'reset/will', 1);
      // A delivery wakes the session first: it notices its lost owner and holds the will for the grace.
      const publisher = await connectClient(second.mqttUrl, { clientId: 'reset-publisher' });
      await publish(publisher, 'reset/cmd', 'while away', { qos: 1 });

      const back = await connectClient(second.mqttUrl, { clientId: 'reset-victim', clean: false });
      expect((back as unknown as { connackPacket?: { sessionPresent: boolean } }).connackPacket?.sessionPresent).toBe(true);
      const backGot = recorder(back);
      await backGot.waitFor(1);
      expect(backGot.messages[0]!.payload).toBe('while away');
      // A marker from the same client on the will topic comes after any will: none came.
      await sentinel(back, 'reset/will', got);
      expect(got.messages).toHaveLength(0);
      // Nor was one retained.
      const reader = await connectClient(second.mqttUrl, { clientId: 'reset-reader' });
      const readerGot = recorder(reader);
      await subscribe(reader, 'reset/will', 1);
      await roundTrip(reader);
      expect(readerGot.messages).toHaveLength(0);
      await Promise.all([end(back), end(watcher), end(publisher), end(reader)]);
    } finally {
      await second.stop();
    }
  });

  it('[MQTT-4.1.0-1] a session that never subscribed (its object stores the session row alone) is resumed from that row after a restart, will included', async () => {
    const persistDir = tempPersistDir();
    const first = await startBroker({ persistDir });
    const will = { topic: 'slim/will', payload: Buffer.from('gone after all'), qos: 1 as const, retain: false };
    const victim = await connectClient(first.mqttUrl, { clientId: 'slim-victim', clean: false, will });
    await first.stop();
    victim.end(true);

    const second = await startBroker({ persistDir });
    try {
      const watcher = await connectClient(second.mqttUrl, { clientId: 'slim-watcher' });
      const got = recorder(watcher);
      await subscribe(watcher, 'slim/will', 1);
      const back = await connectClient(second.mqttUrl, { clientId: 'slim-victim', clean: false, will });
      expect((back as unknown as { connackPacket?: { sessionPresent: boolean } }).connackPacket?.sessionPresent).toBe(true);
      // The client is back: the will of the connection the restart lost is not published.
      await sentinel(back, 'slim/will', got);
      expect(got.messages).toHaveLength(0);
      // Its first subscription needs the tables the session did without; its own will still comes when it goes.
      await subscribe(back, 'slim/cmd', 1);
      back.end(true);
      await got.waitFor(1);
      expect(got.messages[0]!.payload).toBe('gone after all');
      await end(watcher);
    } finally {
      await second.stop();
    }
  });

  it('[MQTT-3.1.2-8] a client that does not come back gets its will once the grace (WILL_GRACE_AFTER_RESTART) has passed', async () => {
    const persistDir = tempPersistDir();
    const vars = { WILL_GRACE_AFTER_RESTART: '2' };
    const first = await startBroker({ persistDir, vars });
    const victim = await connectClient(first.mqttUrl, {
      clientId: 'grace-victim',
      clean: false,
      will: { topic: 'grace/will', payload: Buffer.from('really gone'), qos: 1, retain: true },
    });
    await subscribe(victim, 'grace/cmd', 1);
    await first.stop();
    victim.end(true);

    const second = await startBroker({ persistDir, vars });
    try {
      const watcher = await connectClient(second.mqttUrl, { clientId: 'grace-watcher' });
      const got = recorder(watcher);
      await subscribe(watcher, 'grace/will', 1);
      const publisher = await connectClient(second.mqttUrl, { clientId: 'grace-publisher' });
      const noticed = Date.now();
      await publish(publisher, 'grace/cmd', 'anyone there?', { qos: 1 });
      // Noticed, not published: the will waits for the grace.
      await roundTrip(watcher);
      expect(got.messages).toHaveLength(0);

      await got.waitFor(1, 10_000);
      expect(Date.now() - noticed).toBeGreaterThanOrEqual(1_500);
      expect([got.messages[0]!.payload, got.messages[0]!.packet.retain]).toEqual(['really gone', false]);
      // Retained as asked, for whoever subscribes later.
      const reader = await connectClient(second.mqttUrl, { clientId: 'grace-reader' });
      const readerGot = recorder(reader);
      await subscribe(reader, 'grace/will', 1);
      await readerGot.waitFor(1);
      expect([readerGot.messages[0]!.payload, readerGot.messages[0]!.packet.retain]).toEqual(['really gone', true]);
      await Promise.all([end(watcher), end(publisher), end(reader)]);
    } finally {
      await second.stop();
    }
  });
});
