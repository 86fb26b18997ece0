// Admin-only routes: who gets 401 and who 403, reserved tenant names, limits of a tenant that must exist.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, startWorkerApi, type WorkerApi } from './worker-api.js';

let api: WorkerApi;
let master: string;
let plain: string;
beforeAll(async () => {
  api = await startWorkerApi();
  master = await api.newTenant('acme');
  plain = (await api.newToken('acme', master, { acl: [{ filter: '#', rights: ['pub'] }] })).token;
});
afterAll(() => api?.stop());

describe('admin-only routes', () => {
  const routes: Array<[string, string, unknown?]> = [
    ['GET', '/tenants'],
    ['POST', '/tenants', { name: 'other' }],
    ['PUT', '/tenants/acme/limits', { maxTokens: 5 }],
    ['GET', '/stats'],
  ];

  it.each(routes)('[DESIGN §5] %s %s: a valid tenant token (master or not) gets 403', async (method, path, body) => {
    for (const bearer of [master, plain]) {
      const answer = await api.call(method, path, bearer, body);
      expect(answer.status).toBe(403);
      expect(answer.json).toEqual({ error: 'only the deployment admin (ADMIN_TOKEN) may use this route, not a tenant token' });
    }
  });

  it.each(routes)('[DESIGN §5] %s %s: no bearer, a wrong one or a forged token gets 401', async (method, path, body) => {
    const forged = `${master.split('.').slice(0, 2).join('.')}.${'A'.repeat(43)}`;
    for (const bearer of ['', 'not-the-admin-secret', forged, 'ghost.abcdefghijkl.' + 'B'.repeat(43)]) {
      const answer = await api.call(method, path, bearer, body);
      expect(answer.status).toBe(401);
      expect(answer.json).toEqual({ error: 'missing or invalid bearer token' });
    }
  });

  it('a deleted token gets 401, not 403', async () => {
    const gone = await api.newToken('acme', master, { acl: [] });
    expect((await api.call('DELETE', `/tenants/acme/tokens/${gone.id}`, master)).status).toBe(204);
    expect((await api.call('GET', '/tenants', gone.token)).status).toBe(401);
  });

  it('[DESIGN §5] GET /tenants with a master token: 403 with a JSON error; garbage: 401', async () => {
    expect(await api.call('GET', '/tenants', master)).toMatchObject({
      status: 403,
      json: { error: 'only the deployment admin (ADMIN_TOKEN) may use this route, not a tenant token' },
    });
    expect(await api.call('GET', '/tenants', 'garbage')).toMatchObject({ status: 401, json: { error: 'missing or invalid bearer token' } });
  });

  it('the admin passes', async () => {
    expect((await api.call('GET', '/tenants', ADMIN)).status).toBe(200);
    expect((await api.call('GET', '/stats', ADMIN)).status).toBe(200);
  });
});

describe('tenant names', () => {
  it('[DESIGN §5] "default", the anonymous clients\' tenant, cannot be created', async () => {
    const answer = await api.call('POST', '/tenants', ADMIN, { name: 'default' });
    expect(answer).toMatchObject({ status: 400, json: { error: 'tenant name "default" is reserved (the tenant of anonymous clients)' } });
    expect((await api.call('GET', '/tenants', ADMIN)).json.tenants.map((t: { name: string }) => t.name)).not.toContain('default');
  });

  it('"_registry", the object listing the tenants, is not a tenant name', async () => {
    const answer = await api.call('POST', '/tenants', ADMIN, { name: '_registry' });
    expect(answer.status).toBe(400);
    expect(answer.json.error).toMatch(/^body\.name must match/);
    expect((await api.call('PUT', '/tenants/_registry/limits', ADMIN, { maxTokens: 1 })).status).toBe(400);
  });
});

describe('PUT /tenants/{tenant}/limits', () => {
  it('a tenant that does not exist: 404 with a JSON error, and nothing is created', async () => {
    const answer = await api.call('PUT', '/tenants/ghost/limits', ADMIN, { maxTokens: 3 });
    expect(answer).toMatchObject({ status: 404, json: { error: 'no tenant "ghost"' } });
    expect((await api.call('GET', '/tenants', ADMIN)).json.tenants.map((t: { name: string }) => t.name)).not.toContain('ghost');
    expect((await api.call('PUT', '/tenants/ghost/limits', ADMIN, { maxTokens: 3 })).status).toBe(404);
  });

  it('an existing tenant: 200, and the limit holds', async () => {
    await api.newTenant('limited');
    expect(await api.call('PUT', '/tenants/limited/limits', ADMIN, { maxTokens: 1 })).toMatchObject({ status: 200, json: { maxTokens: 1 } });
    expect((await api.call('POST', '/tenants/limited/tokens', ADMIN, { acl: [] })).status).toBe(403);
  });

  it('bad limits are still 400 (before the tenant is looked up)', async () => {
    expect((await api.call('PUT', '/tenants/ghost/limits', ADMIN, { maxTokens: 0 })).status).toBe(400);
  });
});

describe('tenant routes for a tenant that does not exist', () => {
  const routes: Array<[string, string, unknown?]> = [
    ['POST', '/tenants/nope/tokens', { name: 'x', acl: [{ filter: '#', rights: ['pub', 'sub'] }] }],
    ['GET', '/tenants/nope/tokens'],
    ['GET', '/tenants/nope/sessions'],
    ['GET', '/tenants/nope/stats'],
    ['GET', '/tenants/nope/retained'],
    ['POST', '/tenants/nope/publish', { topic: 'a', payload: 'x' }],
  ];

  it.each(routes)('[DESIGN §5] the admin: %s %s answers 404 with a JSON error, and creates nothing', async (method, path, body) => {
    const answer = await api.call(method, path, ADMIN, body);
    expect(answer).toMatchObject({ status: 404, json: { error: 'no tenant "nope"' } });
    expect((await api.call('GET', '/tenants', ADMIN)).json.tenants.map((t: { name: string }) => t.name)).not.toContain('nope');
  });

  it('no token is created for it, so none connects', async () => {
    expect((await api.call('POST', '/tenants/nope/tokens', ADMIN, { acl: [{ filter: '#', rights: ['pub', 'sub'] }] })).status).toBe(404);
    expect((await api.call('GET', '/tenants/nope/tokens', ADMIN)).status).toBe(404);
  });

  it('once the tenant is created, the same routes answer as before', async () => {
    const created = await api.newTenant('later');
    expect(created).toMatch(/^later\./);
    expect((await api.call('POST', '/tenants/later/tokens', ADMIN, { acl: [] })).status).toBe(201);
    expect((await api.call('GET', '/tenants/later/tokens', ADMIN)).json.tokens).toHaveLength(2);
    expect((await api.call('GET', '/tenants/later/sessions', ADMIN)).status).toBe(200);
    expect((await api.call('GET', '/tenants/later/stats', ADMIN)).status).toBe(200);
  });
});
