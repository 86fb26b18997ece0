// Data location end to end: a tenant created in a jurisdiction keeps every object there. Local workerd has no
// jurisdictions (namespace.jurisdiction() throws "not implemented in workerd"), so the broker runs with
// EMULATE_JURISDICTIONS=true, as npm start does: an eu tenant's objects are named "@eu/<name>" in the global
// namespaces. Which objects hold storage is read from the persisted state on disk, by object id.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, tempPersistDir, type RunningBroker } from './broker.js';
import { connectClient, end, publish, recorder, subscribe, waitUntil } from './clients.js';
import { api, newToken } from './tenants.js';

const ADMIN = 'data-location-admin';
let broker: RunningBroker;
let persistDir: string;

beforeAll(async () => {
  persistDir = tempPersistDir();
  broker = await startBroker({ persistDir, vars: { ADMIN_TOKEN: ADMIN, ALLOW_ANONYMOUS: 'false' } });
});
afterAll(async () => {
  await broker?.stop();
});

/** Every persisted Durable Object's id (its SQLite file's name), in any namespace. */
function storedIds(): Set<string> {
  const ids = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else if (entry.name.endsWith('.sqlite')) ids.add(entry.name.slice(0, -'.sqlite'.length));
    }
  };
  walk(persistDir);
  return ids;
}

/** Whether the object `name` of `binding` has storage under its global name and under its emulated eu name. */
async function whereStored(binding: string, name: string): Promise<{ global: boolean; eu: boolean }> {
  const namespace = await broker.miniflare.getDurableObjectNamespace(binding);
  const ids = storedIds();
  return { global: ids.has(namespace.idFromName(name).toString()), eu: ids.has(namespace.idFromName(`@eu/${name}`).toString()) };
}

async function createTenant(name: string, jurisdiction?: string): Promise<string> {
  const created = await api(broker, 'POST', '/tenants', ADMIN, { name, ...(jurisdiction ? { jurisdiction } : {}) });
  expect(created.status, JSON.stringify(created.json)).toBe(201);
  expect(created.json.jurisdiction).toBe(jurisdiction ?? null);
  return created.json.masterToken;
}

describe('data location', () => {
  let euMaster: string;
  let globalMaster: string;

  beforeAll(async () => {
    euMaster = await createTenant('eu-corp', 'eu');
    globalMaster = await createTenant('world-corp');
  });

  it('a jurisdiction other than the platform\'s is refused with 400, saying which are allowed', async () => {
    for (const jurisdiction of ['us', 'EU', '', 7]) {
      const refused = await api(broker, 'POST', '/tenants', ADMIN, { name: 'bad-place', jurisdiction });
      expect(refused.status).toBe(400);
      expect(refused.json.error).toContain('jurisdiction must be one of "eu", "fedramp", "fedramp-high"');
    }
    expect((await api(broker, 'GET', '/tenants/bad-place', ADMIN)).status).toBe(404);
  });

  it('the API shows each tenant\'s data location; a name keeps its location (409 for another)', async () => {
    const listed = await api(broker, 'GET', '/tenants', ADMIN);
    const byName = Object.fromEntries(listed.json.tenants.map((t: { name: string; jurisdiction: string | null }) => [t.name, t.jurisdiction]));
    expect(byName).toMatchObject({ 'eu-corp': 'eu', 'world-corp': null });
    expect((await api(broker, 'GET', '/tenants/eu-corp', ADMIN)).json).toMatchObject({ name: 'eu-corp', jurisdiction: 'eu', tokens: 1 });
    expect((await api(broker, 'GET', '/tenants/world-corp', ADMIN)).json).toMatchObject({ name: 'world-corp', jurisdiction: null });
    const again = await api(broker, 'POST', '/tenants', ADMIN, { name: 'eu-corp', jurisdiction: 'fedramp' });
    expect(again.status).toBe(409);
    expect(again.json.error).toContain('data location eu');
    expect((await api(broker, 'POST', '/tenants', ADMIN, { name: 'world-corp', jurisdiction: 'eu' })).status).toBe(409);
    expect((await api(broker, 'POST', '/tenants', ADMIN, { name: 'eu-corp', jurisdiction: 'eu' })).status).toBe(409);
  });

  for (const [tenant, jurisdiction] of [
    ['eu-corp', 'eu'],
    ['world-corp', null],
  ] as const) {
    it(`${tenant} (${jurisdiction ?? 'global'}): QoS 1 to a persistent session, retained, resume after reconnect; its objects live ${jurisdiction ?? 'globally'}`, async () => {
      const master = tenant === 'eu-corp' ? euMaster : globalMaster;
      const device = await newToken(broker, tenant, master, { name: 'device', acl: [{ filter: 'plant/#', rights: ['pub', 'sub'] }] });
      await publish(await connectClient(broker.mqttUrl, { clientId: 'setup', username: device.token }).then(async (c) => {
        await publish(c, 'plant/state', 'retained-1', { qos: 1, retain: true });
        return c;
      }), 'plant/noise', 'x');

      const sub = await connectClient(broker.mqttUrl, { clientId: 'sub', username: device.token, clean: false });
      const got = recorder(sub);
      expect(await subscribe(sub, 'plant/#', 1)).toEqual([{ topic: 'plant/#', qos: 1 }]);
      await got.waitFor(1);
      expect(got.messages.map((m) => [m.topic, m.payload, m.packet.retain])).toEqual([['plant/state', 'retained-1', true]]);
      await end(sub);

      // Offline: QoS 1 is queued in the session; the reconnect resumes it (session present) and delivers.
      const pub = await connectClient(broker.mqttUrl, { clientId: 'pub', username: device.token });
      await publish(pub, 'plant/line-1', 'while-away', { qos: 1 });
      const back = await connectClient(broker.mqttUrl, { clientId: 'sub', username: device.token, clean: false });
      expect((back as unknown as { connackPacket?: { sessionPresent: boolean } }).connackPacket?.sessionPresent).toBe(true);
      const resumed = recorder(back);
      await resumed.waitFor(1);
      expect(resumed.messages.map((m) => [m.topic, m.payload, m.packet.qos])).toEqual([['plant/line-1', 'while-away', 1]]);
      await Promise.all([end(back), end(pub)]);

      // Where the objects are: the tenant object, the token, the session, the retained topic's shard.
      const shardCount = 4;
      const shards = await Promise.all(Array.from({ length: shardCount }, (_, i) => whereStored('SHARD', `${tenant}\u0000shard\u0000${i}`)));
      const objects = {
        tenant: await whereStored('TENANT', tenant),
        token: await whereStored('TOKEN', `${tenant}\u0000token\u0000${device.id}`),
        session: await whereStored('SESSION', `${tenant}\u0000sub`),
        someShard: { global: shards.some((s) => s.global), eu: shards.some((s) => s.eu) },
      };
      const expected = jurisdiction === 'eu' ? { global: false, eu: true } : { global: true, eu: false };
      expect(objects).toEqual({ tenant: expected, token: expected, session: expected, someShard: expected });
    });
  }

  it('the directory entry and the registry stay global; each tenant is listed with its location', async () => {
    expect(await whereStored('TENANT', '_directory\u0000eu-corp')).toEqual({ global: true, eu: false });
    expect(await whereStored('TENANT', '_registry')).toEqual({ global: true, eu: false });
  });

  it('the tenant API works for an eu tenant with its master token (sessions, stats)', async () => {
    const sessions = await api(broker, 'GET', '/tenants/eu-corp/sessions', euMaster);
    expect(sessions.status).toBe(200);
    expect(JSON.stringify(sessions.json)).toContain('"sub"');
    expect((await api(broker, 'GET', '/tenants/eu-corp/stats', euMaster)).status).toBe(200);
    const published = await api(broker, 'POST', '/tenants/eu-corp/publish', euMaster, { topic: 'plant/http', payload: 'hi', qos: 1 });
    expect(published.status, JSON.stringify(published.json)).toBeLessThan(300);
  });

  it('a tenant from before data locations (a global tenant object, no directory entry) is global, and keeps its name', async () => {
    // As the previous release left it: provisioned in the global namespace and listed by the registry.
    const tenants = await broker.miniflare.getDurableObjectNamespace('TENANT');
    type OldTenant = { provision(name: string, limits: object): Promise<{ masterToken: string }>; registerTenant(name: string): Promise<void> };
    const { masterToken } = await (tenants.get(tenants.idFromName('old-corp')) as unknown as OldTenant).provision('old-corp', {});
    await (tenants.get(tenants.idFromName('_registry')) as unknown as OldTenant).registerTenant('old-corp');
    const device = await newToken(broker, 'old-corp', masterToken, { name: 'device', acl: [{ filter: '#', rights: ['pub', 'sub'] }] });
    const client = await connectClient(broker.mqttUrl, { clientId: 'old-1', username: device.token });
    await end(client);
    expect(await whereStored('SESSION', 'old-corp\u0000old-1')).toEqual({ global: true, eu: false });
    expect((await api(broker, 'GET', '/tenants/old-corp', ADMIN)).json).toMatchObject({ jurisdiction: null, tokens: 2 });
    expect((await api(broker, 'POST', '/tenants', ADMIN, { name: 'old-corp', jurisdiction: 'eu' })).json.error).toContain('data location global');
  });

  it('after a restart (cold isolates): the eu session resumes, and an expiry alarm finds its tenant\'s objects by itself', async () => {
    const device = await newToken(broker, 'eu-corp', euMaster, { name: 'restart', acl: [{ filter: '#', rights: ['pub', 'sub'] }] });
    const keep = await connectClient(broker.mqttUrl, { clientId: 'keep', username: device.token, clean: false });
    await subscribe(keep, 'r/#', 1);
    await end(keep);
    const brief = await connectClient(broker.mqttUrl, { clientId: 'brief', username: device.token, clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 2 } });
    await subscribe(brief, 'r/#', 1);
    await end(brief);
    await broker.stop();
    broker = await startBroker({ persistDir, vars: { ADMIN_TOKEN: ADMIN, ALLOW_ANONYMOUS: 'false' } });

    // No request reaches the session before its alarm: the alarm's object learns "eu" from its own id and
    // reports its end to its presence bucket (an eu object too).
    const listed = async () => (await api(broker, 'GET', '/tenants/eu-corp/sessions', euMaster)).json.sessions.map((s: { clientId: string }) => s.clientId);
    await waitUntil(async () => !(await listed()).includes('brief'), { what: 'the expired eu session leaves the list', timeoutMs: 15_000, intervalMs: 200 });
    const pub = await connectClient(broker.mqttUrl, { clientId: 'pub2', username: device.token });
    await publish(pub, 'r/1', 'after-restart', { qos: 1 });
    const back = await connectClient(broker.mqttUrl, { clientId: 'keep', username: device.token, clean: false });
    expect((back as unknown as { connackPacket?: { sessionPresent: boolean } }).connackPacket?.sessionPresent).toBe(true);
    const got = recorder(back);
    await got.waitFor(1);
    expect(got.messages.map((m) => m.payload)).toEqual(['after-restart']);
    await Promise.all([end(back), end(pub)]);
    expect(await whereStored('SESSION', 'eu-corp\u0000brief')).toEqual({ global: false, eu: true });
  });

  it('an unknown tenant\'s token is refused without touching any object of it (0x05)', async () => {
    const client = connectClient(broker.mqttUrl, { clientId: 'ghost', username: `ghost-corp.abcdefabcdef.${'A'.repeat(40)}` });
    await expect(client).rejects.toMatchObject({ code: 5 });
    const token = await whereStored('TOKEN', 'ghost-corp\u0000token\u0000abcdefabcdef');
    expect(token).toEqual({ global: false, eu: false });
  });
});
