// The admin API of a real Worker in workerd (Miniflare): start it, call it, make tenants and tokens.
import { startBroker, type BrokerOptions, type RunningBroker } from '../../integration/broker.js';
import { api, newTenant, newToken, type ApiAnswer } from '../../integration/tenants.js';

export const ADMIN = 'worker-api-admin-secret';

export type { ApiAnswer };

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
  const call: WorkerApi['call'] = (method, path, bearer, body, headers = {}) => api(broker, method, path, bearer, body, headers);
  return {
    broker,
    call,
    newTenant: (name) => newTenant(broker, ADMIN, name),
    newToken: (tenant, bearer, input) => newToken(broker, tenant, bearer, input),
    stop: () => broker.stop(),
  };
}
