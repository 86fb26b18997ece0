// The bench scenarios. Each run is bounded in time and in count and stops by itself; each returns plain
// figures (and, for ours, the Durable Object counter deltas of its load phase).
import { fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { BenchClient, closeMany, connectMany } from './client.mjs';
import { publishTemplate } from './mqtt-lite.mjs';
import { CounterTracker, cpuSeconds, rssBytes, zeroCounts } from './targets.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const PAYLOAD_SIZE = 32; // [u32 publisher][u32 seq][f64 sent at, performance.now()][padding]

let runCounter = 0;
/** A unique tag per run: topics and client ids never collide with a previous run's leftovers. */
function runTag(target, scenario) {
  return `${scenario}-${target.name}-${process.pid.toString(36)}-${(runCounter++).toString(36)}`;
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/**
 * The end of a latency run: waits (bounded) until every message sent arrived and, at QoS 1, was acknowledged,
 * then reads the window's CPU, the counters and the sorted latencies.
 */
async function settleLatencyRun({ latencies, sent, qos, acked, meter, counters }) {
  await waitFor(
    () => latencies.length >= sent && (qos === 0 || acked() >= sent),
    () => latencies.length + acked(),
    { idleMs: 1500, maxMs: 5000 },
  );
  const cpu = meter();
  const counted = await counters.finish();
  return { cpu, counted, sorted: sortedNumbers(latencies) };
}

/** Percentiles of sorted latencies and the CPU of the window: what every latency scenario reports. */
function latencyFigures(sorted, cpu) {
  return {
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length > 0 ? sorted[sorted.length - 1] : NaN,
    generatorCpuPct: cpu.generatorCpuPct,
    brokerCpuPct: (cpu.brokerCpuS / cpu.wallS) * 100,
  };
}

function sortedNumbers(values) {
  return Float64Array.from(values).sort();
}

/** Generator and broker CPU over a window: generator as % of one core, broker in seconds. */
function cpuMeter(target) {
  const pids = target.pids();
  const gen0 = process.cpuUsage();
  const broker0 = cpuSeconds(pids);
  const t0 = performance.now();
  return () => {
    const wallS = (performance.now() - t0) / 1000;
    const gen = process.cpuUsage(gen0);
    return {
      wallS,
      generatorCpuPct: ((gen.user + gen.system) / 1e6 / wallS) * 100,
      brokerCpuS: pids.length > 0 ? cpuSeconds(pids) - broker0 : NaN,
    };
  };
}

/**
 * Counters and Worker statistics of ours around a window; a no-op for other targets. Create it before the
 * scenario's clients connect: preparing the stubs makes synchronous round trips through Miniflare's proxy,
 * which stall this event loop (and would make keepalive-1 s clients late). begin() reads the baseline.
 * `publishers` (client ids) adds the objects a publish may touch besides sessions and shards (combiners,
 * wildcard homes; relays past FANOUT_THRESHOLD subscribers of a topic, `fanout`): see targets.mjs objects().
 */
async function counterWindow(target, clientIds, { freshSessions = false, sessionSample, publishers = [], fanout = 0 } = {}) {
  if (target.kind !== 'ours') return { async begin() {}, async finish() { return undefined; } };
  // Shards split under load (SPLIT_PUBLISH_RATE): the window reads every shard that exists, and at its end
  // adds the ones split off meanwhile.
  const shards = new Set(await target.shardIndexes());
  const scope = { shards: [...shards], publishers, fanout };
  let objects = target.objects(clientIds, scope);
  if (sessionSample !== undefined && sessionSample < clientIds.length) {
    // Reading an object's counters costs a few ms; a spread sample of sessions stands for all of them.
    const step = clientIds.length / sessionSample;
    const sample = new Set(Array.from({ length: sessionSample }, (_, k) => clientIds[Math.floor(k * step)]));
    const weight = clientIds.length / sample.size;
    objects = target
      .objects([...sample], scope)
      .map((o) => (o.binding === 'SESSION' ? { ...o, weight } : o));
  }
  const tracker = new CounterTracker(target, objects, { freshSessions });
  /** Shards not read yet, with their combiners and relays; the listing's RPC lands on shard 0 outside the window. */
  const newShards = async () => {
    const grown = (await target.shardIndexes()).filter((index) => !shards.has(index));
    for (const index of grown) shards.add(index);
    return target.shardObjects(grown, scope);
  };
  let stats0;
  return {
    tracker,
    async begin() {
      // Split off during the warm-up: read now, so their baseline excludes it.
      tracker.include(await newShards());
      stats0 = await target.stats();
      await tracker.sample();
      tracker.reset(); // the baseline: only what happens from here on counts
    },
    async finish() {
      await tracker.sample();
      await tracker.add(await newShards());
      const stats1 = await target.stats();
      const relay = stats0 && stats1
        ? Object.fromEntries(Object.keys(stats1).map((k) => [k, stats1[k] - (stats0[k] ?? 0)]))
        : undefined;
      return {
        counts: tracker.totals,
        byBinding: tracker.byBinding,
        objectsRead: tracker.objectsRead(),
        shards: [...shards].sort((a, b) => a - b),
        missing: [...tracker.missing],
        readErrors: tracker.errors,
        relay,
      };
    },
  };
}

/** Resolves when `done()` holds, progress stalls for `idleMs`, or `maxMs` passes; returns which. */
async function waitFor(done, progress, { idleMs = 1500, maxMs = 5000, stepMs = 20 } = {}) {
  const t0 = performance.now();
  let last = progress();
  let lastChange = t0;
  while (!done()) {
    const now = performance.now();
    if (now - t0 > maxMs) return 'timeout';
    const p = progress();
    if (p !== last) {
      last = p;
      lastChange = now;
    } else if (now - lastChange > idleMs) return 'stalled';
    await sleep(stepMs);
  }
  return 'done';
}

// ── 1. connect ──────────────────────────────────────────────────────────────────────────────────────

/**
 * `measureMemory`: report RSS per connection. Only meaningful on a broker that has not yet run other
 * scenarios: later, objects left by earlier runs are evicted meanwhile and their memory is freed.
 */
export async function connectRun(
  target,
  { clients = 1000, concurrency = 50, timeoutMs = 60_000, measureMemory = true, idleWaitMs = 0 } = {},
) {
  const tag = runTag(target, 'conn');
  const ids = Array.from({ length: clients }, (_, i) => `${tag}-${i}`);
  const pids = target.pids();
  await target.gc?.();
  const rss0 = rssBytes(pids);
  const counters = await counterWindow(target, ids, { freshSessions: true, sessionSample: 100 });
  await counters.begin();
  const meter = cpuMeter(target);
  const deadline = performance.now() + timeoutMs;
  const result = await Promise.race([
    connectMany(target.url, ids, { keepAlive: 60 }, { concurrency, timeoutMs: 10_000 }),
    sleep(timeoutMs).then(() => undefined),
  ]);
  const cpu = meter();
  if (!result) throw new Error(`connect: ${clients} clients not connected within ${timeoutMs} ms`);
  await sleep(Math.max(0, Math.min(1000, deadline - performance.now()))); // let the broker settle
  await target.gc?.();
  const rss1 = rssBytes(pids);
  const counted = await counters.finish();
  let rssIdle = NaN;
  if (measureMemory && idleWaitMs > 0) {
    // Session objects hibernate after ~10 s without events: memory once the connections have sat idle.
    await sleep(idleWaitMs);
    await target.gc?.();
    rssIdle = rssBytes(pids);
  }
  const stillOpen = result.clients.filter((c) => c && !c.closed).length;
  await closeMany(result.clients);
  const ok = result.connackMs.length;
  const sorted = sortedNumbers(result.connackMs);
  return {
    clients,
    connected: ok,
    failed: result.failures.length,
    firstFailure: result.failures[0],
    connectRate: ok / cpu.wallS,
    connackP50: percentile(sorted, 50),
    connackP99: percentile(sorted, 99),
    memPerConnKiB: measureMemory && pids.length > 0 && ok > 0 ? (rss1 - rss0) / 1024 / ok : NaN,
    rssDeltaPerConnKiB: pids.length > 0 && ok > 0 ? (rss1 - rss0) / 1024 / ok : NaN,
    memPerIdleConnKiB: pids.length > 0 && ok > 0 ? (rssIdle - rss0) / 1024 / ok : NaN,
    idleWaitS: idleWaitMs / 1000,
    stillOpenAfterWait: stillOpen,
    rssBeforeMiB: rss0 / 1048576,
    rssAfterMiB: rss1 / 1048576,
    brokerCpuPerConnectMs: ok > 0 ? (cpu.brokerCpuS * 1000) / ok : NaN,
    generatorCpuPct: cpu.generatorCpuPct,
    counters: counted,
    delivered: ok, // the counter figures of this scenario are per connection
  };
}

// ── 2–4. flows: fan-in, fan-out, pairs ──────────────────────────────────────────────────────────────

/**
 * A closed-loop flow. Publisher i publishes to its topic; `fanout[i]` subscribers receive each of its messages.
 * A publisher sends only while fewer than `window` of its messages are undelivered (and, at QoS 1, fewer than
 * `window` unacknowledged), so each broker is measured at the rate it sustains, not by how much it buffers.
 */
function flowEngine({ pubs, subs, fanout, qos, window, payloadSize = PAYLOAD_SIZE }) {
  const n = pubs.length;
  const sent = new Array(n).fill(0);
  const acked = new Array(n).fill(0);
  const delivered = new Array(n).fill(0);
  const lastSeq = subs.map(() => new Int32Array(n).fill(-1));
  const latencies = [];
  const state = {
    running: false,
    maxPerPublisher: 0,
    outOfOrder: 0,
    deliveredTotal: 0,
    sentTotal: 0,
    ackedTotal: 0,
    firstSend: NaN,
    lastDelivery: NaN,
    nextPacketId: new Array(n).fill(0),
  };
  const templates = pubs.map((p) => publishTemplate(p.topic, qos, payloadSize));

  function pump(i) {
    const fan = fanout[i];
    while (
      state.running &&
      sent[i] < state.maxPerPublisher &&
      sent[i] * fan - delivered[i] < window * fan &&
      (qos === 0 || sent[i] - acked[i] < window)
    ) {
      const t = templates[i];
      const packetId = (state.nextPacketId[i] % 65535) + 1;
      state.nextPacketId[i]++;
      const buf = t.encode(packetId);
      const o = t.payloadOffset;
      buf.writeUInt32BE(i, o);
      buf.writeUInt32BE(sent[i], o + 4);
      const now = performance.now();
      buf.writeDoubleBE(now, o + 8);
      if (Number.isNaN(state.firstSend)) state.firstSend = now;
      sent[i]++;
      state.sentTotal++;
      pubs[i].client.send(buf);
    }
  }

  function onDelivery(subIndex, buf, p) {
    const i = buf.readUInt32BE(p.payloadStart);
    const seq = buf.readUInt32BE(p.payloadStart + 4);
    if (i >= n) return;
    const now = performance.now();
    if ((state.deliveredTotal & 7) === 0) latencies.push(now - buf.readDoubleBE(p.payloadStart + 8));
    const seqs = lastSeq[subIndex];
    if (seq <= seqs[i]) state.outOfOrder++;
    else seqs[i] = seq;
    delivered[i]++;
    state.deliveredTotal++;
    state.lastDelivery = now;
    pump(i);
  }

  function onAck(i) {
    acked[i]++;
    state.ackedTotal++;
    pump(i);
  }

  return {
    state,
    onDelivery,
    onAck,
    expected: () => sent.reduce((s, v, i) => s + v * fanout[i], 0),
    /** Sends for `durationMs` (or until `maxMessages` per publisher, or a 2 s stall), then drains. */
    async run(durationMs, maxMessages) {
      const start = { sent: state.sentTotal, delivered: state.deliveredTotal, acked: state.ackedTotal };
      latencies.length = 0;
      state.firstSend = NaN;
      state.outOfOrder = 0;
      state.running = true;
      state.maxPerPublisher = Math.max(...sent) + maxMessages;
      for (let i = 0; i < n; i++) pump(i);
      const t0 = performance.now();
      let stalled = false;
      let lastProgress = -1;
      let lastChange = t0;
      while (performance.now() - t0 < durationMs) {
        await sleep(50);
        if (state.deliveredTotal !== lastProgress) {
          lastProgress = state.deliveredTotal;
          lastChange = performance.now();
        } else if (performance.now() - lastChange > 2000) {
          stalled = true;
          break;
        }
        if (sent.every((s) => s >= state.maxPerPublisher)) break;
      }
      state.running = false;
      const drain = await waitFor(
        () => state.deliveredTotal >= this.expected() && (qos === 0 || state.ackedTotal >= state.sentTotal),
        () => state.deliveredTotal + state.ackedTotal,
        { idleMs: 1500, maxMs: 5000 },
      );
      const sorted = sortedNumbers(latencies);
      return {
        sent: state.sentTotal - start.sent,
        unacked: qos === 0 ? 0 : state.sentTotal - state.ackedTotal,
        outOfOrder: state.outOfOrder,
        stalled,
        drain,
        elapsedS: (state.lastDelivery - state.firstSend) / 1000,
        loadLatencyP50: percentile(sorted, 50),
        loadLatencyP99: percentile(sorted, 99),
      };
    },
  };
}

/**
 * One flow run against one target: connect, subscribe, warm up, then a measured window.
 * `topology(tag)` returns { pubTopics: string[], subs: [{ filter, receives: number[] }] }.
 * `persistent`: the subscribers connect with a persistent session (3.1.1 clean session 0) under client ids
 * unique to the run; the run discards those sessions at its end, so no later run meets them.
 */
export async function flowRun(target, { name, topology, qos, window, durationMs, warmupMs = 500, maxMessages = 1_000_000, persistent = false }) {
  const tag = runTag(target, name);
  const { pubTopics, subs: subSpecs } = topology(`bench/${tag}`);
  const fanout = pubTopics.map((_, i) => subSpecs.filter((s) => s.receives.includes(i)).length);
  const subIds = subSpecs.map((_, j) => `${tag}-s${j}`);
  const pubIds = pubTopics.map((_, i) => `${tag}-p${i}`);
  const counters = await counterWindow(target, [...subIds, ...pubIds], { publishers: pubIds, fanout: Math.max(...fanout) });
  let engine;
  const subConn = await connectMany(
    target.url,
    subIds,
    (j) => ({ keepAlive: 60, clean: !persistent, onPublish: (buf, p) => engine.onDelivery(j, buf, p) }),
    { concurrency: 25 },
  );
  const pubConn = await connectMany(
    target.url,
    pubIds,
    (i) => ({ keepAlive: 60, onPuback: () => engine.onAck(i) }),
    { concurrency: 25 },
  );
  const all = [...subConn.clients, ...pubConn.clients];
  try {
    const failures = [...subConn.failures, ...pubConn.failures];
    if (failures.length > 0) throw new Error(`${name}: ${failures.length} clients failed to connect: ${failures[0]}`);
    await Promise.all(subConn.clients.map((c, j) => c.subscribe([{ topic: subSpecs[j].filter, qos }])));
    engine = flowEngine({
      pubs: pubConn.clients.map((client, i) => ({ client, topic: pubTopics[i] })),
      subs: subConn.clients,
      fanout,
      qos,
      window,
    });
    if (warmupMs > 0) await engine.run(warmupMs, maxMessages);
    const sentBefore = engine.expected();
    await counters.begin();
    const meter = cpuMeter(target);
    const r = await runMeasured(engine, durationMs, maxMessages, sentBefore);
    const cpu = meter();
    const counted = await counters.finish();
    return {
      publishers: pubTopics.length,
      subscribers: subSpecs.length,
      qos,
      persistent,
      window,
      sent: r.sent,
      delivered: r.delivered,
      rate: r.delivered / r.elapsedS,
      publishRate: r.sent / r.elapsedS,
      losses: r.expectedTotal - r.delivered,
      unacked: r.unacked,
      outOfOrder: r.outOfOrder,
      stalled: r.stalled,
      drain: r.drain,
      loadLatencyP50: r.loadLatencyP50,
      loadLatencyP99: r.loadLatencyP99,
      generatorCpuPct: cpu.generatorCpuPct,
      brokerCpuPct: (cpu.brokerCpuS / cpu.wallS) * 100,
      brokerCpuUsPerMsg: (cpu.brokerCpuS * 1e6) / r.delivered,
      counters: counted,
    };
  } finally {
    if (engine) engine.state.running = false;
    await closeMany(all);
    if (persistent) await discardSessions(target, subIds);
  }
}

/** Ends persistent sessions: a clean-session CONNECT under the same client id discards what the broker kept. */
async function discardSessions(target, clientIds) {
  const { clients, failures } = await connectMany(target.url, clientIds, { keepAlive: 60 }, { concurrency: 25, timeoutMs: 10_000 });
  if (failures.length > 0) console.error(`bench: ${failures.length} persistent sessions not discarded: ${failures[0]}`);
  await closeMany(clients);
}

async function runMeasured(engine, durationMs, maxMessages, expectedBefore) {
  const deliveredBefore = engine.state.deliveredTotal;
  const r = await engine.run(durationMs, maxMessages);
  // Deliveries expected and made in this window (the warm-up's are before it).
  r.expectedTotal = engine.expected() - expectedBefore;
  r.delivered = engine.state.deliveredTotal - deliveredBefore;
  return r;
}

export const topologies = {
  /** 10 publishers, one topic each, one subscriber with a wildcard filter over all of them. */
  fanIn: (publishers = 10) => (base) => ({
    pubTopics: Array.from({ length: publishers }, (_, i) => `${base}/in/${i}`),
    subs: [{ filter: `${base}/in/#`, receives: Array.from({ length: publishers }, (_, i) => i) }],
  }),
  /** One publisher, `subscribers` subscribers of its exact topic. */
  fanOut: (subscribers = 100) => (base) => ({
    pubTopics: [`${base}/out`],
    subs: Array.from({ length: subscribers }, () => ({ filter: `${base}/out`, receives: [0] })),
  }),
  /** `pairs` publisher/subscriber pairs, each on its own topic. */
  pairs: (pairs = 50) => (base) => ({
    pubTopics: Array.from({ length: pairs }, (_, i) => `${base}/pair/${i}`),
    subs: Array.from({ length: pairs }, (_, i) => ({ filter: `${base}/pair/${i}`, receives: [i] })),
  }),
};

// ── 5. latency at a low rate ────────────────────────────────────────────────────────────────────────

export async function latencyRun(target, { qos, rate = 200, durationMs = 10_000 }) {
  const tag = runTag(target, `lat${qos}`);
  const topic = `bench/${tag}/lat`;
  const latencies = [];
  let outOfOrder = 0;
  let lastSeq = -1;
  const sub = new BenchClient(target.url, `${tag}-s`, {
    keepAlive: 60,
    onPublish: (buf, p) => {
      latencies.push(performance.now() - buf.readDoubleBE(p.payloadStart + 8));
      const seq = buf.readUInt32BE(p.payloadStart + 4);
      if (seq <= lastSeq) outOfOrder++;
      else lastSeq = seq;
    },
  });
  let acked = 0;
  const counters = await counterWindow(target, [`${tag}-s`, `${tag}-p`], { publishers: [`${tag}-p`] });
  const pub = new BenchClient(target.url, `${tag}-p`, { keepAlive: 60, onPuback: () => acked++ });
  try {
    await sub.connect();
    await pub.connect();
    await sub.subscribe([{ topic, qos }]);
    const template = publishTemplate(topic, qos, PAYLOAD_SIZE);
    // A few messages to wake everything on the path, not measured.
    for (let k = 0; k < 5; k++) {
      const b = template.encode(k + 1);
      b.writeUInt32BE(0, template.payloadOffset);
      b.writeUInt32BE(k, template.payloadOffset + 4);
      b.writeDoubleBE(performance.now(), template.payloadOffset + 8);
      pub.send(b);
    }
    await waitFor(() => latencies.length >= 5, () => latencies.length, { maxMs: 5000 });
    latencies.length = 0;
    acked = 0;
    lastSeq = 0; // measured messages are numbered from 1
    outOfOrder = 0;
    await counters.begin();
    const meter = cpuMeter(target);
    const total = Math.round((rate * durationMs) / 1000);
    let sent = 0;
    const t0 = performance.now();
    await new Promise((resolve) => {
      const timer = setInterval(() => {
        const elapsed = performance.now() - t0;
        const due = Math.min(total, Math.floor((elapsed * rate) / 1000));
        // Bounded: at most 20 per tick, and never more than 1,000 unacknowledged.
        for (let k = 0; k < 20 && sent < due && (qos === 0 || sent - acked < 1000); k++) {
          const b = template.encode(((sent + 5) % 65535) + 1);
          b.writeUInt32BE(0, template.payloadOffset);
          b.writeUInt32BE(sent + 1, template.payloadOffset + 4);
          b.writeDoubleBE(performance.now(), template.payloadOffset + 8);
          pub.send(b);
          sent++;
        }
        if (sent >= total || elapsed > durationMs + 2000) {
          clearInterval(timer);
          resolve();
        }
      }, 2);
    });
    const { cpu, counted, sorted } = await settleLatencyRun({ latencies, sent, qos, acked: () => acked, meter, counters });
    return {
      qos,
      rate,
      sent,
      delivered: latencies.length,
      losses: sent - latencies.length,
      outOfOrder,
      ...latencyFigures(sorted, cpu),
      counters: counted,
    };
  } finally {
    await Promise.all([sub.close(), pub.close()]);
  }
}

// ── 5b. latency of many pairs at a fixed rate ───────────────────────────────────────────────────────

/**
 * `pairs` publisher/subscriber pairs, publisher i on its own topic, its subscriber subscribed to it at `qos`:
 * how a user would run 100 devices at `ratePerPair` msg/s each. Open loop: each publisher sends on a fixed
 * schedule whatever the broker does (at QoS 1 it pauses only past `maxUnacked` unacknowledged messages, to
 * stay bounded). Starts are spread over one period with jitter, so the publishers are not in lockstep and the
 * total rate is steady. Latency is send → receive of every measured message, as latencyRun measures it.
 */
export async function latencyPairsRun(target, { qos, pairs = 100, ratePerPair = 9.9, durationMs = 10_000, maxUnacked = 100 }) {
  const tag = runTag(target, `lat${pairs}-${qos}`);
  const topics = Array.from({ length: pairs }, (_, i) => `bench/${tag}/pair/${i}`);
  const subIds = topics.map((_, i) => `${tag}-s${i}`);
  const pubIds = topics.map((_, i) => `${tag}-p${i}`);
  const latencies = [];
  const lastSeq = new Int32Array(pairs).fill(0); // measured messages are numbered from 1 per publisher
  const acked = new Int32Array(pairs);
  let warm = 0;
  let outOfOrder = 0;
  const onPublish = (buf, p) => {
    const i = buf.readUInt32BE(p.payloadStart);
    const seq = buf.readUInt32BE(p.payloadStart + 4);
    if (i >= pairs) return;
    if (seq === 0) {
      warm++; // a warm-up message
      return;
    }
    latencies.push(performance.now() - buf.readDoubleBE(p.payloadStart + 8));
    if (seq <= lastSeq[i]) outOfOrder++;
    else lastSeq[i] = seq;
  };
  const counters = await counterWindow(target, [...subIds, ...pubIds], { publishers: pubIds, fanout: 1 });
  const subConn = await connectMany(target.url, subIds, { keepAlive: 60, onPublish }, { concurrency: 25 });
  const pubConn = await connectMany(target.url, pubIds, (i) => ({ keepAlive: 60, onPuback: () => acked[i]++ }), { concurrency: 25 });
  const all = [...subConn.clients, ...pubConn.clients];
  try {
    const failures = [...subConn.failures, ...pubConn.failures];
    if (failures.length > 0) throw new Error(`latency${pairs}: ${failures.length} clients failed to connect: ${failures[0]}`);
    await Promise.all(subConn.clients.map((c, i) => c.subscribe([{ topic: topics[i], qos }])));
    const templates = topics.map((topic) => publishTemplate(topic, qos, PAYLOAD_SIZE));
    const publish = (i, packetId, seq) => {
      const t = templates[i];
      const b = t.encode(packetId);
      b.writeUInt32BE(i, t.payloadOffset);
      b.writeUInt32BE(seq, t.payloadOffset + 4);
      b.writeDoubleBE(performance.now(), t.payloadOffset + 8);
      pubConn.clients[i].send(b);
    };
    // Two messages per pair wake every session, shard and connection on the paths, not measured.
    const WARM_UP = 2;
    for (let k = 0; k < WARM_UP; k++) for (let i = 0; i < pairs; i++) publish(i, k + 1, 0);
    const ackedTotal = () => acked.reduce((n, a) => n + a, 0);
    await waitFor(
      () => warm >= WARM_UP * pairs && (qos === 0 || ackedTotal() >= WARM_UP * pairs),
      () => warm + ackedTotal(),
      { maxMs: 5000 },
    );
    acked.fill(0);
    await counters.begin();
    const meter = cpuMeter(target);
    const periodMs = 1000 / ratePerPair;
    const perPublisher = Math.round((ratePerPair * durationMs) / 1000);
    const sent = new Int32Array(pairs);
    const t0 = performance.now();
    // Publisher i's k-th message is due at startAt[i] + k × period: stratified jitter over the first period.
    const startAt = Float64Array.from({ length: pairs }, (_, i) => t0 + ((i + Math.random()) / pairs) * periodMs);
    let sentTotal = 0;
    await new Promise((resolve) => {
      const timer = setInterval(() => {
        const now = performance.now();
        for (let i = 0; i < pairs; i++) {
          while (
            sent[i] < perPublisher &&
            startAt[i] + sent[i] * periodMs <= now &&
            (qos === 0 || sent[i] - acked[i] < maxUnacked)
          ) {
            sent[i]++;
            sentTotal++;
            publish(i, ((sent[i] + WARM_UP - 1) % 65535) + 1, sent[i]);
          }
        }
        if (sentTotal >= perPublisher * pairs || now - t0 > durationMs + periodMs + 2000) {
          clearInterval(timer);
          resolve();
        }
      }, 2);
    });
    const sendS = (performance.now() - t0) / 1000;
    const { cpu, counted, sorted } = await settleLatencyRun({ latencies, sent: sentTotal, qos, acked: ackedTotal, meter, counters });
    return {
      qos,
      pairs,
      ratePerPair,
      offeredRate: pairs * ratePerPair,
      publishRate: sentTotal / sendS,
      sent: sentTotal,
      delivered: latencies.length,
      losses: sentTotal - latencies.length,
      unacked: qos === 0 ? 0 : sentTotal - ackedTotal(),
      outOfOrder,
      ...latencyFigures(sorted, cpu),
      counters: counted,
    };
  } finally {
    await closeMany(all);
  }
}

// ── 6. idle pinging clients ─────────────────────────────────────────────────────────────────────────

/**
 * All targets at once (the load is tiny): `clients` per target with keepalive 1 s, each sending PINGREQ every
 * second for `durationMs`. The clients live in a child process (idle-clients.mjs) so that reading counters here
 * cannot delay a PINGREQ; counters are sampled every `sampleEveryMs`, more often than objects hibernate.
 */
export async function idleRun(targets, { clients = 200, durationMs = 30_000, sampleEveryMs = 4000 }) {
  const per = [];
  for (const target of targets) {
    const tag = runTag(target, 'idle');
    const ids = Array.from({ length: clients }, (_, i) => `${tag}-${i}`);
    per.push({ target, ids, counters: await counterWindow(target, ids) });
  }
  const child = fork(join(here, 'idle-clients.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const ask = (message, key, timeoutMs) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`idle clients: no ${key} within ${timeoutMs} ms`)), timeoutMs);
      const onMessage = (m) => {
        if (!(key in m)) return;
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(m[key]);
      };
      child.on('message', onMessage);
      child.send(message);
    });
  try {
    await ask(
      {
        connect: {
          targets: per.map((p) => ({ name: p.target.name, url: p.target.url, ids: p.ids })),
          clients,
          keepAlive: 1,
          maxMs: durationMs + 120_000,
        },
      },
      'connected',
      60_000,
    );
    await sleep(2000); // connect-time work settles first
    for (const p of per) await p.counters.begin();
    await ask({ start: true }, 'started', 5000);
    const t0 = performance.now();
    while (performance.now() - t0 < durationMs) {
      await sleep(Math.min(sampleEveryMs, Math.max(0, durationMs - (performance.now() - t0))));
      // Sample more often than objects hibernate, so an invocation is not lost with a restart.
      for (const p of per) if (p.counters.tracker) await p.counters.tracker.sample();
    }
    const windowS = (performance.now() - t0) / 1000;
    // The last counter reading comes before the clients disconnect (their DISCONNECTs do wake the sessions).
    for (const p of per) p.counted = await p.counters.finish();
    const clientFigures = await ask({ stop: true }, 'stopped', 10_000);
    const out = [];
    for (const p of per) {
      const counted = p.counted;
      const c = counted?.counts ?? zeroCounts();
      const invocations = c.fetch + c.webSocketMessage + c.webSocketClose + c.rpc + c.alarm;
      const figures = clientFigures.find((f) => f.name === p.target.name) ?? {};
      out.push({
        target: p.target.name,
        ...figures,
        windowS,
        doInvocations: p.target.kind === 'ours' ? invocations : NaN,
        pingsAnsweredByWorker: counted?.relay?.pingsAnswered ?? NaN,
        counters: counted,
      });
    }
    return out;
  } finally {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    if (child.exitCode === null && child.connected) child.disconnect();
    await exited;
    clearTimeout(timer);
  }
}
