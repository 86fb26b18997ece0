// The broker under a fleet scenario: the real Worker and objects in workerd (test/integration/broker.ts, bundled
// for Node), its workerd processes (RSS), the admin API, and Durable Object stubs addressed by (binding, name).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ADMIN_TOKEN = 'fleet-admin';

// ── /proc: the same readers as `npm run bench` (bench/targets.mjs) ──────────────────────────────────
export { descendants, rssBytes } from '../targets.mjs';
import { descendants, loadStartBroker, rssBytes } from '../targets.mjs';

// ── starting ──────────────────────────────────────────────────────────────────────────────────────────

/** A [vars] value of the tree's wrangler.toml, or undefined. */
export function wranglerVar(root, name) {
  const m = new RegExp(`^\\s*${name}\\s*=\\s*"?([^"\\n]*)"?`, 'm').exec(readFileSync(join(root, 'wrangler.toml'), 'utf8'));
  return m ? m[1] : undefined;
}

/** The Durable Object bindings the tree's wrangler.toml declares. */
export function declaredBindings(root) {
  const text = readFileSync(join(root, 'wrangler.toml'), 'utf8');
  return [...text.matchAll(/\[\[durable_objects\.bindings\]\]\s*\n\s*name\s*=\s*"([A-Z_]+)"/g)].map((m) => m[1]);
}

/**
 * Starts the broker of the tree at `root`. `persistDir` keeps object storage across restarts. Answers the
 * handle every scenario uses; stop() disposes Miniflare (and with it workerd).
 */
export async function startFleetBroker(root, { persistDir, vars = {} } = {}) {
  const startBroker = await loadStartBroker(root);
  const before = new Set(descendants(process.pid).map((p) => p.pid));
  const broker = await startBroker({ persistDir, vars: { ADMIN_TOKEN, ...vars } });
  const pids = descendants(process.pid)
    .filter((p) => !before.has(p.pid) && p.comm.includes('workerd'))
    .map((p) => p.pid);
  const bindings = new Set(declaredBindings(root));
  const namespaces = new Map();
  const stubs = new Map();

  async function namespace(binding) {
    if (!bindings.has(binding)) return null;
    if (!namespaces.has(binding)) {
      namespaces.set(binding, await broker.miniflare.getDurableObjectNamespace(binding).catch(() => null));
    }
    return namespaces.get(binding);
  }

  /** A stub, created once per (binding, name); null when the binding does not exist in this tree. */
  async function stub(binding, name) {
    const key = `${binding}/${name}`;
    if (stubs.has(key)) return stubs.get(key);
    const ns = await namespace(binding);
    const s = ns ? (typeof ns.getByName === 'function' ? ns.getByName(name) : ns.get(ns.idFromName(name))) : null;
    stubs.set(key, s);
    return s;
  }

  /**
   * Calls `method` on many objects, `concurrency` at a time; answers one plain value (copied out of workerd in
   * one structuredClone per batch: a proxy's every field read would be a synchronous round trip) or null each.
   */
  async function callMany(objects, method, args = [], concurrency = 200) {
    const client = await broker.miniflare._getProxyClient();
    const out = [];
    for (let i = 0; i < objects.length; i += concurrency) {
      const batch = [];
      for (const o of objects.slice(i, i + concurrency)) batch.push(await stub(o.binding, o.name));
      const answers = await Promise.all(
        batch.map((s) => (s && typeof s[method] === 'function' ? s[method](...args).catch(() => null) : null)),
      );
      out.push(...client.global.structuredClone(answers));
    }
    return out;
  }

  /** The admin API (`path` under /api/v1), through Miniflare's dispatcher. */
  async function api(method, path, bearer, body) {
    const response = await broker.miniflare.dispatchFetch(`${broker.httpUrl}/api/v1${path}`, {
      method,
      headers: { Authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = text;
    }
    return { status: response.status, json };
  }

  return {
    root,
    url: broker.mqttUrl,
    httpUrl: broker.httpUrl,
    miniflare: broker.miniflare,
    bindings,
    pids: () => pids,
    rss: () => rssBytes(pids),
    namespace,
    stub,
    callMany,
    api,
    /** Disposes Miniflare; a workerd that does not exit within 20 s (a wedged runtime) is killed: it is ours. */
    stop: async () => {
      let timer;
      const timedOut = await Promise.race([
        broker.stop().then(() => false, () => false),
        new Promise((resolve) => {
          timer = setTimeout(() => resolve(true), 20_000);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        console.error(`fleet: Miniflare did not stop within 20 s; killing workerd ${pids.join(', ')}`);
        for (const pid of pids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
    },
  };
}

/** Creates a tenant (admin) and answers its master token. */
export async function createTenant(broker, name, limits) {
  const r = await broker.api('POST', '/tenants', ADMIN_TOKEN, { name, ...(limits ? { limits } : {}) });
  if (r.status !== 201) throw new Error(`creating tenant ${name}: HTTP ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.masterToken;
}

/** Creates a token that may publish and subscribe anywhere; answers { token, id }. */
export async function createToken(broker, tenant, master, input = {}) {
  const r = await broker.api('POST', `/tenants/${tenant}/tokens`, master, {
    acl: [{ filter: '#', rights: ['pub', 'sub'] }],
    ...input,
  });
  if (r.status !== 201) throw new Error(`creating a token in ${tenant}: HTTP ${r.status} ${JSON.stringify(r.json)}`);
  return { token: r.json.token, id: r.json.info.id };
}

/** Runs `fn` over `items`, `concurrency` at a time, in order of start. */
export async function pool(items, concurrency, fn) {
  const out = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}
