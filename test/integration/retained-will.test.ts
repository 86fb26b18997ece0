// Retained messages, wildcards, $ topics and the last will, end to end.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionOffline, startBroker, type RunningBroker } from './broker.js';
import { RawClient, connectBytes, connectClient, end, publish, recorder, roundTrip, sentinel, subscribe, waitUntil } from './clients.js';

let broker: RunningBroker;
beforeAll(async () => {
  broker = await startBroker({ vars: { SYS_INTERVAL: '1' } });
});
afterAll(async () => {
  await broker?.stop();
});

describe('retained messages and wildcards', () => {
  it('[MQTT-3.3.1-6] a retained message is sent on subscribe with RETAIN=1, matched by wildcards', async () => {
    const pub = await connectClient(broker.mqttUrl, { clientId: 'ret-pub' });
    await publish(pub, 'ret/a/1', 'a1', { qos: 1, retain: true });
    await publish(pub, 'ret/b/2', 'b2', { qos: 0, retain: true });
    await publish(pub, 'ret/a/1', 'a1-new', { qos: 1, retain: true }); // [MQTT-3.3.1-5] replaces
    const sub = await connectClient(broker.mqttUrl, { clientId: 'ret-sub' });
    const got = recorder(sub);
    await subscribe(sub, 'ret/#', 1);
    await got.waitFor(2);
    const byTopic = Object.fromEntries(got.messages.map((m) => [m.topic, [m.payload, m.packet.retain]]));
    expect(byTopic).toEqual({ 'ret/a/1': ['a1-new', true], 'ret/b/2': ['b2', true] });
    await Promise.all([end(sub), end(pub)]);
  });

  it('[MQTT-3.3.1-10] an empty retained payload deletes the retained message', async () => {
    const pub = await connectClient(broker.mqttUrl, { clientId: 'del-pub' });
    await publish(pub, 'del/t', 'x', { qos: 1, retain: true });
    await publish(pub, 'del/t', '', { qos: 1, retain: true });
    const sub = await connectClient(broker.mqttUrl, { clientId: 'del-sub' });
    const got = recorder(sub);
    await subscribe(sub, 'del/+', 1);
    await roundTrip(sub); // retained messages go out with the SUBACK
    expect(got.messages).toHaveLength(0);
    await Promise.all([end(sub), end(pub)]);
  });

  it('[MQTT-4.7.1-2] # matches the parent and every level; + exactly one level', async () => {
    const sub = await connectClient(broker.mqttUrl, { clientId: 'wc-sub' });
    const got = recorder(sub);
    await subscribe(sub, { 'wc/#': { qos: 0 }, 'one/+/x': { qos: 0 } });
    const pub = await connectClient(broker.mqttUrl, { clientId: 'wc-pub' });
    for (const topic of ['wc', 'wc/a', 'wc/a/b/c', 'one/y/x', 'one/y/z/x', 'one/x']) await publish(pub, topic, topic, { qos: 1 });
    await got.waitFor(4);
    await roundTrip(sub); // every publish was acknowledged, so delivered wherever it matched
    expect(got.messages.map((m) => m.topic).sort()).toEqual(['one/y/x', 'wc', 'wc/a', 'wc/a/b/c']);
    await Promise.all([end(sub), end(pub)]);
  });

  it('[MQTT-4.7.2-1] topics starting with $ are not matched by filters starting with a wildcard', async () => {
    const sub = await connectClient(broker.mqttUrl, { clientId: 'dollar-sub' });
    const got = recorder(sub);
    await subscribe(sub, '#', 0);
    await subscribe(sub, '+/broker/#', 0);
    const sys = await connectClient(broker.mqttUrl, { clientId: 'dollar-sys' });
    const sysGot = recorder(sys);
    await subscribe(sys, '$SYS/broker/#', 0);
    // A second round of $SYS starts only once every delivery of the first finished (publishSys awaits them
    // all): then whatever the first sent 'sub' has reached its session, and a round trip brings it here.
    const uptimes = () => sysGot.messages.filter((m) => m.topic === '$SYS/broker/uptime').length;
    await waitUntil(() => uptimes() >= 2, { what: 'a second $SYS round' });
    await roundTrip(sub);
    expect(got.messages.filter((m) => m.topic.startsWith('$'))).toHaveLength(0);
    await Promise.all([end(sub), end(sys)]);
  });

  it('[DESIGN §5] $SYS/broker statistics are published per tenant and are read-only', async () => {
    const sys = await connectClient(broker.mqttUrl, { clientId: 'sys-reader' });
    const got = recorder(sys);
    await subscribe(sys, '$SYS/broker/#', 0);
    await got.waitFor(10, 5000);
    const topics = new Set(got.messages.map((m) => m.topic));
    for (const topic of [
      '$SYS/broker/version',
      '$SYS/broker/uptime',
      '$SYS/broker/clients/connected',
      '$SYS/broker/messages/received',
      '$SYS/broker/messages/sent',
      '$SYS/broker/subscriptions/count',
      '$SYS/broker/retained messages/count',
      '$SYS/broker/durable-objects/shards/requests',
      '$SYS/broker/durable-objects/shards/rows written',
    ]) {
      expect(topics.has(topic), topic).toBe(true);
    }
    const connected = got.messages.filter((m) => m.topic === '$SYS/broker/clients/connected').at(-1)!;
    expect(Number(connected.payload)).toBeGreaterThanOrEqual(1);
    // Shards count their own requests: earlier tests in this file published and subscribed through them.
    const requests = got.messages.filter((m) => m.topic === '$SYS/broker/durable-objects/shards/requests').at(-1)!;
    expect(Number(requests.payload)).toBeGreaterThan(0);
    // A client cannot publish into $SYS.
    const writer = await connectClient(broker.mqttUrl, { clientId: 'sys-writer' });
    await publish(writer, '$SYS/broker/version', 'forged', { qos: 1 });
    await roundTrip(sys); // after the PUBACK: had it been routed, it has arrived
    expect(got.messages.filter((m) => m.payload === 'forged')).toHaveLength(0);
    await Promise.all([end(sys), end(writer)]);
  });
});

describe('last will', () => {
  async function willWatcher(topic: string) {
    const watcher = await connectClient(broker.mqttUrl, { clientId: `watch-${topic.replace(/\W/g, '-')}` });
    const got = recorder(watcher);
    await subscribe(watcher, topic, 1);
    return { watcher, got };
  }

  it('[MQTT-3.1.2-8] the will is published on socket loss, with its QoS', async () => {
    const { watcher, got } = await willWatcher('will/loss');
    const raw = new RawClient(broker.mqttUrl);
    await raw.send(connectBytes({ clientId: 'will-loss', will: { topic: 'will/loss', payload: 'gone', qos: 1 } }));
    await raw.until((b) => b.length >= 4);
    raw.terminate();
    await got.waitFor(1);
    expect([got.messages[0]!.payload, got.messages[0]!.packet.qos]).toEqual(['gone', 1]);
    await end(watcher);
  });

  it('[MQTT-3.14.4-3] the will is not published after DISCONNECT', async () => {
    const { watcher, got } = await willWatcher('will/clean');
    const client = await connectClient(broker.mqttUrl, { clientId: 'will-clean', will: { topic: 'will/clean', payload: 'no', qos: 1, retain: false } });
    await end(client);
    // Once the session has ended, a marker from the same client id on the will topic comes after any will.
    await sessionOffline(broker, 'will-clean');
    const again = await connectClient(broker.mqttUrl, { clientId: 'will-clean' });
    await sentinel(again, 'will/clean', got);
    expect(got.messages).toHaveLength(0);
    await Promise.all([end(watcher), end(again)]);
  });

  it('[MQTT-3.1.2-24] the will is published when the keepalive expires', async () => {
    const { watcher, got } = await willWatcher('will/keepalive');
    const raw = new RawClient(broker.mqttUrl);
    await raw.send(connectBytes({ clientId: 'will-ka', keepAlive: 1, will: { topic: 'will/keepalive', payload: 'timeout' } }));
    await raw.until((b) => b.length >= 4);
    await got.waitFor(1, 5000);
    expect(got.messages[0]!.payload).toBe('timeout');
    expect(await raw.waitClosed()).toBe(true);
    await end(watcher);
  });

  it('[MQTT-4.8.0-1] the will is published after a protocol error', async () => {
    const { watcher, got } = await willWatcher('will/error');
    const raw = new RawClient(broker.mqttUrl);
    await raw.send(connectBytes({ clientId: 'will-err', will: { topic: 'will/error', payload: 'violated' } }));
    await raw.until((b) => b.length >= 4);
    await raw.send(connectBytes({ clientId: 'will-err' })); // second CONNECT
    await got.waitFor(1);
    expect(got.messages[0]!.payload).toBe('violated');
    await end(watcher);
  });

  it('[MQTT-3.1.4-2] the will is published on take-over, and retained when asked', async () => {
    const { watcher, got } = await willWatcher('will/takeover');
    const first = await connectClient(broker.mqttUrl, { clientId: 'will-to', will: { topic: 'will/takeover', payload: 'replaced', qos: 1, retain: true } });
    const second = await connectClient(broker.mqttUrl, { clientId: 'will-to' });
    await got.waitFor(1);
    expect(got.messages[0]!.payload).toBe('replaced');
    const late = await connectClient(broker.mqttUrl, { clientId: 'will-late' });
    const lateGot = recorder(late);
    await subscribe(late, 'will/takeover', 1);
    await lateGot.waitFor(1);
    expect([lateGot.messages[0]!.payload, lateGot.messages[0]!.packet.retain]).toEqual(['replaced', true]);
    await Promise.all([end(second), end(late), end(watcher), end(first, true)]);
  });
});
