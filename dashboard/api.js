// The admin API client and the signed-in identity (kept in sessionStorage, so it ends with the tab).

const STORAGE_KEY = 'edge-mqtt-dashboard.auth';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * Who is signed in: { token, tenant, kind: 'master' | 'admin', tokenId? }.
 * A tenant token reads `<tenant>.<id>.<secret>`; anything else is taken for the deployment admin secret.
 */
export function identify(token, tenantField) {
  const parts = token.split('.');
  const shaped = parts.length === 3 && /^[a-z0-9][a-z0-9-]{0,31}$/.test(parts[0]) && /^[a-z0-9]{12}$/.test(parts[1]);
  if (shaped && (!tenantField || tenantField === parts[0])) return { token, tenant: parts[0], kind: 'master', tokenId: parts[1] };
  if (!tenantField) return { error: 'This is not a tenant token: enter the tenant name to use it as the admin token.' };
  if (!/^[a-z0-9][a-z0-9-]{0,31}$/.test(tenantField)) return { error: 'A tenant name is 1–32 characters of a–z, 0–9 and -, starting with a letter or digit.' };
  return { token, tenant: tenantField, kind: 'admin' };
}

export function loadAuth() {
  try {
    const stored = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null');
    return stored && typeof stored.token === 'string' && typeof stored.tenant === 'string' ? stored : undefined;
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
    createToken: (input) => call('POST', '/tokens', input),
    updateToken: (id, input) => call('PATCH', `/tokens/${encodeURIComponent(id)}`, input),
    deleteToken: (id) => call('DELETE', `/tokens/${encodeURIComponent(id)}`),
    /** What a token's ACL decides: { allowed, entry, reason, clientIdAllowed }. */
    testAcl: (input) => call('POST', '/acl/test', input),
    stats: () => call('GET', '/stats'),
    listSessions: () => call('GET', '/sessions?details=1&limit=100').then((r) => r.sessions),
    kick: (clientId) => call('DELETE', `/sessions/${encodeURIComponent(clientId)}`),
    listRetained: (filter) => call('GET', `/retained?filter=${encodeURIComponent(filter)}`).then((r) => r.messages),
    deleteRetained: (topic) => call('DELETE', `/retained?topic=${encodeURIComponent(topic)}`),
  };
}
