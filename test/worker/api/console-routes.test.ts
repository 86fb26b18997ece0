// The operator's console routes: the tenant list and one tenant (admin), token search, "last used" and
// secret rotation, session search and the details presence carries.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, end, publish, recorder, subscribe, waitUntil } from '../../integration/clients.js';
import { presenceReported, refusedCode } from '../../integration/tenants.js';
import { ADMIN, startWorkerApi, type WorkerApi } from './worker-api.js';

let api: WorkerApi;
let master: string;
beforeAll(async () => {
  api = await startWorkerApi();
  master = await api.newTenant('console');
});
afterAll(() => api?.stop());

describe('GET /tenants and /tenants/{tenant} (admin)', () => {
  it('lists each tenant with its limits and token count', async () => {
    await api.call('POST', '/tenants', ADMIN, { name: 'limited-one', limits: { maxTokens: 3, maxSessions: 10 } });
    const listed = await api.call('GET', '/tenants', ADMIN);
    expect(listed.status).toBe(200);
    const one = listed.json.tenants.find((t: { name: string }) => t.name === 'limited-one');
    expect(one).toMatchObject({ name: 'limited-one', limits: { maxTokens: 3, maxSessions: 10 }, tokens: 1 });
    expect(one.createdAt).toBeGreaterThan(0);
  });

  it('answers one tenant; 404 with a JSON error for one that does not exist, 400 for a bad name', async () => {
    expect(await api.call('GET', '/tenants/console', ADMIN)).toMatchObject({ status: 200, json: { name: 'console', limits: {}, tokens: 1 } });
    expect(await api.call('GET', '/tenants/ghost', ADMIN)).toMatchObject({ status: 404, json: { error: 'no tenant "ghost"' } });
    expect((await api.call('GET', '/tenants/Bad_Name', ADMIN)).status).toBe(400);
  });

  it('[DESIGN §5] a master token gets 403, no bearer 401', async () => {
    expect((await api.call('GET', '/tenants/console', master)).status).toBe(403);
    expect((await api.call('GET', '/tenants/console', '')).status).toBe(401);
  });
});

describe('tokens: search, last used', () => {
  it('?q= keeps tokens whose name (any case) or id contains it; too long a q is 400', async () => {
    const sensor = await api.newToken('console', master, { name: 'Sensor North', acl: [] });
    await api.newToken('console', master, { name: 'gateway', acl: [] });
    const byName = await api.call('GET', '/tenants/console/tokens?q=sensor', master);
    expect(byName.json.tokens.map((t: { name: string }) => t.name)).toEqual(['Sensor North']);
    const byId = await api.call('GET', `/tenants/console/tokens?q=${sensor.id.slice(2, 9)}`, master);
    expect(byId.json.tokens.map((t: { id: string }) => t.id)).toContain(sensor.id);
    expect((await api.call('GET', '/tenants/console/tokens?q=nothing-like-it', master)).json.tokens).toEqual([]);
    const long = await api.call('GET', `/tenants/console/tokens?q=${'x'.repeat(257)}`, master);
    expect(long).toMatchObject({ status: 400, json: { error: 'q must be at most 256 characters' } });
  });

  it('records when a token last authenticated an MQTT CONNECT or an API call, and not before', async () => {
    const device = await api.newToken('console', master, { name: 'device', acl: [{ filter: '#', rights: ['pub', 'sub'] }] });
    const caller = await api.newToken('console', master, { name: 'caller', acl: [{ filter: '#', rights: ['pub'] }] });
    const idle = await api.newToken('console', master, { name: 'idle', acl: [] });
    const ids = [device.id, caller.id, idle.id].join(',');
    expect((await api.call('GET', `/tenants/console/tokens/last-used?ids=${ids}`, master)).json.lastUsed).toEqual({ [device.id]: null, [caller.id]: null, [idle.id]: null });

    const before = Date.now();
    const client = await connectClient(api.broker.mqttUrl, { clientId: 'last-used', username: device.token });
    expect((await api.call('POST', '/tenants/console/publish', caller.token, { topic: 'x' })).status).toBe(200);
    let lastUsed: Record<string, number | null> = {};
    await waitUntil(async () => {
      lastUsed = (await api.call('GET', `/tenants/console/tokens/last-used?ids=${ids}`, master)).json.lastUsed;
      return lastUsed[device.id] !== null && lastUsed[caller.id] !== null;
    }, { what: 'last used recorded' });
    expect(lastUsed[device.id]).toBeGreaterThanOrEqual(before);
    expect(lastUsed[caller.id]).toBeGreaterThanOrEqual(before);
    expect(lastUsed[idle.id]).toBeNull();
    expect((await api.call('GET', `/tenants/console/tokens/${device.id}`, master)).json.lastUsed).toBe(lastUsed[device.id]);
    await end(client);
  });

  it.each([
    ['no ids', ''],
    ['not a token id', '?ids=UPPER-case'],
    ['more than 100', `?ids=${Array.from({ length: 101 }, (_, i) => `a${String(i).padStart(11, '0')}`).join(',')}`],
  ])('last-used with %s: 400 with a JSON error', async (_, query) => {
    const answer = await api.call('GET', `/tenants/console/tokens/last-used${query}`, master);
    expect(answer).toMatchObject({ status: 400, json: { error: 'ids must be 1 to 100 token ids, comma-separated' } });
  });
});

describe('%u in an ACL', () => {
  it('expands to the token id (the middle part of the username), not the whole username, as the dashboard and README say', async () => {
    const inbox = await api.newToken('console', master, { name: 'inbox', acl: [{ filter: 'inbox/%u/#', rights: ['sub'] }] });
    const client = await connectClient(api.broker.mqttUrl, { clientId: 'inbox-reader', username: inbox.token });
    expect(await subscribe(client, `inbox/${inbox.id}/#`, 1)).toEqual([{ topic: `inbox/${inbox.id}/#`, qos: 1 }]);
    expect(await subscribe(client, `inbox/${inbox.token}/#`, 1)).toEqual([{ topic: `inbox/${inbox.token}/#`, qos: 0x80 }]);
    await end(client);
  });
});

describe('POST /tokens/{id}/rotate', () => {
  it('answers a new token once; the old secret is refused (MQTT 0x86 / API 401), the new one works, a live connection keeps running', async () => {
    const old = await api.newToken('console', master, { name: 'rotating', acl: [{ filter: '#', rights: ['pub', 'sub'] }] });
    const live = await connectClient(api.broker.mqttUrl, { clientId: 'rotating-live', username: old.token, protocolVersion: 5 });
    await subscribe(live, 'rot/#', 1);
    const got = recorder(live);

    const rotated = await api.call('POST', `/tenants/console/tokens/${old.id}/rotate`, master);
    expect(rotated.status).toBe(200);
    expect(rotated.json.info).toMatchObject({ id: old.id, name: 'rotating' });
    const fresh: string = rotated.json.token;
    expect(fresh).toMatch(new RegExp(`^console\\.${old.id}\\.[A-Za-z0-9_-]{43}$`));
    expect(fresh).not.toBe(old.token);
    // The list never shows a secret.
    expect(JSON.stringify((await api.call('GET', '/tenants/console/tokens', master)).json)).not.toContain(fresh.split('.')[2]);

    // API: old 401, new 200.
    expect((await api.call('POST', '/tenants/console/publish', old.token, { topic: 'rot/api' })).status).toBe(401);
    expect((await api.call('POST', '/tenants/console/publish', fresh, { topic: 'rot/api', payload: 'new' })).status).toBe(200);
    // MQTT: old refused as a bad user name or password, new admitted.
    expect(await refusedCode(api.broker.mqttUrl, { clientId: 'rotating-old', username: old.token, protocolVersion: 5 })).toBe(0x86);
    // 3.1.1 has no "bad password" for a token: 0x04 (bad user name or password) or 0x05 (not authorized).
    expect([0x04, 0x05]).toContain(await refusedCode(api.broker.mqttUrl, { clientId: 'rotating-old', username: old.token }));
    const renewed = await connectClient(api.broker.mqttUrl, { clientId: 'rotating-new', username: fresh });
    await end(renewed);

    // The connection made with the old secret keeps running: it still receives, and publishes.
    await got.takeMarker('new');
    await publish(live, 'rot/mqtt', 'still here', { qos: 1 });
    await got.takeMarker('still here');
    expect(live.connected).toBe(true);
    await end(live);
  });

  it('an unknown token: 404 with a JSON error', async () => {
    expect(await api.call('POST', '/tenants/console/tokens/aaaaaaaaaaaa/rotate', master)).toMatchObject({ status: 404, json: { error: 'no token "aaaaaaaaaaaa" in this tenant' } });
  });

  it('[DESIGN §5] a token that is not a master token gets 403', async () => {
    const plain = await api.newToken('console', master, { name: 'plain', acl: [] });
    expect((await api.call('POST', `/tenants/console/tokens/${plain.id}/rotate`, plain.token)).status).toBe(403);
  });
});

describe('GET /sessions: search and what presence carries', () => {
  it('?q= keeps client ids containing it (server side, paged); entries carry protocol version, keepalive and expiry', async () => {
    const clients = await Promise.all([
      connectClient(api.broker.mqttUrl, { clientId: 'pump-1', username: master, keepalive: 20 }),
      connectClient(api.broker.mqttUrl, { clientId: 'pump-2', username: master, protocolVersion: 5, keepalive: 45, properties: { sessionExpiryInterval: 600 } }),
      connectClient(api.broker.mqttUrl, { clientId: 'valve-1', username: master, clean: false }),
    ]);
    for (const id of ['pump-1', 'pump-2', 'valve-1']) await presenceReported(api.broker, 'console', id);

    const first = await api.call('GET', '/tenants/console/sessions?q=pump&limit=1', master);
    expect(first.status).toBe(200);
    expect(first.json.sessions).toHaveLength(1);
    expect(first.json.next).not.toBeNull();
    const second = await api.call('GET', `/tenants/console/sessions?q=pump&limit=1&after=${encodeURIComponent(first.json.next)}`, master);
    const found = [...first.json.sessions, ...second.json.sessions];
    expect(found.map((s: { clientId: string }) => s.clientId).sort()).toEqual(['pump-1', 'pump-2']);
    const third = await api.call('GET', `/tenants/console/sessions?q=pump&limit=1&after=${encodeURIComponent(second.json.next ?? '')}`, master);
    expect(second.json.next === null || third.json.sessions.length === 0).toBe(true);

    const all = (await api.call('GET', '/tenants/console/sessions', master)).json.sessions as Array<Record<string, unknown>>;
    const byId = Object.fromEntries(all.map((s) => [s.clientId, s]));
    expect(byId['pump-1']).toMatchObject({ connected: true, protocolVersion: 4, keepAlive: 20, sessionExpiryInterval: 0, expiresAt: null });
    expect(byId['pump-2']).toMatchObject({ connected: true, protocolVersion: 5, keepAlive: 45, sessionExpiryInterval: 600, expiresAt: null });
    expect(byId['valve-1']).toMatchObject({ protocolVersion: 4, sessionExpiryInterval: 0xffffffff });

    // Offline: when the session ends.
    const left = Date.now();
    await end(clients[1]!);
    await waitUntil(async () => {
      const entry = (await api.call('GET', '/tenants/console/sessions?q=pump-2', master)).json.sessions[0];
      return entry?.connected === false && entry.expiresAt !== null;
    }, { what: 'pump-2 reported offline' });
    const offline = (await api.call('GET', '/tenants/console/sessions?q=pump-2', master)).json.sessions[0];
    expect(offline.expiresAt).toBeGreaterThanOrEqual(left + 590_000);
    expect(offline.expiresAt).toBeLessThanOrEqual(Date.now() + 600_000);
    await end(clients[0]!);
    await end(clients[2]!);
  });

  it('bad input: 400 with a JSON error', async () => {
    expect(await api.call('GET', `/tenants/console/sessions?q=${'x'.repeat(300)}`, master)).toMatchObject({ status: 400, json: { error: 'q must be at most 256 characters' } });
    expect((await api.call('GET', '/tenants/console/sessions?after=nonsense', master)).status).toBe(400);
  });
});

describe('DELETE /sessions/{clientId}/state', () => {
  it('a connected session: 409 (kick first), and it stays; an unknown one: 404', async () => {
    const client = await connectClient(api.broker.mqttUrl, { clientId: 'busy', username: master, clean: false });
    await presenceReported(api.broker, 'console', 'busy');
    const answer = await api.call('DELETE', '/tenants/console/sessions/busy/state', master);
    expect(answer).toMatchObject({ status: 409, json: { error: expect.stringContaining('is connected') } });
    expect(client.connected).toBe(true);
    expect(await api.call('DELETE', '/tenants/console/sessions/nobody/state', master)).toMatchObject({ status: 404, json: { error: 'no session "nobody" in this tenant' } });
    await end(client);
  });

  it('[DESIGN §5] a token that is not a master token gets 403', async () => {
    const plain = await api.newToken('console', master, { name: 'no-admin', acl: [] });
    expect((await api.call('DELETE', '/tenants/console/sessions/busy/state', plain.token)).status).toBe(403);
  });
});
