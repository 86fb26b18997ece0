// Scenario 4, hot-topic: many publishers (real mqtt.js clients) on one topic, the offered rate doubling step by
// step up to a cap, QoS 0 then QoS 1, a few subscribers that count loss and per-publisher order; the objects'
// shedding counters and workerd's memory over time.
import mqtt from 'mqtt';
import { performance } from 'node:perf_hooks';
import { ADMIN_TOKEN, createTenant, createToken } from './broker.mjs';
import { log, mib, round, rssSampler, runId, sleep, withTimeout } from './common.mjs';
import { addressOf } from './objects.mjs';
import { combinerAddressesOf, fanoutAddressesOf } from './fanout-names.mjs';

const STEPS = 6;
const TICK_MS = 50;
const QOS1_WINDOW = 10; // unacknowledged publishes per publisher before it skips its turn
const QOS0_BUFFER = 64 * 1024; // bytes waiting in a publisher's socket before it skips its turn
const CONNECT_BATCH = 200;

function connect(url, options) {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 120_000, protocolVersion: 4, clean: true, keepalive: 120, ...options });
    client.once('connect', () => resolve(client));
    client.once('error', (e) => {
      client.end(true);
      reject(e);
    });
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

/** A subscriber that counts what it receives, per publisher in order, and per ramp step. */
async function subscriber(url, username, clientId, topic, qos, clock) {
  const client = await connect(url, { username, clientId });
  const state = { client, received: 0, violations: 0, outOfOrder: new Set(), last: new Map(), perStep: [] };
  client.on('message', (_t, payload) => {
    if (payload.length < 8) return;
    const pub = payload.readUInt32BE(0);
    const seq = payload.readUInt32BE(4);
    state.received++;
    state.lastAt = performance.now();
    state.perStep[clock.step] = (state.perStep[clock.step] ?? 0) + 1;
    const last = state.last.get(pub);
    if (last !== undefined && seq <= last) {
      state.violations++;
      state.outOfOrder.add(pub);
    }
    state.last.set(pub, seq);
  });
  await withTimeout(new Promise((resolve, reject) => client.subscribe(topic, { qos }, (e) => (e ? reject(e) : resolve()))), 60_000, 'SUBACK');
  return state;
}

/** Numeric fields whose names say something was shed, flattened with their path. */
function sheddingFields(value, path = '', out = {}) {
  if (value === null || value === undefined) return out;
  if (typeof value === 'number') {
    if (/drop|refus|shed|reject|overflow|evict|limit|lost|discard|throttl/i.test(path)) out[path] = value;
    return out;
  }
  if (typeof value === 'object') for (const [k, v] of Object.entries(value)) sheddingFields(v, path ? `${path}.${k}` : k, out);
  return out;
}

/** Every shedding counter the objects and the Worker expose: the topic's shard, the tenant, the subscribers' sessions, /stats. */
async function readShedding(fleet, tenant, master, topic, subscriberIds) {
  const { broker, modules } = fleet;
  const shard = typeof modules.routing.shardOf === 'function' ? modules.routing.shardOf(topic, fleet.shardCount) : 0;
  const shardAddress = addressOf(modules.addresses.shardStub, tenant, shard) ?? { binding: 'SHARD', name: `${tenant}\u0000shard\u0000${shard}` };
  const sessionName = (id) => (typeof modules.addresses.sessionName === 'function' ? modules.addresses.sessionName(tenant, id) : `${tenant}\u0000${id}`);
  const [shardStats, tenantStats] = await broker.callMany([shardAddress, { binding: 'TENANT', name: tenant }], 'statistics');
  const described = await broker.callMany(subscriberIds.map((id) => ({ binding: 'SESSION', name: sessionName(id) })), 'describe');
  const relays = [...fanoutAddressesOf(fleet, tenant, topic, subscriberIds.length), ...combinerAddressesOf(fleet, tenant, topic)];
  const relayStats = relays.length ? await broker.callMany(relays, 'statistics') : [];
  const stats = await broker.api('GET', '/stats', ADMIN_TOKEN).catch(() => undefined);
  const tenantApi = await broker.api('GET', `/tenants/${tenant}/stats`, master).catch(() => undefined);
  return {
    ...sheddingFields(shardStats, 'shard'),
    ...sheddingFields(tenantStats, 'tenant'),
    ...sumByKind(relays, relayStats),
    ...sheddingFields(described.map((d) => d?.counters), 'subscriberSessions'),
    ...sheddingFields(stats?.json, 'workerStats'),
    ...sheddingFields(tenantApi?.json, 'tenantStats'),
  };
}

/** Relays' and combiners' shedding counters, summed per kind (FANOUT.droppedQos0, COMBINER.droppedQos0, …). */
function sumByKind(objects, stats) {
  const out = {};
  stats.forEach((s, i) => {
    for (const [k, v] of Object.entries(sheddingFields(s, objects[i].binding))) out[k] = (out[k] ?? 0) + v;
  });
  return out;
}

function delta(after, before) {
  const out = {};
  for (const [k, v] of Object.entries(after)) out[k] = v - (before[k] ?? 0);
  return out;
}

/** Least-squares slope of RSS over time, MiB per minute. */
function slope(samples) {
  const n = samples.length;
  if (n < 2) return 0;
  const mx = samples.reduce((a, s) => a + s.t, 0) / n;
  const my = samples.reduce((a, s) => a + s.rssMiB, 0) / n;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.t - mx) * (s.rssMiB - my);
    den += (s.t - mx) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 60;
}

async function oneRun(fleet, { tenant, master, token, publishers, subscriberCount, qos, seconds, maxRate }) {
  const { broker } = fleet;
  const topic = `hot/q${qos}`;
  const clock = { step: 0 };
  const subscriberIds = Array.from({ length: subscriberCount }, (_, k) => `hot-sub-${qos}-${k}`);
  const subs = await Promise.all(subscriberIds.map((id) => subscriber(broker.url, token, id, topic, qos, clock)));
  const shedding0 = await readShedding(fleet, tenant, master, topic, subscriberIds);

  const rates = Array.from({ length: STEPS }, (_, k) => Math.max(1, Math.round(maxRate / 2 ** (STEPS - 1 - k))));
  const stepMs = (seconds * 1000) / STEPS;
  const seqs = new Uint32Array(publishers.length);
  const outstanding = new Uint32Array(publishers.length);
  let sent = 0;
  let acked = 0;
  let skipped = 0;
  const steps = rates.map((offered) => ({ offered, sent: 0, skipped: 0, received: 0 }));
  let cursor = 0;
  const sampler = rssSampler(broker);
  const t0 = performance.now();
  let stoppedEarly = false;
  for (let s = 0; s < STEPS; s++) {
    clock.step = s;
    const stepStart = performance.now();
    let due = 0;
    while (performance.now() - stepStart < stepMs) {
      due += (rates[s] * TICK_MS) / 1000;
      while (due >= 1) {
        due--;
        const p = cursor;
        cursor = (cursor + 1) % publishers.length;
        const client = publishers[p];
        if ((qos === 1 && outstanding[p] >= QOS1_WINDOW) || (qos === 0 && (client.stream?.writableLength ?? 0) > QOS0_BUFFER) || !client.connected) {
          skipped++;
          steps[s].skipped++;
          continue;
        }
        const payload = Buffer.allocUnsafe(16);
        payload.writeUInt32BE(p, 0);
        payload.writeUInt32BE(seqs[p]++, 4);
        payload.writeDoubleBE(performance.now(), 8);
        sent++;
        steps[s].sent++;
        if (qos === 1) {
          outstanding[p]++;
          client.publish(topic, payload, { qos: 1 }, (e) => {
            outstanding[p]--;
            if (!e) acked++;
          });
        } else client.publish(topic, payload, { qos: 0 });
      }
      await sleep(TICK_MS);
    }
    const received = Math.min(...subs.map((x) => x.perStep[s] ?? 0));
    steps[s].received = received;
    log(`hot-topic QoS ${qos}: step ${s + 1}/${STEPS} offered ${rates[s]}/s, sent ${steps[s].sent}, skipped ${steps[s].skipped}, received ≥ ${received} per subscriber, workerd ${mib(broker.rss())} MiB`);
    // Far behind (half of what was sent this step not received, and a backlog of ten seconds): higher is pointless.
    const backlog = sent - Math.min(...subs.map((x) => x.received));
    if (received < steps[s].sent / 2 && backlog > rates[s] * 10) {
      stoppedEarly = true;
      log(`hot-topic QoS ${qos}: backlog of ${backlog}, stopping the ramp`);
      break;
    }
  }
  const publishS = (performance.now() - t0) / 1000;
  // Drain: until every subscriber has everything (QoS 0: until nothing arrives for 3 s), at most 30 s.
  const d0 = performance.now();
  let lastSeen = -1;
  let lastChange = performance.now();
  while (performance.now() - d0 < 30_000) {
    const now = Math.min(...subs.map((x) => x.received));
    if (now >= sent && (qos === 0 || acked >= sent)) break;
    if (now !== lastSeen) {
      lastSeen = now;
      lastChange = performance.now();
    } else if (performance.now() - lastChange > 5000) break;
    await sleep(100);
  }
  const samples = sampler.stop();
  const shedding1 = await readShedding(fleet, tenant, master, topic, subscriberIds);
  const receivedMin = Math.min(...subs.map((x) => x.received));
  await Promise.all(subs.map((x) => withTimeout(new Promise((r) => x.client.end(false, {}, r)), 10_000, 'disconnect').catch(() => x.client.end(true))));
  const sustainedSteps = steps.filter((st) => st.sent > 0 && st.received >= 0.95 * st.sent && st.skipped <= 0.05 * (st.sent + st.skipped));
  return {
    qos,
    topic,
    publishers: publishers.length,
    subscribers: subscriberCount,
    seconds: round(publishS, 1),
    stoppedEarly,
    steps: steps.map((st) => ({ ...st, offered: st.offered })),
    sent,
    skipped,
    acked: qos === 1 ? acked : null,
    receivedPerSubscriber: subs.map((x) => x.received),
    receivedMin,
    lost: sent - receivedMin,
    lossPct: round(((sent - receivedMin) / Math.max(1, sent)) * 100, 3),
    orderViolations: subs.reduce((a, x) => a + x.violations, 0),
    publishersOutOfOrder: Math.max(0, ...subs.map((x) => x.outOfOrder.size)),
    // Received per subscriber in the best step, and over the time from the first publish to the last message.
    peakThroughput: Math.round(Math.max(...steps.map((st) => st.received)) / (stepMs / 1000)),
    throughput: Math.round(receivedMin / (Math.max(...subs.map((x) => (x.lastAt ?? t0) - t0)) / 1000 || publishS)),
    sustained: sustainedSteps.length ? Math.max(...sustainedSteps.map((st) => st.offered)) : 0,
    shedding: delta(shedding1, shedding0),
    rss: {
      start: samples[0]?.rssMiB,
      max: Math.max(...samples.map((x) => x.rssMiB)),
      end: samples.at(-1)?.rssMiB,
      slopePerMin: round(slope(samples), 1),
      samples,
    },
  };
}

export async function hotTopicRun(fleet, { publishers: count, subscribers, seconds, maxRate }) {
  const { broker } = fleet;
  const tenant = `hot-${runId}`;
  const master = await createTenant(broker, tenant);
  const { token } = await createToken(broker, tenant, master);
  const publishers = [];
  const c0 = performance.now();
  for (let first = 0; first < count; first += CONNECT_BATCH) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(CONNECT_BATCH, count - first) }, (_, k) => connect(broker.url, { username: token, clientId: `hot-pub-${first + k}` })),
    );
    publishers.push(...batch);
  }
  log(`hot-topic: ${publishers.length} publishers connected in ${((performance.now() - c0) / 1000).toFixed(1)} s`);
  const runs = [];
  try {
    for (const qos of [0, 1]) {
      runs.push(await oneRun(fleet, { tenant, master, token, publishers, subscriberCount: subscribers, qos, seconds, maxRate }));
      await sleep(2000);
    }
  } finally {
    await Promise.all(publishers.map((c) => withTimeout(new Promise((r) => c.end(true, {}, r)), 10_000, 'disconnect').catch(() => {})));
  }
  return { tenant, runs };
}
