// The admin API client and the signed-in identity (kept in sessionStorage, so it ends with the tab).

const STORAGE_KEY = 'edge-mqtt-dashboard.auth';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * Who is signed in: { token, tenant, kind: 'master' | 'admin', tokenId? }; the admin's tenant is null until
 * one is chosen. A tenant token reads `<tenant>.<id>.<secret>`; anything else is taken for the deployment
 * admin secret (the sign-in checks it with the API).
 */
export function identify(token, tenantField) {
  const parts = token.split('.');
  const shaped = parts.length === 3 && /^[a-z0-9][a-z0-9-]{0,31}$/.test(parts[0]) && /^[a-z0-9]{12}$/.test(parts[1]);
  if (shaped && (!tenantField || tenantField === parts[0])) return { token, tenant: parts[0], kind: 'master', tokenId: parts[1] };
  if (!tenantField) return { token, tenant: null, kind: 'admin' };
  if (!/^[a-z0-9][a-z0-9-]{0,31}$/.test(tenantField)) return { error: 'A tenant name is 1–32 characters of a–z, 0–9 and -, starting with a letter or digit.' };
  return { token, tenant: tenantField, kind: 'admin' };
}

export function loadAuth() {
  try {
    const stored = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null');
    const tenantOk = typeof stored?.tenant === 'string' || (stored?.kind === 'admin' && stored.tenant === null);
    return stored && typeof stored.token === 'string' && tenantOk ? stored : undefined;
  } catch {
    return undefined;
  }
}

export function saveAuth(auth) {
  if (auth) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(auth));
  else sessionStorage.removeItem(STORAGE_KEY);
}

/** Calls /api/v1 with the bearer token; JSON in and out; a 4xx/5xx becomes an ApiError with the server's words. */
export async function request(auth, method, path, body) {
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      headers: { Authorization: `Bearer ${auth.token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (error) {
    throw new ApiError(0, `cannot reach the broker (${error.message})`);
  }
  const text = await response.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!response.ok) throw new ApiError(response.status, json?.error ?? `HTTP ${response.status}`);
  return json;
}

/** The tenant's API, bound to one identity. */
export function tenantApi(auth) {
  const base = `/tenants/${encodeURIComponent(auth.tenant)}`;
  const call = (method, path, body) => request(auth, method, `${base}${path}`, body);
  return {
    listTokens: () => call('GET', '/tokens').then((r) => r.tokens),
    /** When each token (at most 100 ids) last authenticated a CONNECT or an API call: { id: ms | null }. */
    lastUsed: (ids) => call('GET', `/tokens/last-used?ids=${ids.map(encodeURIComponent).join(',')}`).then((r) => r.lastUsed),
    /** A new secret: { token, info }, the token string shown once. */
    rotateToken: (id) => call('POST', `/tokens/${encodeURIComponent(id)}/rotate`),
    createToken: (input) => call('POST', '/tokens', input),
    updateToken: (id, input) => call('PATCH', `/tokens/${encodeURIComponent(id)}`, input),
    deleteToken: (id) => call('DELETE', `/tokens/${encodeURIComponent(id)}`),
    /** What a token's ACL decides: { allowed, entry, reason, clientIdAllowed }. */
    testAcl: (input) => call('POST', '/acl/test', input),
    stats: () => call('GET', '/stats'),
    /** One page of sessions with details: { sessions, next }; `q` keeps client ids containing it. */
    listSessions: ({ q = '', after = '', limit = 25 } = {}) =>
      call('GET', `/sessions?details=1&limit=${limit}${q ? `&q=${encodeURIComponent(q)}` : ''}${after ? `&after=${encodeURIComponent(after)}` : ''}`),
    kick: (clientId) => call('DELETE', `/sessions/${encodeURIComponent(clientId)}`),
    /** Ends an offline session (subscriptions, queue, will); 409 while it is connected. */
    deleteSession: (clientId) => call('DELETE', `/sessions/${encodeURIComponent(clientId)}/state`),
    listRetained: (filter) => call('GET', `/retained?filter=${encodeURIComponent(filter)}`).then((r) => r.messages),
    deleteRetained: (topic) => call('DELETE', `/retained?topic=${encodeURIComponent(topic)}`),
    /** One page of the event log, newest first: { events, next }; `query` holds limit, before, clientId, tokenId, kind. */
    events: (query) => call('GET', `/events?${new URLSearchParams(query)}`),
    /** Per-minute counts of the last `minutes` (oldest first) and each token's usage over them: { minutes, tokens }. */
    statsHistory: (minutes) => call('GET', `/stats/history?minutes=${minutes}`),
    /** Bridges to other brokers, each with its status and counters (never the password: passwordSet). */
    listBridges: () => call('GET', '/bridges').then((r) => r.bridges),
    createBridge: (input) => call('POST', '/bridges', input),
    /** Replaces the configuration; a missing password keeps the stored one. */
    updateBridge: (name, input) => call('PUT', `/bridges/${encodeURIComponent(name)}`, input),
    deleteBridge: (name) => call('DELETE', `/bridges/${encodeURIComponent(name)}`),
  };
}

/** The deployment admin's routes (ADMIN_TOKEN only). */
export function adminApi(auth) {
  return {
    /** [{ name, createdAt, jurisdiction (null = global), limits, tokens }] */
    listTenants: () => request(auth, 'GET', '/tenants').then((r) => r.tenants),
    /** { name, createdAt, jurisdiction, limits, tokens }; 404 for a tenant that does not exist. */
    getTenant: (name) => request(auth, 'GET', `/tenants/${encodeURIComponent(name)}`),
    /** { tenant, jurisdiction, masterToken }: the master token is shown once; jurisdiction '' or absent = global. */
    createTenant: (name, limits, jurisdiction) => request(auth, 'POST', '/tenants', { name, limits, ...(jurisdiction ? { jurisdiction } : {}) }),
    updateLimits: (name, limits) => request(auth, 'PUT', `/tenants/${encodeURIComponent(name)}/limits`, limits),
  };
}
