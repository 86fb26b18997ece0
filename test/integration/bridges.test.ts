// Bridges to other brokers, end to end: the real Worker and objects in workerd (Miniflare), an aedes (3.1.1)
// in this process and mosquitto (5.0) where installed, real mqtt.js clients on both sides. The loss tests
// print their figures (published, acknowledged, received, duplicates).
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, tempPersistDir, type RunningBroker } from './broker.js';
import { connectClient, end, publish, recorder, sleep, subscribe, waitUntil, type Recorder } from './clients.js';
import { hasMosquitto, startAedes, startMosquitto, type AedesBroker, type Mosquitto } from './remote-brokers.js';
import { api, newTenant, newToken } from './tenants.js';

const ADMIN = 'bridge-test-admin';
/** The watchdog alarm every 2 s instead of 30 s: a restarted runtime's bridges come back within the test. */
const VARS = { ADMIN_TOKEN: ADMIN, BRIDGE_WATCHDOG_SECONDS: '2' };

let broker: RunningBroker;
let aedes: AedesBroker;
let tenants = 0;

beforeAll(async () => {
  [broker, aedes] = await Promise.all([startBroker({ vars: VARS }), startAedes()]);
});

afterAll(async () => {
  await broker?.stop();
  await aedes?.close();
});

/** A fresh tenant of `target` and its master token. */
async function tenantOf(target = broker): Promise<{ tenant: string; master: string }> {
  const tenant = `br${++tenants}`;
  return { tenant, master: await newTenant(target, ADMIN, tenant) };
}

async function createBridge(tenant: string, master: string, body: Record<string, unknown>, target = broker) {
  const created = await api(target, 'POST', `/tenants/${tenant}/bridges`, master, body);
  expect(created.status, JSON.stringify(created.json)).toBe(201);
  return created.json;
}

/** Waits for the bridge's state (as the API reports it) and answers the bridge. */
async function bridgeState(tenant: string, master: string, name: string, state: string | ((status: any) => boolean), timeoutMs = 10_000, target = broker) {
  let last: any;
  const holds = typeof state === 'string' ? (status: any) => status?.state === state : state;
  await waitUntil(
    async () => {
      last = (await api(target, 'GET', `/tenants/${tenant}/bridges/${name}`, master)).json;
      return holds(last?.status);
    },
    { timeoutMs, intervalMs: 100, what: `bridge ${name}: ${String(state)}` },
  ).catch((error: Error) => {
    throw new Error(`${error.message}; last answer: ${JSON.stringify(last)}`);
  });
  return last;
}

/** Payloads received: how many distinct, how many copies beyond the first, and which expected are missing. */
function tally(got: Recorder, expected: string[]) {
  const seen = new Map<string, number>();
  for (const message of got.messages) seen.set(message.payload, (seen.get(message.payload) ?? 0) + 1);
  const missing = expected.filter((payload) => !seen.has(payload));
  const duplicates = [...seen.values()].reduce((sum, n) => sum + n - 1, 0);
  return { distinct: seen.size, duplicates, missing };
}

/** QoS 1 publishes a publisher keeps unacknowledged at once: a cut catches several in flight. */
const WINDOW = 10;

/**
 * Publishes `count` QoS 1 messages, WINDOW at a time, running `disturb` meanwhile; answers the payloads whose
 * PUBACK arrived (a publish that failed is not counted as acknowledged: nothing was promised for it).
 */
async function publishThrough(publisher: MqttClient, topic: string, count: number, disturb: (sent: () => number) => Promise<void>): Promise<string[]> {
  const acked: string[] = [];
  let sent = 0;
  const lane = async () => {
    while (sent < count) {
      const payload = `m${sent++}`;
      try {
        await publish(publisher, topic, payload, { qos: 1 });
        acked.push(payload);
      } catch {
        // not acknowledged
      }
    }
  };
  const publishing = Promise.all(Array.from({ length: WINDOW }, lane));
  await disturb(() => sent);
  await publishing;
  return acked;
}

const until = (sent: () => number, n: number) => waitUntil(() => sent() >= n, { timeoutMs: 20_000, what: `${n} published` });

describe('bridge to an aedes (MQTT 3.1.1)', () => {
  it('out: a message published here arrives at the remote under its remote prefix, counted as messagesOut', async () => {
    const { tenant, master } = await tenantOf();
    await createBridge(tenant, master, { name: 'to-aedes', url: aedes.url, protocolVersion: 4, topics: [{ pattern: 'sensors/#', direction: 'out', qos: 1, remotePrefix: 'site/' }] });
    await bridgeState(tenant, master, 'to-aedes', 'connected');
    const far = await connectClient(aedes.url);
    const got = recorder(far);
    await subscribe(far, 'site/#', 1);
    const device = await connectClient(broker.mqttUrl, { username: master });
    await publish(device, 'sensors/t1', 'hello', { qos: 1 });
    await publish(device, 'other/t1', 'not bridged', { qos: 1 });
    const [message] = await got.waitFor(1);
    expect(message!.topic).toBe('site/sensors/t1');
    expect(message!.payload).toBe('hello');
    expect(message!.packet.qos).toBe(1);
    const bridge = await bridgeState(tenant, master, 'to-aedes', (status) => status.counters.messagesOut === 1);
    expect(bridge.status.connectedSince).toBeGreaterThan(0);
    await sleep(200);
    expect(got.messages.map((m) => m.topic)).toEqual(['site/sensors/t1']);
    await Promise.all([end(device), end(far)]);
  });

  it('in: a QoS 1 message published at the remote arrives here under the local prefix, counted as messagesIn', async () => {
    const { tenant, master } = await tenantOf();
    await createBridge(tenant, master, { name: 'from-aedes', url: aedes.url, protocolVersion: 4, topics: [{ pattern: 'cmd/#', direction: 'in', remotePrefix: 'site-in/', localPrefix: 'cloud/' }] });
    await bridgeState(tenant, master, 'from-aedes', 'connected');
    const device = await connectClient(broker.mqttUrl, { username: master });
    const got = recorder(device);
    await subscribe(device, 'cloud/#', 1);
    const far = await connectClient(aedes.url);
    await publish(far, 'site-in/cmd/reboot', 'now', { qos: 1 });
    const [message] = await got.waitFor(1);
    expect(message!.topic).toBe('cloud/cmd/reboot');
    expect(message!.payload).toBe('now');
    expect(message!.packet.qos).toBe(1);
    await bridgeState(tenant, master, 'from-aedes', (status) => status.counters.messagesIn === 1);
    await Promise.all([end(device), end(far)]);
  });

  it('both with prefixes: each side gets the other\'s message once; the 3.1.1 echo of what the bridge sent is dropped, not bridged back', async () => {
    const { tenant, master } = await tenantOf();
    await createBridge(tenant, master, {
      name: 'chat',
      url: aedes.url,
      protocolVersion: 4,
      topics: [{ pattern: '#', direction: 'both', localPrefix: 'chat/', remotePrefix: 'rooms/' }],
    });
    await bridgeState(tenant, master, 'chat', 'connected');
    const device = await connectClient(broker.mqttUrl, { username: master });
    const here = recorder(device);
    await subscribe(device, 'chat/#', 1);
    const far = await connectClient(aedes.url);
    const there = recorder(far);
    await subscribe(far, 'rooms/#', 1);

    await publish(device, 'chat/a', 'from here', { qos: 1 });
    await publish(far, 'rooms/b', 'from there', { qos: 1 });
    await here.waitFor(2);
    await there.waitFor(2);
    await sleep(500);
    expect(here.messages.map((m) => `${m.topic} ${m.payload}`).sort()).toEqual(['chat/a from here', 'chat/b from there']);
    expect(there.messages.map((m) => `${m.topic} ${m.payload}`).sort()).toEqual(['rooms/a from here', 'rooms/b from there']);
    // aedes sent the bridge its own rooms/a back (3.1.1 has no No Local): recognised and dropped.
    const bridge = await bridgeState(tenant, master, 'chat', (status) => status.counters.dropped === 1);
    expect(bridge.status.counters).toMatchObject({ messagesIn: 1, messagesOut: 1, dropped: 1, failed: 0 });
    await Promise.all([end(device), end(far)]);
  });

  it('[MQTT-4.4.0-1] nothing acknowledged is lost across reconnects: the bridge\'s connection to the remote is cut twice while 300 QoS 1 messages cross each way', async () => {
    const { tenant, master } = await tenantOf();
    const bridge = await createBridge(tenant, master, {
      name: 'cut',
      url: aedes.url,
      protocolVersion: 4,
      topics: [
        { pattern: 'up/#', direction: 'out' },
        { pattern: 'down/#', direction: 'in' },
      ],
    });
    await bridgeState(tenant, master, 'cut', 'connected');
    const device = await connectClient(broker.mqttUrl, { username: master, clientId: 'cut-device', clean: false });
    const here = recorder(device);
    await subscribe(device, 'down/#', 1);
    const far = await connectClient(aedes.url, { clientId: 'cut-far', clean: false });
    const there = recorder(far);
    await subscribe(far, 'up/#', 1);
    const N = 300;
    const cutTwice = async (sent: () => number) => {
      for (const at of [N / 3, (2 * N) / 3]) {
        await until(sent, at);
        // Once the bridge is back from the previous cut.
        await bridgeState(tenant, master, 'cut', 'connected');
        expect(aedes.cut(bridge.clientId)).toBe(true);
      }
    };
    const started = Date.now();
    const [upAcked, downAcked] = await Promise.all([publishThrough(device, 'up/x', N, cutTwice), publishThrough(far, 'down/x', N, async () => undefined)]);
    await waitUntil(() => tally(there, upAcked).missing.length === 0 && tally(here, downAcked).missing.length === 0, {
      timeoutMs: 30_000,
      what: `every acknowledged message across (up: ${tally(there, upAcked).missing.length} missing, down: ${tally(here, downAcked).missing.length} missing)`,
    });
    const up = tally(there, upAcked);
    const down = tally(here, downAcked);
    const status = (await bridgeState(tenant, master, 'cut', (s) => s.state === 'connected' && s.reconnects === 2)).status;
    console.log(
      `bridge cut twice (aedes 3.1.1), ${Date.now() - started} ms: out ${N} published, ${upAcked.length} acked, ${up.distinct} received, ${up.duplicates} duplicates; ` +
        `in ${N} published, ${downAcked.length} acked, ${down.distinct} received, ${down.duplicates} duplicates; reconnects ${status.reconnects}`,
    );
    expect(up.missing).toEqual([]);
    expect(down.missing).toEqual([]);
    expect(status.lastError).toMatch(/^remote: /);
    await Promise.all([end(device), end(far)]);
  });

  it('a bridge loop through the remote does not amplify: two tenants both bridged both ways to one aedes', async () => {
    const a = await tenantOf();
    const b = await tenantOf();
    for (const { tenant, master } of [a, b]) {
      await createBridge(tenant, master, { name: 'loop', url: aedes.url, protocolVersion: 4, topics: [{ pattern: 'loop3/#', direction: 'both' }] });
    }
    await bridgeState(a.tenant, a.master, 'loop', 'connected');
    await bridgeState(b.tenant, b.master, 'loop', 'connected');
    const [onA, onB, far] = await Promise.all([connectClient(broker.mqttUrl, { username: a.master }), connectClient(broker.mqttUrl, { username: b.master }), connectClient(aedes.url)]);
    const [gotA, gotB, gotFar] = [recorder(onA), recorder(onB), recorder(far)];
    await Promise.all([subscribe(onA, 'loop3/#', 1), subscribe(onB, 'loop3/#', 1), subscribe(far, 'loop3/#', 1)]);
    await publish(onA, 'loop3/x', 'once', { qos: 1 });
    await Promise.all([gotA.waitFor(1), gotB.waitFor(1), gotFar.waitFor(1)]);
    await sleep(1500);
    // A: its own message; aedes: A's bridge's copy; B: the copy B's bridge brought in from aedes, which
    // does not go back out (No Local at B's own session). A's bridge dropped aedes' echo of its copy.
    expect([gotA.messages.length, gotFar.messages.length, gotB.messages.length]).toEqual([1, 1, 1]);
    const [bridgeA, bridgeB] = await Promise.all([bridgeState(a.tenant, a.master, 'loop', 'connected'), bridgeState(b.tenant, b.master, 'loop', 'connected')]);
    expect(bridgeA.status.counters).toMatchObject({ messagesOut: 1, dropped: 1 });
    expect(bridgeB.status.counters).toMatchObject({ messagesIn: 1, messagesOut: 0, dropped: 0 });
    await Promise.all([end(onA), end(onB), end(far)]);
  });
});

describe('bridge between two tenants of this broker over ws:// (MQTT 5.0)', () => {
  it('[MQTT-3.8.3-3 v5] a loop of two bridges does not amplify: No Local and the hop count stop it after one crossing', async () => {
    const a = await tenantOf();
    const b = await tenantOf();
    await createBridge(a.tenant, a.master, { name: 'to-b', url: broker.mqttUrl, username: b.master, topics: [{ pattern: 'loop5/#', direction: 'both' }] });
    await createBridge(b.tenant, b.master, { name: 'to-a', url: broker.mqttUrl, username: a.master, topics: [{ pattern: 'loop5/#', direction: 'both' }] });
    await bridgeState(a.tenant, a.master, 'to-b', 'connected');
    await bridgeState(b.tenant, b.master, 'to-a', 'connected');
    const [onA, onB] = await Promise.all([connectClient(broker.mqttUrl, { username: a.master, protocolVersion: 5 }), connectClient(broker.mqttUrl, { username: b.master, protocolVersion: 5 })]);
    const [gotA, gotB] = [recorder(onA), recorder(onB)];
    await Promise.all([subscribe(onA, 'loop5/#', 1), subscribe(onB, 'loop5/#', 1)]);
    await publish(onA, 'loop5/x', 'once', { qos: 1 });
    await Promise.all([gotA.waitFor(1), gotB.waitFor(2)]);
    await sleep(1500);
    // B gets A's message twice, once over each bridge (A's bridge publishes it into B; B's bridge, subscribed
    // at A, brings it in too); neither copy goes further: a copy at hop 1 is not bridged again.
    expect([gotA.messages.length, gotB.messages.length]).toEqual([1, 2]);
    expect(gotB.messages.map((m) => m.packet.properties?.userProperties?.['x-edge-mqtt-hops'])).toEqual(['1', '1']);
    await Promise.all([end(onA), end(onB)]);
  });
});

describe('the runtime restarts', () => {
  it('the bridge comes back by itself (the alarm), and messages the remote held for it meanwhile arrive', async () => {
    const persistDir = tempPersistDir();
    let target = await startBroker({ vars: VARS, persistDir });
    try {
      const { tenant, master } = await tenantOf(target);
      const bridge = await createBridge(tenant, master, { name: 'survivor', url: aedes.url, protocolVersion: 4, topics: [{ pattern: 'after/#', direction: 'in' }] }, target);
      await bridgeState(tenant, master, 'survivor', 'connected', 10_000, target);
      const device = await connectClient(target.mqttUrl, { username: master, clientId: 'survivor-device', clean: false });
      await subscribe(device, 'after/#', 1);
      await end(device);
      await target.stop();
      await waitUntil(() => !aedes.connected().includes(bridge.clientId), { what: 'aedes to see the bridge gone' });

      // While our runtime is down, the remote queues for the bridge's persistent session.
      const far = await connectClient(aedes.url);
      for (let i = 0; i < 20; i++) await publish(far, 'after/x', `held${i}`, { qos: 1 });
      await end(far);

      const restartedAt = Date.now();
      target = await startBroker({ vars: VARS, persistDir });
      // No API call, no client: only the object's alarm can bring it back.
      await waitUntil(() => aedes.connected().includes(bridge.clientId), { timeoutMs: 20_000, what: 'the bridge back at aedes' });
      const backAfter = Date.now() - restartedAt;
      const again = await connectClient(target.mqttUrl, { username: master, clientId: 'survivor-device', clean: false });
      const got = recorder(again);
      await waitUntil(() => tally(got, []).distinct === 20, { timeoutMs: 10_000, what: `20 held messages (got ${got.messages.length})` });
      const { duplicates } = tally(got, []);
      console.log(`runtime restart: bridge back at the remote ${backAfter} ms after the restart; 20 held at the remote, 20 received, ${duplicates} duplicates`);
      const status = (await bridgeState(tenant, master, 'survivor', 'connected', 10_000, target)).status;
      expect(status.reconnects).toBe(1);
      await end(again);
    } finally {
      await target.stop();
    }
  });
});

describe.skipIf(!hasMosquitto)('bridge to mosquitto (MQTT 5.0)', () => {
  let mosquitto: Mosquitto;
  beforeAll(async () => {
    mosquitto = await startMosquitto();
  });
  afterAll(async () => {
    await mosquitto?.stop();
  });

  it('[MQTT-3.8.3-3 v5] both ways with prefixes over 5.0: No Local at the remote, user properties and the hop count cross', async () => {
    const { tenant, master } = await tenantOf();
    await createBridge(tenant, master, { name: 'mq5', url: mosquitto.url, topics: [{ pattern: '#', direction: 'both', localPrefix: 'edge/', remotePrefix: 'core/' }] });
    await bridgeState(tenant, master, 'mq5', 'connected');
    const device = await connectClient(broker.mqttUrl, { username: master, protocolVersion: 5 });
    const here = recorder(device);
    await subscribe(device, 'edge/#', 1);
    const far = await connectClient(mosquitto.url, { protocolVersion: 5 });
    const there = recorder(far);
    await subscribe(far, 'core/#', 1);
    await new Promise<void>((resolve, reject) =>
      device.publish('edge/up', 'u', { qos: 1, properties: { userProperties: { trace: 'abc' }, contentType: 'text/plain' } }, (error) => (error ? reject(error) : resolve())),
    );
    await publish(far, 'core/down', 'd', { qos: 1 });
    await here.waitFor(2);
    await there.waitFor(2);
    await sleep(500);
    expect(here.messages.map((m) => m.topic).sort()).toEqual(['edge/down', 'edge/up']);
    expect(there.messages.map((m) => m.topic).sort()).toEqual(['core/down', 'core/up']);
    const up = there.messages.find((m) => m.topic === 'core/up')!;
    expect(up.packet.properties?.userProperties).toEqual({ trace: 'abc', 'x-edge-mqtt-hops': '1' });
    expect(up.packet.properties?.contentType).toBe('text/plain');
    // No echo came back at all (No Local), so nothing needed dropping.
    const bridge = await bridgeState(tenant, master, 'mq5', 'connected');
    expect(bridge.status.counters).toMatchObject({ messagesIn: 1, messagesOut: 1, dropped: 0, failed: 0 });
    await Promise.all([end(device), end(far)]);
  });

  it('[MQTT-4.4.0-1] nothing acknowledged is lost when the remote broker itself stops and starts mid-stream (QoS 1, both ways)', async () => {
    const { tenant, master } = await tenantOf();
    await createBridge(tenant, master, {
      name: 'restart',
      url: mosquitto.url,
      topics: [
        { pattern: 'r-up/#', direction: 'out' },
        { pattern: 'r-down/#', direction: 'in' },
      ],
    });
    await bridgeState(tenant, master, 'restart', 'connected');
    const device = await connectClient(broker.mqttUrl, { username: master, clientId: 'restart-device', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 3600 } });
    const here = recorder(device);
    await subscribe(device, 'r-down/#', 1);
    // The far clients reconnect by themselves and keep their sessions across mosquitto's restart.
    const farOptions = { protocolVersion: 5 as const, clean: false, reconnectPeriod: 200, properties: { sessionExpiryInterval: 3600 } };
    const far = await connectClient(mosquitto.url, { ...farOptions, clientId: 'restart-far' });
    const there = recorder(far);
    await subscribe(far, 'r-up/#', 1);
    const farPublisher = await connectClient(mosquitto.url, { ...farOptions, clientId: 'restart-far-pub' });
    const N = 300;
    const restartOnce = async (sent: () => number) => {
      await until(sent, N / 3);
      await mosquitto.stop();
      await sleep(300);
      await mosquitto.start();
    };
    const started = Date.now();
    const [upAcked, downAcked] = await Promise.all([publishThrough(device, 'r-up/x', N, restartOnce), publishThrough(farPublisher, 'r-down/x', N, async () => undefined)]);
    await waitUntil(() => tally(there, upAcked).missing.length === 0 && tally(here, downAcked).missing.length === 0, {
      timeoutMs: 30_000,
      what: `every acknowledged message across (up: ${tally(there, upAcked).missing.length} missing, down: ${tally(here, downAcked).missing.length} missing)`,
    });
    const up = tally(there, upAcked);
    const down = tally(here, downAcked);
    const status = (await bridgeState(tenant, master, 'restart', (s) => s.state === 'connected' && s.reconnects >= 1)).status;
    console.log(
      `mosquitto 5.0 stopped and started, ${Date.now() - started} ms: out ${N} published, ${upAcked.length} acked, ${up.distinct} received, ${up.duplicates} duplicates; ` +
        `in ${N} published, ${downAcked.length} acked, ${down.distinct} received, ${down.duplicates} duplicates; bridge reconnects ${status.reconnects}`,
    );
    expect(up.missing).toEqual([]);
    expect(down.missing).toEqual([]);
    await Promise.all([end(device), end(far, true), end(farPublisher, true)]);
  });
});

describe('configuration through the API', () => {
  it('the password is never answered (passwordSet instead), a PUT without one keeps it, and the remote sees it', async () => {
    const guarded = await startAedes({
      authenticate: (_client, username, password, done) => done(null, username === 'bridge-user' && password?.toString() === 's3cret'),
    });
    try {
      const { tenant, master } = await tenantOf();
      const body = { name: 'guarded', url: guarded.url, protocolVersion: 4, username: 'bridge-user', password: 's3cret', topics: [{ pattern: 'g/#', direction: 'out' }] };
      const created = await createBridge(tenant, master, body);
      const answers = [created, (await api(broker, 'GET', `/tenants/${tenant}/bridges`, master)).json, (await api(broker, 'GET', `/tenants/${tenant}/bridges/guarded`, master)).json];
      await bridgeState(tenant, master, 'guarded', 'connected');
      const { password: _password, ...withoutPassword } = body;
      const updated = await api(broker, 'PUT', `/tenants/${tenant}/bridges/guarded`, master, { ...withoutPassword, keepAlive: 30 });
      expect(updated.status, JSON.stringify(updated.json)).toBe(200);
      answers.push(updated.json);
      for (const answer of answers) expect(JSON.stringify(answer)).not.toContain('s3cret');
      expect(created.passwordSet).toBe(true);
      expect(updated.json).toMatchObject({ passwordSet: true, keepAlive: 30, username: 'bridge-user' });
      expect(Object.keys(updated.json)).not.toContain('password');
      // Kept: it connects again with the stored password.
      await bridgeState(tenant, master, 'guarded', (s) => s.state === 'connected');

      // A wrong password: the remote refuses the CONNECT, the bridge reports error with the reason.
      const wrong = await api(broker, 'PUT', `/tenants/${tenant}/bridges/guarded`, master, { ...body, password: 'wrong' });
      expect(wrong.json.passwordSet).toBe(true);
      const refused = await bridgeState(tenant, master, 'guarded', 'error');
      expect(refused.status.lastError).toMatch(/refused/);
      expect(refused.status.nextAttemptAt).toBeGreaterThan(Date.now() + 30_000);
      // "" removes it.
      const cleared = await api(broker, 'PUT', `/tenants/${tenant}/bridges/guarded`, master, { ...body, password: '', enabled: false });
      expect(cleared.json).toMatchObject({ passwordSet: false, enabled: false });
      expect((await bridgeState(tenant, master, 'guarded', 'disabled')).status.state).toBe('disabled');
    } finally {
      await guarded.close();
    }
  });

  it('a remote that cannot be reached: backoff with the error and the next attempt scheduled; DELETE ends it (404 after)', async () => {
    const { tenant, master } = await tenantOf();
    const closed = await startAedes();
    const url = closed.url;
    await closed.close();
    await createBridge(tenant, master, { name: 'nowhere', url, topics: [{ pattern: 'x/#', direction: 'out' }] });
    const bridge = await bridgeState(tenant, master, 'nowhere', 'backoff');
    expect(bridge.status.lastError).toBeTruthy();
    expect(bridge.status.lastErrorAt).toBeGreaterThan(0);
    expect(bridge.status.nextAttemptAt).toBeGreaterThan(Date.now() - 1000);
    expect(bridge.status.connectedSince).toBeNull();
    expect((await api(broker, 'DELETE', `/tenants/${tenant}/bridges/nowhere`, master)).status).toBe(204);
    expect((await api(broker, 'GET', `/tenants/${tenant}/bridges/nowhere`, master)).status).toBe(404);
  });

  it('bad input gets a 400 with a JSON error saying what is wrong; duplicates 409; past 10 bridges 403; other tokens 403', async () => {
    const { tenant, master } = await tenantOf();
    const good = { name: 'ok', url: 'mqtt://127.0.0.1:1', enabled: false, topics: [{ pattern: 'a/#', direction: 'out' }] };
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...good, url: 'http://example.com' }, /url must be a URL starting with mqtt/],
      [{ ...good, url: 'mqtts://user:pw@example.com' }, /must not hold credentials/],
      [{ ...good, name: 'Bad Name' }, /name must match/],
      [{ ...good, protocolVersion: 3 }, /protocolVersion must be one of 4, 5/],
      [{ ...good, topics: [] }, /topics must have at least 1/],
      [{ ...good, topics: [{ pattern: 'a/#/b', direction: 'out' }] }, /pattern must be a valid MQTT topic filter/],
      [{ ...good, topics: [{ pattern: 'a', direction: 'sideways' }] }, /direction must be one of/],
      [{ ...good, topics: [{ pattern: 'a', direction: 'in', qos: 2 }] }, /qos must be one of 0, 1/],
      [{ ...good, topics: [{ pattern: 'a', direction: 'in', localPrefix: 'x/#/' }] }, /localPrefix must not hold/],
      [{ ...good, surprise: true }, /unknown field "surprise"/],
      [{ ...good, maxHops: 0 }, /maxHops must be at least 1/],
    ];
    for (const [body, message] of bad) {
      const answer = await api(broker, 'POST', `/tenants/${tenant}/bridges`, master, body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.json.error).toMatch(message);
    }
    expect((await api(broker, 'POST', `/tenants/${tenant}/bridges`, master, '{not json')).status).toBe(400);
    expect((await api(broker, 'PUT', `/tenants/${tenant}/bridges/ok`, master, good)).status).toBe(404);
    await createBridge(tenant, master, good);
    expect((await api(broker, 'POST', `/tenants/${tenant}/bridges`, master, good)).status).toBe(409);
    expect((await api(broker, 'PUT', `/tenants/${tenant}/bridges/ok`, master, { ...good, name: 'other' })).status).toBe(400);
    for (let i = 1; i < 10; i++) await createBridge(tenant, master, { ...good, name: `ok${i}` });
    const eleventh = await api(broker, 'POST', `/tenants/${tenant}/bridges`, master, { ...good, name: 'ok10' });
    expect(eleventh.status).toBe(403);
    expect(eleventh.json.error).toMatch(/at most 10 bridges/);
    const device = await newToken(broker, tenant, master, { name: 'device', acl: [{ filter: '#', rights: ['pub', 'sub'] }] });
    expect((await api(broker, 'GET', `/tenants/${tenant}/bridges`, device.token)).status).toBe(403);
    expect((await api(broker, 'GET', `/tenants/${tenant}/bridges`, '')).status).toBe(401);
    expect((await api(broker, 'GET', `/tenants/${tenant}/bridges`, ADMIN)).json.bridges).toHaveLength(10);
  });
});
