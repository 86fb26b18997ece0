// Trust findings, end to end with real clients: who may take over which client id (H1), token changes that
// reach offline sessions (M1), limits that hold under concurrent CONNECTs (M2).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeSession, sessionOffline, startBroker, type RunningBroker } from './broker.js';
import { RawClient, connectBytes, connectClient, end, publish, recorder, roundTrip, sleep, subscribe } from './clients.js';
import { api, newTenant, newToken, refusedCode, tenantSessions } from './tenants.js';

const ADMIN = 'trust-admin-secret';
let broker: RunningBroker;

beforeAll(async () => {
  broker = await startBroker({ vars: { ADMIN_TOKEN: ADMIN, ALLOW_ANONYMOUS: 'false' } });
});
afterAll(async () => {
  await broker?.stop();
});

/**
 * Opens `count` WebSockets, then sends all their CONNECTs in the same instant (3.1.1, `username`), so that
 * every admission happens before any session reports itself; answers how many got CONNACK 0.
 */
async function concurrentConnects(count: number, username: string, prefix: string): Promise<number> {
  const clients = Array.from({ length: count }, () => new RawClient(broker.mqttUrl));
  await Promise.all(clients.map((client) => client.open()));
  await Promise.all(clients.map((client, i) => client.send(connectBytes({ clientId: `${prefix}${i}`, username }))));
  const answers = await Promise.all(clients.map((client) => client.until((bytes) => bytes.length >= 4)));
  for (const client of clients) client.close();
  return answers.filter((bytes) => bytes[0] === 0x20 && bytes[3] === 0).length;
}

describe('H1: client ids and the sessions behind them', () => {
  let master: string;
  beforeAll(async () => {
    master = await newTenant(broker, ADMIN, 'shop');
  });

  it('[MQTT-3.1.3-8] a token bound to client ids "dev-%u-*" is refused any other (5.0 0x85, 3.1.1 0x02) and cannot kick the backend', async () => {
    const device = await newToken(broker, 'shop', master, { name: 'device', acl: [{ filter: '#', rights: ['pub', 'sub'] }], clientIds: ['dev-%u-*'] });
    const backend = await connectClient(broker.mqttUrl, { clientId: 'backend', username: master, clean: false });
    expect(await refusedCode(broker.mqttUrl, { clientId: 'backend', username: device.token, protocolVersion: 5 })).toBe(0x85);
    expect(await refusedCode(broker.mqttUrl, { clientId: 'backend', username: device.token })).toBe(0x02);
    expect(await refusedCode(broker.mqttUrl, { clientId: 'dev-other-1', username: device.token })).toBe(0x02);
    await roundTrip(backend);
    expect(backend.connected).toBe(true);
    const own = await connectClient(broker.mqttUrl, { clientId: `dev-${device.id}-1`, username: device.token });
    // A client id the server assigns (empty in CONNECT, 5.0) is new and random: allowed.
    const assigned = await connectClient(broker.mqttUrl, { clientId: '', username: device.token, protocolVersion: 5 });
    await Promise.all([end(own), end(assigned), end(backend)]);
  });

  it('[DESIGN §3] a token that may not read orders/# takes over the backend\'s client id: it gets none of its queued or live messages', async () => {
    const backend = await connectClient(broker.mqttUrl, { clientId: 'orders-backend', username: master, clean: false });
    await subscribe(backend, 'orders/#', 1);
    await end(backend);
    await sessionOffline(broker, 'orders-backend', 'shop');
    const shopper = await connectClient(broker.mqttUrl, { clientId: 'shopper', username: master });
    await publish(shopper, 'orders/1', 'queued for the backend', { qos: 1 });
    expect((await describeSession(broker, 'orders-backend', 'shop'))?.queued).toBe(1);

    const narrow = await newToken(broker, 'shop', master, { name: 'narrow', acl: [{ filter: 'nothing/#', rights: ['pub', 'sub'] }] });
    const attacker = await connectClient(broker.mqttUrl, { clientId: 'orders-backend', username: narrow.token, clean: false });
    const got = recorder(attacker);
    await publish(shopper, 'orders/2', 'live', { qos: 1 });
    await roundTrip(attacker);
    expect(got.messages).toEqual([]);
    const session = await describeSession(broker, 'orders-backend', 'shop');
    expect(session?.subscriptions).toEqual([]);
    expect(session?.queued).toBe(0);
    // The operator sees what was withheld: the sessions API shows the session's counters.
    const listed = await api(broker, 'GET', '/tenants/shop/sessions?details=1', master);
    const entry = listed.json.sessions.find((s: { clientId: string }) => s.clientId === 'orders-backend');
    expect(entry.counters).toEqual({ acl_dropped: 1 });
    await Promise.all([end(attacker), end(shopper)]);
  });
});

describe('H2: a will passes the same checks as a PUBLISH', () => {
  it('[MQTT-3.1.2-8] [DESIGN §5] a will on $SYS/broker/version refuses the CONNECT (3.1.1 0x05, 5.0 0x87); nothing is stored', async () => {
    const master = await newTenant(broker, ADMIN, 'willsys');
    const will = { topic: '$SYS/broker/version', payload: Buffer.from('forged'), qos: 1 as const, retain: true };
    expect(await refusedCode(broker.mqttUrl, { clientId: 'forger3', username: master, will })).toBe(0x05);
    expect(await refusedCode(broker.mqttUrl, { clientId: 'forger5', username: master, will, protocolVersion: 5 })).toBe(0x87);
    const listed = await api(broker, 'GET', `/tenants/willsys/retained?filter=${encodeURIComponent('$SYS/#')}`, master);
    expect(listed.json.messages.map((m: { payload: string }) => m.payload)).not.toContain('forged');
  });

  it('[DESIGN §5] retained wills count against the tenant\'s retained limit: 12 lost clients do not store 12 topics under maxRetained 4', async () => {
    const master = await newTenant(broker, ADMIN, 'willret', { maxRetained: 4 });
    const clients = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        connectClient(broker.mqttUrl, { clientId: `w${i}`, username: master, will: { topic: `wills/${i}`, payload: Buffer.from('gone'), qos: 0, retain: true } }),
      ),
    );
    for (const client of clients) client.stream.destroy();
    await Promise.all(clients.map((_, i) => sessionOffline(broker, `w${i}`, 'willret')));
    await sleep(200);
    const stored = (await api(broker, 'GET', `/tenants/willret/retained?filter=${encodeURIComponent('wills/#')}`, master)).json.messages;
    // Enforced per shard as its share, ceil(4 / 4 shards) = 1 each: at most 4 in all.
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.length).toBeLessThanOrEqual(4);
  });
});

describe('M1: token changes reach offline sessions', () => {
  let master: string;
  beforeAll(async () => {
    master = await newTenant(broker, ADMIN, 'fleet');
  });

  it('[DESIGN §3] narrowing a token removes the subscriptions its offline session may no longer hold', async () => {
    const tok = await newToken(broker, 'fleet', master, { name: 'reader', acl: [{ filter: 'news/#', rights: ['sub'] }, { filter: 'sport/#', rights: ['sub'] }] });
    const reader = await connectClient(broker.mqttUrl, { clientId: 'offline-reader', username: tok.token, clean: false });
    await subscribe(reader, ['news/#', 'sport/#'], 1);
    await end(reader);
    await sessionOffline(broker, 'offline-reader', 'fleet');
    expect((await api(broker, 'PATCH', `/tenants/fleet/tokens/${tok.id}`, master, { acl: [{ filter: 'sport/#', rights: ['sub'] }] })).status).toBe(200);
    expect((await describeSession(broker, 'offline-reader', 'fleet'))?.subscriptions.map((s) => s.filter)).toEqual(['sport/#']);
    const publisher = await connectClient(broker.mqttUrl, { clientId: 'fleet-pub', username: master });
    await publish(publisher, 'news/a', 'not for the reader any more', { qos: 1 });
    await publish(publisher, 'sport/a', 'still for the reader', { qos: 1 });
    const back = await connectClient(broker.mqttUrl, { clientId: 'offline-reader', username: tok.token, clean: false });
    const got = recorder(back);
    await got.waitFor(1);
    // The queue leaves with the CONNACK: after a round trip everything queued has arrived.
    await roundTrip(back);
    expect(got.messages.map((m) => m.topic)).toEqual(['sport/a']);
    await Promise.all([end(back), end(publisher)]);
  });

  it('[DESIGN §3] deleting a token ends its offline sessions: subscriptions, queue and delayed will are gone', async () => {
    const tok = await newToken(broker, 'fleet', master, { name: 'doomed', acl: [{ filter: '#', rights: ['pub', 'sub'] }] });
    const watcher = await connectClient(broker.mqttUrl, { clientId: 'will-watcher', username: master });
    const wills = recorder(watcher);
    await subscribe(watcher, 'status/#', 1);
    const device = await connectClient(broker.mqttUrl, {
      clientId: 'doomed-device',
      username: tok.token,
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: 3600 },
      will: { topic: 'status/doomed', payload: Buffer.from('gone'), qos: 1, retain: false, properties: { willDelayInterval: 2 } },
    });
    await subscribe(device, 'jobs/#', 1);
    device.stream.destroy(); // lost, not a DISCONNECT: the will waits for its delay
    await sessionOffline(broker, 'doomed-device', 'fleet');
    await publish(watcher, 'jobs/1', 'queued', { qos: 1 });
    expect((await describeSession(broker, 'doomed-device', 'fleet'))?.queued).toBe(1);
    expect((await api(broker, 'DELETE', `/tenants/fleet/tokens/${tok.id}`, master)).status).toBe(204);
    expect(await describeSession(broker, 'doomed-device', 'fleet')).toBeUndefined();
    expect((await tenantSessions(broker, 'fleet')).map((s) => s.clientId)).not.toContain('doomed-device');
    // The will's delay passes (its alarm, had it been kept, fires at 2 s): a revoked token publishes nothing.
    await sleep(3000);
    expect(wills.messages).toEqual([]);
    await Promise.all([end(watcher), end(device, true)]);
  });
});

describe('M2: limits hold under concurrent CONNECTs', () => {
  it('[DESIGN §5] 12 CONNECTs at once with maxConnections 1: exactly one gets in (3.1.1 0x03 for the rest)', async () => {
    const master = await newTenant(broker, ADMIN, 'race-conn');
    const tok = await newToken(broker, 'race-conn', master, { name: 'one', acl: [{ filter: '#', rights: ['pub', 'sub'] }], limits: { maxConnections: 1 } });
    expect(await concurrentConnects(12, tok.token, 'c')).toBe(1);
  });

  it('[DESIGN §5] 12 CONNECTs at once with a tenant maxSessions of 2: exactly two get in', async () => {
    const master = await newTenant(broker, ADMIN, 'race-sess', { maxSessions: 2 });
    expect(await concurrentConnects(12, master, 's')).toBe(2);
  });
});
