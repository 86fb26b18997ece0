// An administrator ends an offline persistent session (DELETE /tenants/{t}/sessions/{clientId}/state): its
// queued messages and subscriptions go, it leaves the sessions list, and the client's next CONNECT starts
// afresh (session present 0).
import mqtt, { type IConnackPacket, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeSession, sessionOffline, startBroker, type RunningBroker } from './broker.js';
import { connectClient, end, publish, recorder, sleep, subscribe, waitUntil } from './clients.js';
import { api, newTenant, presenceReported, tenantSessions } from './tenants.js';

const ADMIN = 'session-delete-admin';
let broker: RunningBroker;
let master: string;
beforeAll(async () => {
  broker = await startBroker({ vars: { ADMIN_TOKEN: ADMIN, ALLOW_ANONYMOUS: 'false' } });
  master = await newTenant(broker, ADMIN, 'fleet');
});
afterAll(() => broker?.stop());

/** Connects and resolves with the client and its CONNACK. */
function connectWithAck(options: mqtt.IClientOptions): Promise<{ client: MqttClient; connack: IConnackPacket }> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(broker.mqttUrl, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...options });
    client.once('connect', (connack) => resolve({ client, connack }));
    client.once('error', reject);
  });
}

describe('deleting an offline session', () => {
  it('[MQTT-3.2.2-2] drops its queue and subscriptions; a reconnect with clean session 0 gets session present 0 and nothing', async () => {
    const device = await connectClient(broker.mqttUrl, { clientId: 'sleepy', username: master, clean: false });
    await subscribe(device, 'cmd/sleepy', 1);
    await end(device);
    await sessionOffline(broker, 'sleepy', 'fleet');

    const publisher = await connectClient(broker.mqttUrl, { clientId: 'ops', username: master });
    for (const n of [1, 2, 3]) await publish(publisher, 'cmd/sleepy', `queued ${n}`, { qos: 1 });
    await waitUntil(async () => (await describeSession(broker, 'sleepy', 'fleet'))?.queued === 3, { what: 'three messages queued' });
    const listed = await api(broker, 'GET', '/tenants/fleet/sessions?details=1&q=sleepy', master);
    expect(listed.json.sessions).toMatchObject([{ clientId: 'sleepy', connected: false, queued: 3, subscriptions: [{ filter: 'cmd/sleepy', qos: 1 }] }]);

    expect((await api(broker, 'GET', '/tenants/fleet/stats', master)).json.subscriptions).toBe(1);
    const deleted = await api(broker, 'DELETE', '/tenants/fleet/sessions/sleepy/state', master);
    expect(deleted.status).toBe(204);
    // Gone from the list at once, and the session object holds nothing.
    expect((await tenantSessions(broker, 'fleet')).map((s) => s.clientId)).not.toContain('sleepy');
    expect(await describeSession(broker, 'sleepy', 'fleet')).toBeUndefined();
    expect((await api(broker, 'DELETE', '/tenants/fleet/sessions/sleepy/state', master)).status).toBe(404);

    // Its subscription left the shard before the answer: a publish now is queued nowhere.
    expect((await api(broker, 'GET', '/tenants/fleet/stats', master)).json.subscriptions).toBe(0);
    await publish(publisher, 'cmd/sleepy', 'after delete', { qos: 1 });
    const { client, connack } = await connectWithAck({ clientId: 'sleepy', username: master, clean: false });
    expect(connack.sessionPresent).toBe(false);
    const got = recorder(client);
    await sleep(500);
    expect(got.messages).toEqual([]);
    // A fresh session, listed again.
    await presenceReported(broker, 'fleet', 'sleepy');
    await end(client);
    await end(publisher);
  });

  it('kick, then delete: the way to end a connected session', async () => {
    const device = await connectClient(broker.mqttUrl, { clientId: 'stubborn', username: master, clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 3600 } });
    await subscribe(device, 'cmd/stubborn', 1);
    await presenceReported(broker, 'fleet', 'stubborn');
    expect((await api(broker, 'DELETE', '/tenants/fleet/sessions/stubborn/state', master)).status).toBe(409);
    expect((await api(broker, 'DELETE', '/tenants/fleet/sessions/stubborn', master)).status).toBe(204);
    await sessionOffline(broker, 'stubborn', 'fleet');
    expect((await api(broker, 'DELETE', '/tenants/fleet/sessions/stubborn/state', master)).status).toBe(204);
    const { client, connack } = await connectWithAck({ clientId: 'stubborn', username: master, clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 3600 } });
    expect(connack.sessionPresent).toBe(false);
    await end(client);
    await end(device, true);
  });
});
