// The admin API around ACLs and tokens, in the real Worker (Miniflare): "test this ACL", deny entries and
// client-id patterns stored with a token, and token input that used to answer 500.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../integration/broker.js';
import { api as callApi } from '../../integration/tenants.js';

const ADMIN = 'acl-routes-admin';
let broker: RunningBroker;
let master: string;
let device: { token: string; id: string };

/** A string body is sent as is: JSON escapes like "\ud800" reach the Worker untouched. */
const api = async (method: string, path: string, bearer: string, body?: unknown) => {
  const { status, json } = await callApi(broker, method, path, bearer, body);
  return { status, json };
};

const aclTest = (body: unknown, bearer = master) => api('POST', '/tenants/acme/acl/test', bearer, body);

beforeAll(async () => {
  broker = await startBroker({ vars: { ADMIN_TOKEN: ADMIN, ALLOW_ANONYMOUS: 'false' } });
  const tenant = await api('POST', '/tenants', ADMIN, { name: 'acme' });
  expect(tenant.status).toBe(201);
  master = tenant.json.masterToken;
  const created = await api('POST', '/tenants/acme/tokens', master, {
    name: 'device',
    acl: [
      { filter: 'test/nosubscribe', rights: ['sub'], access: 'deny' },
      { filter: 'devices/%c/#', rights: ['pub', 'sub'] },
      { filter: '#', rights: ['sub'] },
    ],
    clientIds: ['sensor-%u-*', 'lobby'],
  });
  expect(created.status, JSON.stringify(created.json)).toBe(201);
  device = { token: created.json.token, id: created.json.info.id };
});
afterAll(async () => {
  await broker?.stop();
});

describe('POST /tenants/:tenant/acl/test', () => {
  it('a deny entry above an allow #: subscribing # is granted, the denied topic is neither subscribable nor delivered', async () => {
    expect((await aclTest({ tokenId: device.id, action: 'subscribe', topic: '#' })).json).toEqual({
      allowed: true,
      entry: 2,
      reason: 'allowed by allow sub "#"',
      clientIdAllowed: null,
    });
    expect((await aclTest({ tokenId: device.id, action: 'subscribe', topic: 'test/nosubscribe' })).json).toMatchObject({ allowed: false, entry: 0 });
    expect((await aclTest({ tokenId: device.id, action: 'receive', topic: 'test/nosubscribe' })).json).toMatchObject({ allowed: false, entry: 0 });
    expect((await aclTest({ tokenId: device.id, action: 'receive', topic: 'test/other' })).json).toMatchObject({ allowed: true, entry: 2 });
  });

  it('%c comes from clientId and %u is the token id; clientIdAllowed checks the token\'s patterns', async () => {
    const own = await aclTest({ tokenId: device.id, clientId: `sensor-${device.id}-1`, action: 'publish', topic: `devices/sensor-${device.id}-1/temp` });
    expect(own.json).toEqual({ allowed: true, entry: 1, reason: `allowed by allow pub "devices/%c/#" (as "devices/sensor-${device.id}-1/#")`, clientIdAllowed: true });
    const other = await aclTest({ tokenId: device.id, clientId: 'intruder', action: 'publish', topic: 'devices/d1/temp' });
    expect(other.json).toMatchObject({ allowed: false, entry: null, clientIdAllowed: false });
    expect((await aclTest({ tokenId: device.id, clientId: 'lobby', action: 'publish', topic: 'x' })).json.clientIdAllowed).toBe(true);
  });

  it('an unknown token: 404', async () => {
    const answer = await aclTest({ tokenId: 'nosuchtoken0', action: 'publish', topic: 'a' });
    expect(answer.status).toBe(404);
    expect(answer.json.error).toContain('nosuchtoken0');
  });

  it.each([
    [{ tokenId: 'x', action: 'write', topic: 'a' }, 'body.action must be one of "publish", "subscribe", "receive"'],
    [{ action: 'publish', topic: 'a' }, 'body.tokenId is required'],
    [{ tokenId: 'x', action: 'publish', topic: 'a/#' }, 'body.topic must be a valid MQTT topic name (no wildcards)'],
    [{ tokenId: 'x', action: 'receive', topic: 'a/+' }, 'body.topic must be a valid MQTT topic name (no wildcards)'],
    [{ tokenId: 'x', action: 'subscribe', topic: 'a/#/b' }, 'body.topic must be a valid MQTT topic filter'],
    [{ tokenId: 'x', action: 'publish', topic: 'a', extra: 1 }, 'body has an unknown field "extra"'],
    ['{"tokenId":"x","clientId":"\\ud800","action":"publish","topic":"a"}', 'body.clientId must be well-formed Unicode (no lone surrogate)'],
    ['{"tokenId":"x","action":"publish","topic":"a/\\udc00"}', 'body.topic must be a valid MQTT topic name (no wildcards)'],
    ['not json', 'body must be valid JSON'],
  ])('bad input %j: 400 saying %s', async (body, error) => {
    const answer = await aclTest(body);
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual({ error });
  });

  it('is master only: a tenant\'s ordinary token gets 403, no token 401, the admin may', async () => {
    expect((await aclTest({ tokenId: device.id, action: 'publish', topic: 'a' }, device.token)).status).toBe(403);
    expect((await aclTest({ tokenId: device.id, action: 'publish', topic: 'a' }, 'nonsense')).status).toBe(401);
    expect((await aclTest({ tokenId: device.id, action: 'publish', topic: 'a' }, ADMIN)).status).toBe(200);
  });

  it('is documented in openapi.json', async () => {
    const document = (await api('GET', '/openapi.json', master)).json;
    expect(document.paths['/api/v1/tenants/{tenant}/acl/test'].post.requestBody.content['application/json'].schema.$ref).toBe('#/components/schemas/AclTestInput');
    expect(document.components.schemas.AclTestInput.required).toEqual(['tokenId', 'action', 'topic']);
    expect(document.components.schemas.TokenInput.properties.clientIds.maxItems).toBe(50);
  });
});

describe('tokens: deny entries and client-id patterns are stored', () => {
  it('access round-trips; entries keep their order', async () => {
    const read = await api('GET', `/tenants/acme/tokens/${device.id}`, master);
    expect(read.json.acl).toEqual([
      { filter: 'test/nosubscribe', rights: ['sub'], access: 'deny' },
      { filter: 'devices/%c/#', rights: ['pub', 'sub'] },
      { filter: '#', rights: ['sub'] },
    ]);
    expect(read.json.clientIds).toEqual(['sensor-%u-*', 'lobby']);
  });

  it.each([
    [{ acl: [{ filter: 'a', rights: ['pub'], access: 'block' }] }, 'body.acl[0].access must be one of "allow", "deny"'],
    [{ clientIds: [''] }, 'body.clientIds[0] must have at least 1 characters'],
    [{ clientIds: ['x'.repeat(257)] }, 'body.clientIds[0] must have at most 256 characters'],
    [{ clientIds: Array.from({ length: 51 }, (_, i) => `c${i}`) }, 'body.clientIds must have at most 50 items'],
    [{ clientIds: 'a-*' }, 'body.clientIds must be an array'],
  ])('%j: 400 saying %s', async (body, error) => {
    const answer = await api('PATCH', `/tenants/acme/tokens/${device.id}`, master, body);
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual({ error });
  });

  it('clientIds: [] removes the binding (any client id)', async () => {
    const other = await api('POST', '/tenants/acme/tokens', master, { name: 'unbound' });
    const id = other.json.info.id as string;
    expect((await api('PATCH', `/tenants/acme/tokens/${id}`, master, { clientIds: ['only-me'] })).json.clientIds).toEqual(['only-me']);
    expect((await api('PATCH', `/tenants/acme/tokens/${id}`, master, { clientIds: [] })).json.clientIds).toEqual([]);
    expect((await api('GET', `/tenants/acme/tokens/${id}`, master)).json.clientIds).toEqual([]);
  });
});

describe('token input that used to answer 500', () => {
  it('an expiry past 2100 is refused with 400, and the tenant keeps creating tokens', async () => {
    // Accepted before, it became the tenant's alarm time, which workerd refuses past 2262: every later token
    // create or patch of the tenant answered 500.
    for (const expiresAt of [1e13, 8.64e15, 253402300799999, 4102444800001]) {
      const answer = await api('POST', '/tenants/acme/tokens', master, { name: 'far', expiresAt });
      expect(answer.status, String(expiresAt)).toBe(400);
      expect(answer.json.error).toBe('body.expiresAt must be at most 4102444800000');
    }
    const latest = await api('POST', '/tenants/acme/tokens', master, { name: 'latest', expiresAt: 4102444800000 });
    expect(latest.status).toBe(201);
    expect((await api('POST', '/tenants/acme/tokens', master, { name: 'after' })).status).toBe(201);
    expect((await api('PATCH', `/tenants/acme/tokens/${latest.json.info.id}`, master, { name: 'latest2' })).status).toBe(200);
  });

  it('a name with a lone surrogate is refused with 400 (it was stored as U+FFFD, unlike the answer)', async () => {
    for (const [method, path] of [['POST', '/tenants/acme/tokens'], ['PATCH', `/tenants/acme/tokens/${device.id}`]] as const) {
      const answer = await api(method, path, master, '{"name":"a\\ud800b"}');
      expect(answer.status).toBe(400);
      expect(answer.json).toEqual({ error: 'body.name must be well-formed Unicode (no lone surrogate)' });
    }
    const paired = await api('POST', '/tenants/acme/tokens', master, '{"name":"rocket \\ud83d\\ude80"}');
    expect(paired.status).toBe(201);
    expect((await api('GET', `/tenants/acme/tokens/${paired.json.info.id}`, master)).json.name).toBe('rocket 🚀');
  });

  it('no JSON route answers 500 for a lone surrogate', async () => {
    const lone = '\\ud800';
    const answers = await Promise.all([
      api('POST', '/tenants', ADMIN, `{"name":"t${lone}"}`),
      api('POST', '/tenants/acme/tokens', master, `{"acl":[{"filter":"a/${lone}","rights":["pub"]}]}`),
      api('POST', '/tenants/acme/tokens', master, `{"clientIds":["c${lone}"]}`),
      api('POST', '/tenants/acme/publish', master, `{"topic":"a/${lone}","payload":"x"}`),
      api('POST', '/tenants/acme/acl/test', master, `{"tokenId":"${lone}","action":"publish","topic":"a"}`),
    ]);
    expect(answers.map((answer) => answer.status)).toEqual([400, 400, 400, 400, 400]);
  });
});
