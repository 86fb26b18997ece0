// Tenants, tokens and ACLs end to end: admin API over HTTP, real mqtt.js clients over WebSocket.
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from './broker.js';
import { connectClient, end, publish, recorder, roundTrip, sentinel, subscribe, waitUntil } from './clients.js';
import { api as callApi, newTenant as createTenant, newToken as createToken, presenceReported as presenceAt, refusedCode } from './tenants.js';

const ADMIN = 'tenancy-admin-secret';
let broker: RunningBroker;

beforeAll(async () => {
  broker = await startBroker({ vars: { ADMIN_TOKEN: ADMIN, ALLOW_ANONYMOUS: 'false' } });
});
afterAll(async () => {
  await broker?.stop();
});

const api = async (method: string, path: string, bearer: string, body?: unknown) => {
  const { status, json } = await callApi(broker, method, path, bearer, body);
  return { status, json };
};
const newTenant = (name: string) => createTenant(broker, ADMIN, name);
const newToken = (tenant: string, bearer: string, input: Record<string, unknown>) => createToken(broker, tenant, bearer, input);
const presenceReported = (tenant: string, clientId: string) => presenceAt(broker, tenant, clientId);

function closed(client: MqttClient): Promise<number> {
  const started = Date.now();
  return new Promise((resolve) => client.once('close', () => resolve(Date.now() - started)));
}

describe('tokens', () => {
  let master: string;
  let device: { token: string; id: string };

  beforeAll(async () => {
    master = await newTenant('acme');
    device = await newToken('acme', master, {
      name: 'devices',
      acl: [
        { filter: 'devices/%c/#', rights: ['pub', 'sub'] },
        { filter: 'alerts/+', rights: ['sub'] },
      ],
    });
  });

  it('the token connects as username (password ignored); the secret is never listed', async () => {
    const client = await connectClient(broker.mqttUrl, { clientId: 'd1', username: device.token, password: 'ignored' });
    await end(client);
    const listed = await api('GET', '/tenants/acme/tokens', master);
    expect(listed.status).toBe(200);
    expect(JSON.stringify(listed.json)).not.toContain(device.token.split('.')[2]);
    expect(listed.json.tokens.map((t: { name: string }) => t.name).sort()).toEqual(['devices', 'master']);
  });

  it('[MQTT-3.2.2-3] an unknown or wrong token gets CONNACK 0x05 (3.1.1) / 0x86 (5.0), anonymous 0x05', async () => {
    const wrong = device.token.slice(0, -4) + 'AAAA';
    expect(await refusedCode(broker.mqttUrl, { clientId: 'x1', username: wrong })).toBe(5);
    expect(await refusedCode(broker.mqttUrl, { clientId: 'x2', username: 'not-a-token' })).toBe(5);
    expect(await refusedCode(broker.mqttUrl, { clientId: 'x3', username: wrong, protocolVersion: 5 })).toBe(0x86);
    expect(await refusedCode(broker.mqttUrl, { clientId: 'x4' })).toBe(5);
  });

  it('[DESIGN §5] a publish outside the ACL is dropped (3.1.1) and refused with 0x87 (5.0)', async () => {
    const watcher = await connectClient(broker.mqttUrl, { clientId: 'watch', username: master });
    const got = recorder(watcher);
    await subscribe(watcher, '#', 0);
    const v3 = await connectClient(broker.mqttUrl, { clientId: 'd2', username: device.token });
    await publish(v3, 'devices/d2/temp', 'allowed', { qos: 1 });
    await publish(v3, 'devices/other/temp', 'forbidden', { qos: 1 });
    const v5 = await connectClient(broker.mqttUrl, { clientId: 'd3', username: device.token, protocolVersion: 5 });
    const refusal = await publish(v5, 'alerts/fire', 'forbidden', { qos: 1 }).then(
      () => 0,
      (error: { code?: number }) => error.code,
    );
    expect(refusal).toBe(0x87);
    await got.waitFor(1);
    await roundTrip(watcher); // every publish was answered, so delivered wherever it went
    expect(got.messages.map((m) => m.payload)).toEqual(['allowed']);
    await Promise.all([end(watcher), end(v3), end(v5)]);
  });

  it('[DESIGN §5] a subscribe outside the ACL gets 0x80 (3.1.1) / 0x87 (5.0); $SYS is readable', async () => {
    const v3 = await connectClient(broker.mqttUrl, { clientId: 'd4', username: device.token });
    const granted = await subscribe(v3, { 'devices/d4/#': { qos: 1 }, 'devices/#': { qos: 1 }, 'alerts/+': { qos: 0 }, '$SYS/broker/#': { qos: 0 } });
    expect(granted.map((g) => g.qos)).toEqual([1, 0x80, 0, 0]);
    const v5 = await connectClient(broker.mqttUrl, { clientId: 'd5', username: device.token, protocolVersion: 5 });
    const granted5 = await subscribe(v5, 'devices/#', 1);
    expect(granted5.map((g) => g.qos)).toEqual([0x87]);
    await Promise.all([end(v3), end(v5)]);
  });

  it('[DESIGN §3] disabling a token closes its live connections within about a second (5.0: DISCONNECT 0x98)', async () => {
    const victim = await newToken('acme', master, { name: 'victim', acl: [{ filter: '#', rights: ['pub', 'sub'] }] });
    const v3 = await connectClient(broker.mqttUrl, { clientId: 'v1', username: victim.token });
    const v5 = await connectClient(broker.mqttUrl, { clientId: 'v2', username: victim.token, protocolVersion: 5 });
    const reason = new Promise<number | undefined>((resolve) => v5.once('disconnect', (packet) => resolve(packet.reasonCode)));
    const v3Closed = closed(v3);
    const patched = await api('PATCH', `/tenants/acme/tokens/${victim.id}`, master, { enabled: false });
    expect(patched.status).toBe(200);
    expect(patched.json.enabled).toBe(false);
    const latency = await v3Closed;
    expect(await reason).toBe(0x98);
    expect(latency).toBeLessThan(1000);
    console.log(`revocation latency (disable → socket closed): ${latency} ms`);
    expect(await refusedCode(broker.mqttUrl, { clientId: 'v3', username: victim.token })).toBe(5);
    await end(v3, true);
    await end(v5, true);
  });

  it('[DESIGN §3] deleting a token closes its connections; changing its ACL removes lost subscriptions', async () => {
    const tok = await newToken('acme', master, { name: 'changing', acl: [{ filter: 'news/#', rights: ['sub'] }] });
    const reader = await connectClient(broker.mqttUrl, { clientId: 'r1', username: tok.token });
    const got = recorder(reader);
    await subscribe(reader, 'news/#', 0);
    const publisher = await connectClient(broker.mqttUrl, { clientId: 'p1', username: master });
    await publish(publisher, 'news/a', 'first', { qos: 1 });
    await got.waitFor(1);
    expect((await api('PATCH', `/tenants/acme/tokens/${tok.id}`, master, { acl: [{ filter: 'sport/#', rights: ['sub'] }] })).status).toBe(200);
    await publish(publisher, 'news/a', 'second', { qos: 1 });
    await roundTrip(reader); // after the PUBACK: had it matched, 'second' has arrived
    expect(got.messages.map((m) => m.payload)).toEqual(['first']);
    expect(reader.connected).toBe(true);
    const readerClosed = closed(reader);
    expect((await api('DELETE', `/tenants/acme/tokens/${tok.id}`, master)).status).toBe(204);
    expect(await readerClosed).toBeLessThan(1000);
    await end(publisher);
    await end(reader, true);
  });

  it('[DESIGN §5] an expired token is refused, and a live connection is closed when it expires', async () => {
    const soon = await newToken('acme', master, { name: 'soon', acl: [{ filter: '#', rights: ['pub', 'sub'] }], expiresAt: Date.now() + 1500 });
    const client = await connectClient(broker.mqttUrl, { clientId: 'e1', username: soon.token });
    const closedAfter = await closed(client);
    expect(closedAfter).toBeGreaterThan(800);
    expect(closedAfter).toBeLessThan(4000);
    expect(await refusedCode(broker.mqttUrl, { clientId: 'e2', username: soon.token })).toBe(5);
    await end(client, true);
  });

  it('limits: concurrent connections (0x97 / 0x03), subscriptions (0x97 / 0x80) and message size', async () => {
    const limited = await newToken('acme', master, {
      name: 'limited',
      acl: [{ filter: '#', rights: ['pub', 'sub'] }],
      limits: { maxConnections: 1, maxSubscriptions: 2, maxMessageSize: 10 },
    });
    const first = await connectClient(broker.mqttUrl, { clientId: 'l1', username: limited.token, protocolVersion: 5 });
    await presenceReported('acme', 'l1');
    expect(await refusedCode(broker.mqttUrl, { clientId: 'l2', username: limited.token, protocolVersion: 5 })).toBe(0x97);
    expect(await refusedCode(broker.mqttUrl, { clientId: 'l3', username: limited.token })).toBe(3);
    const granted = await subscribe(first, { a: { qos: 0 }, b: { qos: 0 }, c: { qos: 0 } });
    expect(granted.map((g) => g.qos)).toEqual([0, 0, 0x97]);
    const big = await publish(first, 'a', 'x'.repeat(11), { qos: 1 }).then(
      () => 0,
      (error: { code?: number }) => error.code,
    );
    expect(big).toBe(0x97);
    await end(first);
  });
});

describe('tenants', () => {
  it('[DESIGN §5] the same client id in two tenants is two sessions, and messages never cross tenants', async () => {
    const red = await newTenant('red');
    const blue = await newTenant('blue');
    const inRed = await connectClient(broker.mqttUrl, { clientId: 'same', username: red });
    const inBlue = await connectClient(broker.mqttUrl, { clientId: 'same', username: blue });
    // A take-over closes the old connection as the new one is accepted: then the round trip gets no answer.
    await Promise.all([roundTrip(inRed), roundTrip(inBlue)]);
    expect(inRed.connected && inBlue.connected).toBe(true); // no take-over across tenants
    const redGot = recorder(inRed);
    const blueGot = recorder(inBlue);
    await subscribe(inRed, 'shared/topic', 0);
    await subscribe(inBlue, 'shared/topic', 0);
    await publish(inRed, 'shared/topic', 'red only', { qos: 1 });
    await redGot.waitFor(1);
    await roundTrip(inBlue); // after the PUBACK: had it crossed, 'red only' has arrived
    expect(blueGot.messages).toHaveLength(0);
    await Promise.all([end(inRed), end(inBlue)]);
  });

  it('API errors are 4xx with a JSON error saying what is wrong; no route leaks another tenant', async () => {
    const green = await newTenant('green');
    const other = await newTenant('other');
    expect(await api('POST', '/tenants', ADMIN, { name: 'green' })).toEqual({ status: 409, json: { error: 'tenant "green" already exists' } });
    expect((await api('POST', '/tenants', ADMIN, { name: 'Bad Name' })).status).toBe(400);
    const listed = await api('GET', '/tenants', ADMIN);
    expect(listed.json.tenants.map((t: { name: string }) => t.name)).toEqual(expect.arrayContaining(['green', 'other']));
    // A tenant's master token is known but not the admin: 403; a wrong bearer: 401.
    expect((await api('GET', '/tenants', green)).status).toBe(403);
    expect((await api('POST', '/tenants', 'wrong', { name: 'x' })).status).toBe(401);
    expect((await api('POST', '/tenants', green, { name: 'x' })).status).toBe(403);
    expect((await api('GET', '/tenants/green/tokens', other)).status).toBe(403);
    expect((await api('GET', '/tenants/green/tokens', 'garbage')).status).toBe(401);
    const badAcl = await api('POST', '/tenants/green/tokens', green, { acl: [{ filter: 'a/#/b', rights: ['pub'] }] });
    expect(badAcl.status).toBe(400);
    expect(badAcl.json.error).toMatch(/acl\[0\]\.filter/);
    expect((await api('POST', '/tenants/green/tokens', green, '{not json')).json).toEqual({ error: 'body must be valid JSON' });
    expect((await api('POST', '/tenants/green/tokens', green, { nmae: 'typo' })).json).toEqual({ error: 'body has an unknown field "nmae"' });
    expect((await api('GET', '/tenants/green/tokens/doesnotexist', green)).status).toBe(404);
    const openapi = (await api('GET', '/openapi.json', '')).json;
    expect(openapi.openapi).toBe('3.1.0');
    expect(openapi.components.schemas.TokenInput.properties.acl.items.required).toEqual(['filter', 'rights']);
    expect(openapi.components.schemas.PublishInput.properties.qos.enum).toEqual([0, 1]);
    const nonMaster = await newToken('green', green, { name: 'plain', acl: [] });
    expect((await api('GET', '/tenants/green/tokens', nonMaster.token)).status).toBe(403);
  });
});

describe('sessions API', () => {
  it('lists connected and offline sessions with subscriptions and queue depth, and kicks one (0x98)', async () => {
    const master = await newTenant('sess');
    const live = await connectClient(broker.mqttUrl, { clientId: 'live-1', username: master, protocolVersion: 5 });
    await subscribe(live, 'x/#', 1);
    const away = await connectClient(broker.mqttUrl, { clientId: 'away-1', username: master, clean: false });
    await subscribe(away, 'y/+', 1);
    await end(away);
    const pub = await connectClient(broker.mqttUrl, { clientId: 'pub-1', username: master });
    await publish(pub, 'y/1', 'queued', { qos: 1 });
    await end(pub);
    // The ends of both connections have reached their sessions and the tenant object.
    let listed: { status: number; json: any } = { status: 0, json: undefined };
    await waitUntil(
      async () => {
        listed = await api('GET', '/tenants/sess/sessions?details=1', master);
        const sessions = (listed.json?.sessions ?? []) as Array<{ clientId: string; connected: boolean }>;
        return !sessions.some((s) => s.clientId === 'pub-1') && sessions.some((s) => s.clientId === 'away-1' && !s.connected);
      },
      { what: 'pub-1 ended and away-1 offline in the sessions API' },
    );
    expect(listed.status).toBe(200);
    const byId = Object.fromEntries(listed.json.sessions.map((s: { clientId: string }) => [s.clientId, s]));
    expect(byId['live-1']).toMatchObject({ connected: true, subscriptions: [{ filter: 'x/#', qos: 1 }], queued: 0 });
    expect(byId['away-1']).toMatchObject({ connected: false, subscriptions: [{ filter: 'y/+', qos: 1 }], queued: 1 });
    expect(byId['pub-1']).toBeUndefined(); // a clean session ends with its connection

    const reason = new Promise<number | undefined>((resolve) => live.once('disconnect', (packet) => resolve(packet.reasonCode)));
    expect((await api('DELETE', '/tenants/sess/sessions/live-1', master)).status).toBe(204);
    expect(await reason).toBe(0x98);
    expect((await api('DELETE', '/tenants/sess/sessions/live-1', master)).status).toBe(404);
    await end(live, true);
  });
});

describe('HTTP publish', () => {
  it('publishes with a token, obeying its ACL, QoS 0/1 and retain', async () => {
    const master = await newTenant('http');
    const sensor = await newToken('http', master, { name: 'sensor', acl: [{ filter: 'sensors/#', rights: ['pub'] }] });
    const reader = await connectClient(broker.mqttUrl, { clientId: 'reader', username: master });
    const got = recorder(reader);
    await subscribe(reader, 'sensors/#', 1);
    const sent = await api('POST', '/tenants/http/publish', sensor.token, { topic: 'sensors/t1', payload: '21.5', qos: 1, retain: true });
    expect(sent).toEqual({ status: 200, json: { delivered: 1 } });
    await got.waitFor(1);
    expect([got.messages[0]!.topic, got.messages[0]!.payload, got.messages[0]!.packet.qos]).toEqual(['sensors/t1', '21.5', 1]);
    const late = await connectClient(broker.mqttUrl, { clientId: 'late', username: master });
    const lateGot = recorder(late);
    await subscribe(late, 'sensors/t1', 0);
    await lateGot.waitFor(1);
    expect(lateGot.messages[0]!.packet.retain).toBe(true);
    const forbidden = await api('POST', '/tenants/http/publish', sensor.token, { topic: 'other/t', payload: 'x' });
    expect(forbidden).toEqual({ status: 403, json: { error: 'this token may not publish to "other/t"' } });
    expect((await api('POST', '/tenants/http/publish', sensor.token, { topic: 'sensors/+', payload: 'x' })).status).toBe(400);
    expect((await api('POST', '/tenants/http/publish', sensor.token, { topic: 'sensors/a', qos: 2 })).json).toEqual({ error: 'body.qos must be one of 0, 1' });
    // A plain token publishes but cannot manage the tenant.
    expect((await api('GET', '/tenants/http/tokens', sensor.token)).status).toBe(403);
    await Promise.all([end(reader), end(late)]);
  });
});

describe('tenant limits', () => {
  it('limits tokens and sessions per tenant, and counts what was refused', async () => {
    const created = await api('POST', '/tenants', ADMIN, { name: 'small', limits: { maxTokens: 2, maxSessions: 1 } });
    expect(created.status).toBe(201);
    const master = created.json.masterToken as string;
    await newToken('small', master, { name: 'second', acl: [] });
    const third = await api('POST', '/tenants/small/tokens', master, { name: 'third' });
    expect(third).toEqual({ status: 403, json: { error: "the tenant's limit of 2 tokens is reached" } });
    const first = await connectClient(broker.mqttUrl, { clientId: 'only', username: master, protocolVersion: 5 });
    await presenceReported('small', 'only');
    expect(await refusedCode(broker.mqttUrl, { clientId: 'another', username: master, protocolVersion: 5 })).toBe(0x97);
    // The same client id is not a new session: it takes the existing one over.
    const again = await connectClient(broker.mqttUrl, { clientId: 'only', username: master, protocolVersion: 5 });
    // Refused CONNECTs are logged by the Worker after the CONNACK: counted once their entry is written.
    let hits: unknown;
    await waitUntil(async () => (hits = (await api('GET', '/tenants/small/stats', master)).json.limitHits).sessions === 1, { what: 'the sessions refusal counted' });
    expect(hits).toEqual({ tokens: 1, sessions: 1 });
    expect((await api('PUT', '/tenants/small/limits', master, { maxSessions: 5 })).status).toBe(403);
    expect((await api('PUT', '/tenants/small/limits', ADMIN, { maxSessions: 0 })).json).toEqual({ error: 'body.maxSessions must be at least 1' });
    expect((await api('PUT', '/tenants/small/limits', ADMIN, { maxSessions: 5 })).status).toBe(200);
    const now = await connectClient(broker.mqttUrl, { clientId: 'another', username: master });
    await Promise.all([end(now), end(again), end(first, true)]);
  });
});

describe('retained API', () => {
  it('lists retained messages by filter (text or base64) and deletes one', async () => {
    const master = await newTenant('ret');
    const pub = await connectClient(broker.mqttUrl, { clientId: 'rp', username: master });
    await publish(pub, 'plant/a/temp', '20', { qos: 1, retain: true });
    await publish(pub, 'plant/b/temp', Buffer.from([0xff, 0x00, 0x01]), { qos: 1, retain: true });
    await publish(pub, 'office/temp', '22', { qos: 0, retain: true });
    await end(pub);
    const listed = await api('GET', '/tenants/ret/retained?filter=' + encodeURIComponent('plant/#'), master);
    expect(listed.json.messages).toEqual([
      { topic: 'plant/a/temp', qos: 1, bytes: 2, payload: '20', encoding: 'utf8' },
      { topic: 'plant/b/temp', qos: 1, bytes: 3, payload: Buffer.from([0xff, 0x00, 0x01]).toString('base64'), encoding: 'base64' },
    ]);
    expect((await api('GET', '/tenants/ret/retained', master)).json.messages).toHaveLength(3);
    expect((await api('DELETE', '/tenants/ret/retained?topic=' + encodeURIComponent('office/temp'), master)).status).toBe(204);
    expect((await api('DELETE', '/tenants/ret/retained?topic=' + encodeURIComponent('office/temp'), master)).status).toBe(404);
    expect((await api('GET', '/tenants/ret/retained?filter=' + encodeURIComponent('a/#/b'), master)).status).toBe(400);
    expect((await api('GET', '/tenants/ret/retained', master)).json.messages.map((m: { topic: string }) => m.topic)).toEqual(['plant/a/temp', 'plant/b/temp']);
  });
});

describe('token queue limit', () => {
  it('an offline session of a token with maxQueued keeps only the newest messages', async () => {
    const master = await newTenant('queue');
    const tok = await newToken('queue', master, { name: 'q', acl: [{ filter: '#', rights: ['pub', 'sub'] }], limits: { maxQueued: 2 } });
    const sub = await connectClient(broker.mqttUrl, { clientId: 'qs', username: tok.token, clean: false });
    await subscribe(sub, 'q/t', 1);
    await end(sub);
    const pub = await connectClient(broker.mqttUrl, { clientId: 'qp', username: master });
    for (let i = 0; i < 5; i++) await publish(pub, 'q/t', String(i), { qos: 1 });
    const back = await connectClient(broker.mqttUrl, { clientId: 'qs', username: tok.token, clean: false });
    const got = recorder(back);
    await got.waitFor(2);
    await sentinel(pub, 'q/t', got);
    expect(got.messages.map((m) => m.payload)).toEqual(['3', '4']);
    await Promise.all([end(back), end(pub)]);
  });
});

describe('tenant retained limit', () => {
  it('a tenant over its retained limit keeps delivering live but stores no new retained topic (counted)', async () => {
    const created = await api('POST', '/tenants', ADMIN, { name: 'retlim', limits: { maxRetained: 4 } });
    const master = created.json.masterToken as string;
    const watcher = await connectClient(broker.mqttUrl, { clientId: 'rw', username: master });
    const got = recorder(watcher);
    await subscribe(watcher, 'r/#', 0);
    const pub = await connectClient(broker.mqttUrl, { clientId: 'rpub', username: master });
    for (let i = 0; i < 20; i++) await publish(pub, `r/${i}`, `v${i}`, { qos: 1, retain: true });
    await got.waitFor(20);
    const stored = (await api('GET', '/tenants/retlim/retained', master)).json.messages as Array<{ topic: string }>;
    // SHARD_COUNT 4: each shard holds ceil(4 / 4) = 1 retained topic of this tenant.
    expect(stored.length).toBeGreaterThanOrEqual(1);
    expect(stored.length).toBeLessThanOrEqual(4);
    // Replacing a topic that is already retained is always allowed.
    await publish(pub, stored[0]!.topic, 'replaced', { qos: 1, retain: true });
    const again = (await api('GET', '/tenants/retlim/retained', master)).json.messages as Array<{ topic: string; payload: string }>;
    expect(again.find((m) => m.topic === stored[0]!.topic)?.payload).toBe('replaced');
    // Each refusal is an event log entry, counted by its log shard: the shard sends them within a second.
    await waitUntil(async () => (await api('GET', '/tenants/retlim/stats', master)).json.limitHits.retained === 20 - stored.length, {
      what: `${20 - stored.length} retained refusals counted`,
    });
    await Promise.all([end(watcher), end(pub)]);
  });
});
