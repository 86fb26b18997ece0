// The admin API of a real Worker in workerd (Miniflare): start it, call it, make tenants and tokens.
import { expect } from 'vitest';
import { startBroker, type BrokerOptions, type RunningBroker } from '../../integration/broker.js';

export const ADMIN = 'worker-api-admin-secret';

export interface ApiAnswer {
  status: number;
  headers: Headers;
  json: any;
}

export interface WorkerApi {
  broker: RunningBroker;
  /** Calls /api/v1 with a bearer ('' = none); a string body is sent as is, anything else as JSON. */
  call(method: string, path: string, bearer: string, body?: unknown, headers?: Record<string, string>): Promise<ApiAnswer>;
  newTenant(name: string): Promise<string>;
  newToken(tenant: string, bearer: string, input: Record<string, unknown>): Promise<{ token: string; id: string }>;
  stop(): Promise<void>;
}

export async function startWorkerApi(vars: BrokerOptions['vars'] = {}): Promise<WorkerApi> {
  const broker = await startBroker({ vars: { ADMIN_TOKEN: ADMIN, ALLOW_ANONYMOUS: 'false', ...vars } });
  const call: WorkerApi['call'] = async (method, path, bearer, body, headers = {}) => {
    // Miniflare's dispatcher, not Node's fetch: a pooled keep-alive socket closed by the runtime made Node's
    // fetch fail now and then with ECONNRESET.
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
  };
  return {
    broker,
    call,
    async newTenant(name) {
      const created = await call('POST', '/tenants', ADMIN, { name });
      expect(created.status, JSON.stringify(created.json)).toBe(201);
      return created.json.masterToken as string;
    },
    async newToken(tenant, bearer, input) {
      const created = await call('POST', `/tenants/${tenant}/tokens`, bearer, input);
      expect(created.status, JSON.stringify(created.json)).toBe(201);
      return { token: created.json.token, id: created.json.info.id };
    },
    stop: () => broker.stop(),
  };
}
