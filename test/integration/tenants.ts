// The admin API as the integration tests use it: tenants and tokens created over HTTP on a running broker.
import { expect } from 'vitest';
import type { RunningBroker } from './broker.js';
import { connectClient, end, waitUntil } from './clients.js';

export interface ApiAnswer {
  status: number;
  headers: Headers;
  json: any;
}

/**
 * One admin API call (`path` under /api/v1) with a bearer ('' = none); a string body is sent as is (JSON
 * escapes like "\ud800" reach the Worker untouched), anything else as JSON.
 */
export async function api(broker: RunningBroker, method: string, path: string, bearer: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiAnswer> {
  // Miniflare's dispatcher, not Node's global fetch: a pooled keep-alive socket closed by the runtime made
  // Node's fetch fail now and then with ECONNRESET.
  const response = await broker.miniflare.dispatchFetch(`${broker.httpUrl}/api/v1${path}`, {
    method,
    headers: { ...(bearer ? { Authorization: `Bearer ${bearer}` } : {}), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: response.status, headers: response.headers as unknown as Headers, json };
}

/** Creates a tenant with the admin secret; answers its master token. */
export async function newTenant(broker: RunningBroker, admin: string, name: string, limits?: Record<string, number>): Promise<string> {
  const created = await api(broker, 'POST', '/tenants', admin, { name, ...(limits ? { limits } : {}) });
  expect(created.status, JSON.stringify(created.json)).toBe(201);
  return created.json.masterToken as string;
}

export async function newToken(broker: RunningBroker, tenant: string, bearer: string, input: Record<string, unknown>): Promise<{ token: string; id: string }> {
  const created = await api(broker, 'POST', `/tenants/${tenant}/tokens`, bearer, input);
  expect(created.status, JSON.stringify(created.json)).toBe(201);
  return { token: created.json.token, id: created.json.info.id };
}

/** Resolves with the CONNACK return code of a refused connection. */
export function refusedCode(url: string, options: Record<string, unknown>): Promise<number> {
  return new Promise((resolve, reject) => {
    connectClient(url, options).then(
      (client) => {
        void end(client, true);
        reject(new Error('connection was accepted'));
      },
      (error: { code?: number }) => resolve(error.code ?? -1),
    );
  });
}

interface PresenceBucket {
  page(after: string, limit: number): Promise<Array<{ clientId: string; connected: boolean }>>;
}

/** The tenant's sessions as its presence buckets list them, over RPC (PRESENCE_BUCKETS from wrangler.toml's default). */
export async function tenantSessions(broker: RunningBroker, tenant: string, buckets = 256): Promise<Array<{ clientId: string; connected: boolean }>> {
  const namespace = await broker.miniflare.getDurableObjectNamespace('PRESENCE');
  const pages = await Promise.all(
    Array.from({ length: buckets }, (_, bucket) => (namespace.get(namespace.idFromName(`${tenant}\u0000presence\u0000${bucket}`)) as unknown as PresenceBucket).page('', 10_000)),
  );
  return pages.flat();
}

/** Waits until the client's presence bucket has its report (connected): what limits and revocation count. */
export async function presenceReported(broker: RunningBroker, tenant: string, clientId: string): Promise<void> {
  await waitUntil(async () => (await tenantSessions(broker, tenant)).some((s) => s.clientId === clientId && s.connected), {
    what: `the presence of ${clientId} at tenant ${tenant}`,
  });
}
