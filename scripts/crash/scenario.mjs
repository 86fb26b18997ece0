// One crash scenario (protocol version × QoS):
//
//   subscriber S (persistent) ── SUBSCRIBE t at QoS q ── DISCONNECT          S is offline from here on
//   publisher  P (persistent) ── PUBLISH t/retained (retained, acked)
//   P ── PUBLISH t "0" … "N-1" at QoS q, a window in flight ──▶ broker ── SIGKILL, restart ── × K
//                                                                (at random acked counts, spread over the run)
//   S ── CONNECT clean=0 ──▶ session present? then every acked seq once or more (QoS 2: exactly once)
//   fresh client ── SUBSCRIBE t/retained ──▶ the retained message, RETAIN=1
//
// P keeps its session too, so mqtt.js resends what was unacknowledged at each kill (PUBLISH with DUP, or PUBREL):
// "acked" is then well defined as "the publish callback succeeded" (PUBACK, or PUBCOMP for QoS 2).
import { performance } from 'node:perf_hooks';
import { connect, end, persistent, sleep, subscribe, untilQuiet } from './clients.mjs';
import { publishAll, traceWire } from './publisher.mjs';

const QUIET_MS = 2_000;
const DRAIN_BOUND_MS = 60_000;
const KILL_JITTER_MS = 30;

/**
 * K kill points as acked counts, one random point in each of K equal slices of 5 %…95 % of N, so kills
 * land early, mid and late while the window is full.
 */
export function killPoints(messages, kills, random) {
  const low = messages * 0.05;
  const slice = (messages * 0.9) / kills;
  return Array.from({ length: kills }, (_, i) => Math.max(1, Math.floor(low + slice * i + random() * slice)));
}

/**
 * @param {{ broker: import('./broker.mjs').Broker, version: 4 | 5, qos: 1 | 2, messages: number, kills: number,
 *   window: number, random: () => number, runId: string, publishBoundMs: number, log: (line: string) => void }} options
 */
export async function runScenario({ broker, version, qos, messages, kills, window, random, runId, publishBoundMs, log }) {
  const name = `${version === 5 ? '5.0' : '3.1.1'} QoS ${qos}`;
  const tag = `v${version}q${qos}`;
  const topic = `crash/${runId}/${tag}`;
  const retainedTopic = `${topic}/retained`;
  const subscriberId = `crash-sub-${runId}-${tag}`;
  const publisherId = `crash-pub-${runId}-${tag}`;
  const started = performance.now();

  // 1. The subscriber's session exists, holds the subscription, and is offline.
  const first = await connect(broker.url, persistent(version, subscriberId));
  await subscribe(first.client, topic, qos);
  await end(first.client);

  // 2. The publisher, persistent and reconnecting on its own; a retained message before any kill.
  const publisher = await connect(broker.url, { ...persistent(version, publisherId), reconnectPeriod: 200, connectTimeout: 3_000 });
  const pub = publisher.client;
  const retainedPayload = `retained ${tag} ${runId}`;
  await pub.publishAsync(retainedTopic, retainedPayload, { qos: 1, retain: true });

  const trace = traceWire(pub, topic);
  const publisherResumes = [];
  pub.on('connect', (connack) => publisherResumes.push(connack.sessionPresent === true));

  // 3. Publish N messages; at each kill point SIGKILL the broker group and restart it on the same persist dir.
  const points = killPoints(messages, kills, random);
  const recoveries = [];
  const unconfirmedAtKill = new Set();
  let restarting;
  let restartError;
  let resumeFrom;

  const crashAndRestart = async (acked) => {
    await sleep(random() * KILL_JITTER_MS);
    const at = { acked: acked.size, sent: trace.firstSends.size };
    // What the broker had not yet confirmed when it died: only these may be resent, so only these may repeat.
    const confirmed = qos === 2 ? trace.pubrec : acked;
    for (const seq of trace.firstSends) if (!confirmed.has(seq)) unconfirmedAtKill.add(seq);
    await broker.kill();
    const { spawnedAt, readyMs } = await broker.start();
    const recovery = { ...at, readyMs: Math.round(readyMs), resumeMs: undefined };
    recoveries.push(recovery);
    log(`  ${name}: kill ${recoveries.length} after ${at.acked} acked / ${at.sent} sent; CONNACK again ${recovery.readyMs} ms after restart`);
    resumeFrom = { spawnedAt, recovery };
  };

  const onAck = (acked) => {
    if (resumeFrom) {
      resumeFrom.recovery.resumeMs = Math.round(performance.now() - resumeFrom.spawnedAt);
      resumeFrom = undefined;
    }
    if (restarting || recoveries.length >= points.length || acked.size < points[recoveries.length]) return;
    restarting = crashAndRestart(acked)
      .catch((error) => (restartError = error))
      .finally(() => (restarting = undefined));
  };

  const { acked, failed, published, republished } = await publishAll({
    client: pub,
    topic,
    qos,
    messages,
    window,
    boundMs: publishBoundMs,
    onAck,
    stopped: () => restartError !== undefined,
  });
  while (restarting) await restarting;
  if (restartError) throw restartError;
  const publishMs = performance.now() - started;
  await end(pub);

  // 4. What the broker says it holds for the offline subscriber (admin API), before it resumes.
  const queuedBefore = (await broker.sessions().catch(() => undefined))?.find((s) => s.clientId === subscriberId)?.queued;

  // 5. The subscriber resumes and drains until quiet.
  const copies = new Map();
  let lastAt = Date.now();
  const count = (t, payload) => {
    if (t !== topic) return;
    const seq = Number(payload.toString());
    copies.set(seq, (copies.get(seq) ?? 0) + 1);
    lastAt = Date.now();
  };
  const resumed = await connect(broker.url, persistent(version, subscriberId), { timeoutMs: 30_000, setup: (c) => c.on('message', count) });
  const sub = resumed.client;
  await untilQuiet(() => lastAt, QUIET_MS, DRAIN_BOUND_MS);
  await end(sub);

  // 6. The retained message, to a fresh subscriber.
  const retainedOk = await retainedKept(broker.url, version, retainedTopic, retainedPayload);

  const lost = [...acked].filter((seq) => !copies.has(seq)).sort((a, b) => a - b);
  const duplicated = [...copies].filter(([, n]) => n > 1);
  return {
    name,
    version,
    qos,
    subscriberId,
    kills: recoveries.length,
    published,
    acked: acked.size,
    pubrec: qos === 2 ? trace.pubrec.size : undefined,
    failed: failed.size,
    // A callback error is not an ack; for 5.0 QoS 2 it is usually PUBCOMP 0x92 to a PUBREL resent after a kill
    // (the broker had released the id): the message was PUBREC'd, so it still counts in lostPubrec.
    failedReasons: countBy([...failed.values()]),
    republished,
    // Neither acknowledged nor (QoS 2) PUBREC'd when publishing ended: the broker stopped making progress.
    unsettled: messages - acked.size - [...failed.keys()].filter((seq) => trace.pubrec.has(seq)).length,
    delivered: copies.size,
    copies: [...copies.values()].reduce((a, b) => a + b, 0),
    lost,
    lostPubrec: qos === 2 ? [...trace.pubrec].filter((seq) => !copies.has(seq)).sort((a, b) => a - b) : [],
    duplicates: duplicated.length,
    duplicatedSeqs: duplicated.map(([seq]) => seq).sort((a, b) => a - b),
    extraCopies: duplicated.reduce((sum, [, n]) => sum + n - 1, 0),
    resentPublishes: trace.resent.size,
    resentSeqs: [...trace.resent].sort((a, b) => a - b),
    unconfirmedAtKill: [...unconfirmedAtKill].sort((a, b) => a - b),
    queuedBefore,
    retainedOk,
    sessionPresent: resumed.connack.sessionPresent === true,
    publisherSessionLost: publisherResumes.filter((present) => !present).length,
    recoveries,
    publishMs: Math.round(publishMs),
    durationMs: Math.round(performance.now() - started),
  };
}

function countBy(values) {
  const counts = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

/** A fresh clean client subscribes and must get the retained message with RETAIN=1 within 5 s. */
async function retainedKept(url, version, topic, payload) {
  const { client } = await connect(url, { protocolVersion: version, clean: true });
  try {
    const got = new Promise((resolve) => {
      client.on('message', (t, p, packet) => {
        if (t === topic && packet.retain && p.toString() === payload) resolve(true);
      });
      setTimeout(() => resolve(false), 5_000);
    });
    await subscribe(client, topic, 1);
    return await got;
  } finally {
    await end(client);
  }
}
