// Scenario 3, fanout-20k: many offline persistent sessions subscribed to one topic, a few QoS 1 messages from
// one publisher; every session's queue is checked over RPC, and each object's calls per message are read.
import mqtt from 'mqtt';
import { performance } from 'node:perf_hooks';
import { createTenant, createToken } from './broker.mjs';
import { log, mib, round, runId, sleep, withTimeout } from './common.mjs';
import { ObjectCounters, addressOf, printable } from './objects.mjs';
import { fanoutAddressesOf } from './fanout-names.mjs';

const TOPIC = 'fleet/cmd';
const BATCH = 200;
const SESSION_SAMPLE = 200;
const PUBACK_TIMEOUT_MS = 90_000; // sessions whose counters are read (each stands for sessions / SESSION_SAMPLE)

function connect(url, options, timeoutMs = 120_000) {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: timeoutMs, protocolVersion: 5, ...options });
    client.once('connect', () => resolve(client));
    client.once('error', (e) => {
      client.end(true);
      reject(e);
    });
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

/** One persistent session: connect (no clean start, expiry one day), subscribe QoS 1, disconnect. */
async function createSession(url, username, clientId) {
  const client = await connect(url, { username, clientId, clean: false, properties: { sessionExpiryInterval: 86_400 } });
  try {
    const granted = await withTimeout(
      new Promise((resolve, reject) => client.subscribe(TOPIC, { qos: 1 }, (e, g) => (e ? reject(e) : resolve(g)))),
      60_000,
      'SUBACK',
    );
    return granted?.[0]?.qos === 1;
  } finally {
    await withTimeout(new Promise((resolve) => client.end(false, {}, resolve)), 10_000, 'disconnect').catch(() => client.end(true));
  }
}

export async function fanoutRun(fleet, { sessions, messages }) {
  const { broker, modules } = fleet;
  const tenant = `fan-${runId}`;
  const master = await createTenant(broker, tenant);
  const { token } = await createToken(broker, tenant, master);
  const sessionName = (i) => (typeof modules.addresses.sessionName === 'function' ? modules.addresses.sessionName(tenant, `fan-${i}`) : `${tenant}\u0000fan-${i}`);

  // 1. The sessions, BATCH at a time.
  const rss0 = broker.rss();
  const s0 = performance.now();
  let subscribed = 0;
  const setupErrors = {};
  for (let first = 0; first < sessions; first += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, sessions - first) }, (_, k) => first + k);
    const outcomes = await Promise.allSettled(batch.map((i) => withTimeout(createSession(broker.url, token, `fan-${i}`), 150_000, 'session setup')));
    for (const o of outcomes) {
      if (o.status === 'fulfilled' && o.value) subscribed++;
      else {
        const why = o.status === 'rejected' ? String(o.reason?.message ?? o.reason) : 'not granted QoS 1';
        setupErrors[why] = (setupErrors[why] ?? 0) + 1;
      }
    }
    if ((first / BATCH) % 10 === 9 || first + BATCH >= sessions) {
      log(`fanout: ${subscribed.toLocaleString('en-US')} / ${(first + batch.length).toLocaleString('en-US')} sessions subscribed, ${((performance.now() - s0) / 1000).toFixed(0)} s, workerd ${mib(broker.rss())} MiB`);
    }
  }
  const setupS = (performance.now() - s0) / 1000;
  await sleep(3000); // the last disconnects reach their sessions

  // 2. Counters: the tenant's shards, its fan-out relays, the tenant, and a spread sample of the sessions.
  const shardObjects = Array.from({ length: fleet.shardCount }, (_, i) => addressOf(modules.addresses.shardStub, tenant, i) ?? { binding: 'SHARD', name: `${tenant}\u0000shard\u0000${i}` });
  const sample = Array.from({ length: Math.min(SESSION_SAMPLE, sessions) }, (_, k) => Math.floor((k * sessions) / Math.min(SESSION_SAMPLE, sessions)));
  const objects = [
    ...shardObjects,
    ...fanoutAddressesOf(fleet, tenant, TOPIC, sessions),
    { binding: 'TENANT', name: tenant },
    ...sample.map((i) => ({ binding: 'SESSION', name: sessionName(i) })),
  ];
  const publisher = await connect(broker.url, { username: token, clientId: 'fan-publisher', clean: true });
  const counters = new ObjectCounters(broker, objects);
  await counters.sample();
  counters.reset();

  // 3. The messages, QoS 1, one after the other: each PUBACK means every copy was stored.
  const publishMs = [];
  let acked = 0;
  const publishErrors = {};
  for (let m = 0; m < messages; m++) {
    const p0 = performance.now();
    try {
      await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no PUBACK within ${PUBACK_TIMEOUT_MS / 1000} s`)), PUBACK_TIMEOUT_MS);
        publisher.publish(TOPIC, `m${m}`, { qos: 1 }, (e) => {
          clearTimeout(timer);
          e ? reject(e) : resolve();
        });
      });
      acked++;
      publishMs.push(performance.now() - p0);
      log(`fanout: message ${m + 1} acknowledged after ${(performance.now() - p0).toFixed(0)} ms`);
    } catch (e) {
      const why = String(e?.message ?? e);
      publishErrors[why] = (publishErrors[why] ?? 0) + 1;
      log(`fanout: message ${m + 1} failed (${why}); no further messages`);
      break; // a broker that cannot take one will not take the next: bounded time instead
    }
  }
  await sleep(2000);
  let countersError;
  await counters.sample().catch((error) => {
    countersError = String(error?.message ?? error);
    log(`fanout: reading the counters failed: ${countersError}`);
  });
  publisher.end(true);

  // 4. Every session's queue, over RPC (describe(): queued + inflight).
  const all = Array.from({ length: sessions }, (_, i) => ({ binding: 'SESSION', name: sessionName(i) }));
  const d0 = performance.now();
  let described = [];
  let verifyError;
  try {
    described = await broker.callMany(all, 'describe', [], 250);
  } catch (error) {
    // The local workerd itself failing (e.g. SQLITE_NOMEM with thousands of objects awake): keep what was measured.
    verifyError = String(error?.message ?? error);
    log(`fanout: reading the sessions failed: ${verifyError}`);
  }
  let delivered = 0;
  let sessionsShort = 0;
  let unreadable = 0;
  for (const d of verifyError ? all.map(() => null) : described) {
    if (!d) {
      unreadable++;
      sessionsShort++;
      continue;
    }
    const held = (d.queued ?? 0) + (d.inflight ?? 0);
    delivered += Math.min(held, messages);
    if (held < messages) sessionsShort++;
  }
  log(`fanout: ${delivered} / ${sessions * messages} copies queued (read in ${((performance.now() - d0) / 1000).toFixed(0)} s)`);

  // Messages that reached the broker (acknowledged or not): what the objects' calls are divided by.
  const publishedCount = Math.min(messages, acked + Object.values(publishErrors).reduce((a, b) => a + b, 0));
  // 5. Calls per message, per object kind: callsMade where the counters have it, else requests received.
  const rows = counters.rows();
  const hasCallsMade = rows.some((r) => typeof r.counts.callsMade === 'number');
  const perMessage = {};
  const weight = sessions / sample.length;
  for (const r of rows) {
    const value = hasCallsMade ? (r.counts.callsMade ?? 0) : r.requests;
    const b = (perMessage[r.binding] ??= { objects: 0, maxPerMessage: 0, maxObject: '', totalPerMessage: 0 });
    b.objects++;
    b.totalPerMessage += (value / Math.max(1, publishedCount)) * (r.binding === 'SESSION' ? weight : 1);
    if (value / Math.max(1, publishedCount) > b.maxPerMessage) {
      b.maxPerMessage = round(value / Math.max(1, publishedCount), 2);
      b.maxObject = printable(r.name);
    }
  }
  for (const b of Object.values(perMessage)) b.totalPerMessage = round(b.totalPerMessage, 1);
  if (perMessage.SESSION) perMessage.SESSION.objects = `${sample.length} of ${sessions} (sample)`;
  const messagesOutPerMessage = Object.fromEntries(
    rows.filter((r) => r.binding !== 'SESSION' && r.counts.messagesOut).map((r) => [printable(r.name), round(r.counts.messagesOut / Math.max(1, publishedCount), 1)]),
  );

  // Without callsMade, what the shards and relays sent is what their receivers counted.
  const inferredSenderCalls = hasCallsMade
    ? undefined
    : round((perMessage.SESSION?.totalPerMessage ?? 0) + (perMessage.FANOUT?.totalPerMessage ?? 0), 1);

  return {
    tenant,
    sessions,
    inferredSenderCalls,
    subscribed,
    setupErrors,
    setupS: round(setupS, 1),
    messages,
    acked,
    publishErrors,
    published: publishedCount,
    expected: sessions * messages,
    delivered,
    sessionsShort,
    sessionsUnreadable: unreadable,
    verifyError,
    countersError,
    publishMs: { mean: round(publishMs.reduce((a, b) => a + b, 0) / Math.max(1, publishMs.length), 0), max: round(Math.max(0, ...publishMs), 0) },
    callsSource: hasCallsMade
      ? 'callsMade (outgoing RPCs each object made)'
      : 'requests each object received (callsMade absent; the shard/relays made the calls their receivers count)',
    perMessage,
    messagesOutPerMessage,
    objectRestarts: counters.restarts,
    rssMiB: { before: mib(rss0), after: mib(broker.rss()) },
  };
}
