// Scenario 1, storm: N clients of one tenant connect at once (real mqtt.js clients), with one shared token or N
// distinct ones; what every object other than the clients' own sessions received, per connect.
import mqtt from 'mqtt';
import { performance } from 'node:perf_hooks';
import { createTenant, createToken, pool } from './broker.mjs';
import { log, mib, percentile, round, runId, sleep, until } from './common.mjs';
import { ObjectCounters, addressOf, printable } from './objects.mjs';

/**
 * The objects a tenant's connects can reach, sessions excepted: the tenant, the registry, each token's object,
 * every presence bucket and every base shard. (A storm publishes nothing: no relay or combiner wakes.)
 */
export function tenantObjects(fleet, tenant, { tokenIds = [] } = {}) {
  const { addresses } = fleet.modules;
  const out = [{ binding: 'TENANT', name: tenant }];
  if (typeof addresses.REGISTRY_NAME === 'string') out.push({ binding: 'TENANT', name: addresses.REGISTRY_NAME });
  for (let i = 0; i < fleet.shardCount; i++) out.push(addressOf(addresses.shardStub, tenant, i) ?? { binding: 'SHARD', name: `${tenant}\u0000shard\u0000${i}` });
  if (fleet.broker.bindings.has('TOKEN')) {
    for (const id of tokenIds) {
      const a = addressOf(addresses.tokenStub, tenant, id);
      if (a) out.push(a);
    }
  }
  if (fleet.broker.bindings.has('PRESENCE')) {
    for (let i = 0; i < fleet.presenceBuckets; i++) {
      const a = addressOf(addresses.presenceStub, tenant, i);
      if (a) out.push(a);
    }
  }
  // Each name once (an address function may answer the same object for two inputs).
  const seen = new Set();
  return out.filter((o) => {
    const key = `${o.binding}/${o.name}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const TOKEN_SAMPLE = 200;

/** Connects one mqtt.js client; resolves { ok, ms } / { refused: code } / { failed: why }, never rejects. */
function connectOne(url, options, t0, timeoutMs) {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: timeoutMs, ...options });
    let settled = false;
    const done = (r) => {
      if (settled) return;
      settled = true;
      resolve({ ...r, client });
    };
    client.once('connect', () => done({ ok: true, ms: performance.now() - t0 }));
    client.once('error', (e) => (typeof e?.code === 'number' ? done({ refused: e.code }) : done({ failed: String(e?.message ?? e), ms: performance.now() - t0 })));
    client.once('close', () => done({ failed: 'closed before CONNACK', ms: performance.now() - t0 }));
  });
}

/**
 * A device that retries as docs/SCALING.md asks: after a refusal or a close, wait a jittered back-off (first
 * ~1 s, doubling to 16 s, each × [0.5, 1.5)) and connect again, until CONNACK or `deadlineMs` after `t0`.
 * Resolves like connectOne, with the attempts made and the refusals met on the way.
 */
async function connectWithRetry(url, options, t0, deadlineMs) {
  let backoff = 1000;
  const refusals = {};
  const failures = {};
  for (let attempt = 1; ; attempt++) {
    const left = deadlineMs - (performance.now() - t0);
    const r = await connectOne(url, options, t0, Math.max(1000, left));
    if (r.ok) return { ...r, attempts: attempt, refusals, failures };
    if (r.refused !== undefined) refusals[`0x${r.refused.toString(16)}`] = (refusals[`0x${r.refused.toString(16)}`] ?? 0) + 1;
    else failures[r.failed] = (failures[r.failed] ?? 0) + 1;
    r.client.end(true);
    const wait = backoff * (0.5 + Math.random());
    if (performance.now() - t0 + wait >= deadlineMs) return { ...r, attempts: attempt, refusals, failures };
    await sleep(wait);
    backoff = Math.min(backoff * 2, 16_000);
  }
}

function endClient(client) {
  return new Promise((resolve) => {
    if (!client || client.disconnected || !client.connected) {
      client?.end(true);
      return resolve();
    }
    const timer = setTimeout(() => {
      client.end(true);
      resolve();
    }, 10_000);
    client.end(false, {}, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export async function stormRun(fleet, { clients, distinct, timeoutMs = 180_000, tokenConcurrency = 16, retry = false }) {
  const { broker } = fleet;
  const tenant = `storm-${distinct ? 'd' : 's'}-${runId}`;
  const master = await createTenant(broker, tenant);
  const tokenCount = distinct ? clients : 1;
  const tc0 = performance.now();
  const tokens = await pool(Array.from({ length: tokenCount }, (_, i) => i), tokenConcurrency, () => createToken(broker, tenant, master));
  log(`storm ${distinct ? 'distinct' : 'shared'}: ${tokenCount} token(s) created in ${((performance.now() - tc0) / 1000).toFixed(1)} s`);

  // With a token per client every token object is alike (one client each): a spread sample of TOKEN_SAMPLE
  // stands for them. Reading all 5,000 wakes 5,000 SQLite databases at once: SQLITE_NOMEM in a local workerd.
  const step = Math.max(1, tokens.length / TOKEN_SAMPLE);
  const tokenIds = Array.from({ length: Math.min(TOKEN_SAMPLE, tokens.length) }, (_, k) => tokens[Math.floor(k * step)].id);
  const objects = tenantObjects(fleet, tenant, { tokenIds });
  // Token objects are read once, at the end, counted from their start (their creation's store call included).
  const counters = new ObjectCounters(broker, objects, { fresh: ['TOKEN'] });
  await counters.sample({ all: false });
  counters.reset();
  const rss0 = broker.rss();

  // Every client starts in the same tick; mqtt.js opens its socket on the next one.
  const t0 = performance.now();
  const attempts = [];
  for (let i = 0; i < clients; i++) {
    const token = tokens[distinct ? i : 0].token;
    const options = { username: token, clientId: `storm-${i}`, protocolVersion: 5, clean: true, keepalive: 120 };
    attempts.push(retry ? connectWithRetry(broker.url, options, t0, timeoutMs) : connectOne(broker.url, options, t0, timeoutMs));
  }
  const results = await Promise.race([
    Promise.all(attempts),
    sleep(timeoutMs + 10_000).then(() => null),
  ]);
  const wallS = (performance.now() - t0) / 1000;
  const settledResults = results ?? [];
  const connected = settledResults.filter((r) => r.ok);
  const refused = {};
  const failed = {};
  const add = (into, key, n = 1) => (into[key] = (into[key] ?? 0) + n);
  for (const r of settledResults) {
    if (retry) {
      // Every attempt's outcome, the ones retried included.
      for (const [code, n] of Object.entries(r.refusals)) add(refused, code, n);
      for (const [why, n] of Object.entries(r.failures)) add(failed, why, n);
      continue;
    }
    if (r.refused !== undefined) add(refused, `0x${r.refused.toString(16)}`);
    if (r.failed !== undefined) add(failed, r.failed);
  }
  const retries = retry ? settledResults.reduce((sum, r) => sum + r.attempts - 1, 0) : 0;
  const times = connected.map((r) => r.ms);
  const failedTimes = settledResults.filter((r) => r.failed !== undefined).map((r) => r.ms);
  log(`storm ${distinct ? 'distinct' : 'shared'}: ${connected.length}/${clients} CONNACK in ${wallS.toFixed(1)} s`);
  const rssConnected = broker.rss();

  // Sessions report their presence after CONNACK: let those reports land before reading.
  await sleep(3000);
  await counters.sample({ all: false });
  const connectPhase = summarize(counters, clients);

  await Promise.all(settledResults.map((r) => endClient(r.client)));
  await sleep(5000);
  await counters.sample();
  const wholeLife = summarize(counters, clients);

  return {
    tenant,
    clients,
    tokens: tokenCount,
    connected: connected.length,
    refused,
    failed,
    timedOut: results ? 0 : clients - settledResults.length,
    retry,
    retries,
    connackMs: { p50: round(percentile(times, 50), 0), p99: round(percentile(times, 99), 0), max: round(percentile(times, 100), 0) },
    failedMs: failedTimes.length ? { p50: round(percentile(failedTimes, 50), 0), max: round(percentile(failedTimes, 100), 0) } : null,
    wallS: round(wallS, 1),
    rssMiB: { before: mib(rss0), connected: mib(rssConnected) },
    objectsRead: objects.length,
    tokenObjectsRead: tokenIds.length,
    unreadableBindings: [...counters.unreadable],
    objectRestarts: counters.restarts,
    connectPhase,
    connectAndDisconnect: wholeLife,
  };
}

/** The object with the most requests per connect, and each binding's worst, from what was read so far. */
function summarize(counters, clients) {
  const rows = counters.rows();
  const top = rows[0];
  const byBinding = Object.fromEntries(
    Object.entries(counters.byBinding()).map(([b, v]) => [
      b,
      { objects: v.objects, requests: round(v.requests, 1), maxPerConnect: round(v.max / clients, 4), maxObject: printable(v.maxName) },
    ]),
  );
  return {
    maxPerConnect: top ? round(top.requests / clients, 4) : 0,
    maxObject: top ? `${top.binding} ${printable(top.name)}` : '',
    maxRequests: top ? round(top.requests, 1) : 0,
    byBinding,
  };
}
