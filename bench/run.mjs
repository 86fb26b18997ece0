// `npm run bench`: our broker (workerd via Miniflare) against aedes, scenario by scenario, targets interleaved;
// prints a table of medians, ratios and the cost per message estimated from the Durable Object counters.
//
//   npm run bench                          full run, about 6 minutes
//   npm run bench -- --quick               about 2 minutes
//   npm run bench -- --json out.json       every figure, every run
//   npm run bench -- --target ws://127.0.0.1:1884/mqtt   also any other broker (repeatable)
//   npm run bench -- --only fanout,latency  a subset: connect, fanin, fanout, pairs, latency, latency100, idle
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { connectRun, flowRun, idleRun, latencyPairsRun, latencyRun, topologies } from './scenarios.mjs';
import { externalTarget, startAedes, startOurs } from './targets.mjs';
import { PRICES, derive, formatReport, qos1Summary } from './report.mjs';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    target: { type: 'string', multiple: true, default: [] },
    runs: { type: 'string' },
    only: { type: 'string' },
    'no-aedes': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (args.help) {
  console.log(`usage: npm run bench -- [--quick] [--json FILE] [--target ws://HOST:PORT/PATH ...] [--runs N]
                        [--only connect,fanin,fanout,pairs,latency,latency100,idle] [--no-aedes]`);
  process.exit(0);
}

const quick = args.quick;
const config = {
  mode: quick ? 'quick' : 'full',
  runs: args.runs ? Number(args.runs) : quick ? 1 : 3,
  connectClients: 1000,
  connectConcurrency: 50,
  connectIdleWaitMs: quick ? 0 : 12_000, // first run only: memory again once the session objects hibernated
  flowMs: quick ? 1500 : 3000,
  warmupMs: quick ? 300 : 500,
  fanInPublishers: 10,
  fanInWindow: 100, // per publisher: QoS 0 undelivered, QoS 1 unacknowledged (and undelivered)
  fanOutSubscribers: 100,
  fanOutWindow: 100,
  pairs: 50,
  pairsWindow: 50,
  latencyRate: 200,
  latencyMs: quick ? 3000 : 10_000,
  latency100Pairs: 100, // 100 publishers → 100 subscribers, one topic per pair
  latency100RatePerPair: 9.9, // 990 msg/s in total
  latency100Ms: quick ? 3000 : 10_000,
  idleClients: 200,
  idleMs: quick ? 10_000 : 30_000,
  payloadBytes: 32,
};
const only = new Set((args.only ?? 'connect,fanin,fanout,pairs,latency,latency100,idle').split(',').map((s) => s.trim()));

// A hard stop, whatever happens: every loop below is bounded, this bounds their sum.
const hardLimitMs = quick ? 5 * 60_000 : 12 * 60_000;
const targets = [];
let stopping = false;
async function stopAll() {
  if (stopping) return;
  stopping = true;
  for (const t of targets) {
    try {
      await t.stop();
    } catch {
      // best effort
    }
  }
}
const hardStop = setTimeout(async () => {
  console.error(`bench: hard time limit of ${hardLimitMs / 1000} s reached, stopping`);
  await stopAll();
  process.exit(2);
}, hardLimitMs);
hardStop.unref();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    await stopAll();
    process.exit(130);
  });
}

const machine = {
  cpu: os.cpus()[0]?.model ?? 'unknown CPU',
  cores: os.cpus().length,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  os: `${os.type()} ${os.release()}`,
  node: process.version,
  loadAverageAtStart: os.loadavg().map((x) => +x.toFixed(2)),
};
const startedAt = new Date();
const log = (...a) => console.error(`[${((Date.now() - startedAt.getTime()) / 1000).toFixed(0).padStart(4)} s]`, ...a);

const results = {}; // scenario -> target -> [run results]
function record(scenario, target, value) {
  results[scenario] ??= {};
  (results[scenario][target] ??= []).push(value);
}

async function attempt(scenario, target, fn) {
  try {
    const r = await fn();
    record(scenario, target.name, r);
    return r;
  } catch (error) {
    log(`${scenario} on ${target.name} failed: ${error?.stack ?? error}`);
    record(scenario, target.name, { error: String(error?.message ?? error) });
    return undefined;
  }
}

function brief(r, keys) {
  if (!r) return 'failed';
  return keys
    .filter((k) => r[k] !== undefined)
    .map((k) => `${k}=${typeof r[k] === 'number' ? +r[k].toFixed(2) : r[k]}`)
    .join(' ');
}

try {
  log(`starting brokers (${config.mode} mode)`);
  targets.push(await startOurs());
  if (!args['no-aedes']) targets.push(await startAedes());
  args.target.forEach((url, i) => targets.push(externalTarget(url, i)));
  for (const t of targets) log(`target ${t.name}: ${t.url} — ${t.describe}`);

  const flows = [
    ['fanin', 'fanIn-qos0', { name: 'fanin0', topology: topologies.fanIn(config.fanInPublishers), qos: 0, window: config.fanInWindow }],
    ['fanin', 'fanIn-qos1', { name: 'fanin1', topology: topologies.fanIn(config.fanInPublishers), qos: 1, window: config.fanInWindow }],
    // The same with the subscriber's session persistent (clean session 0): what a QoS 1 delivery costs it.
    ['fanin', 'fanIn-qos1-persistent', { name: 'fanin1p', topology: topologies.fanIn(config.fanInPublishers), qos: 1, window: config.fanInWindow, persistent: true }],
    ['fanout', 'fanOut-qos0', { name: 'fanout', topology: topologies.fanOut(config.fanOutSubscribers), qos: 0, window: config.fanOutWindow }],
    ['pairs', 'pairs-qos0', { name: 'pairs', topology: topologies.pairs(config.pairs), qos: 0, window: config.pairsWindow }],
  ];

  // Latency first, on a broker that has run nothing yet (its p99 is the most sensitive figure), then latency of
  // 100 pairs, then connect, whose first run measures memory on a broker holding almost nothing else.
  if (only.has('latency')) {
    for (const qos of [0, 1]) {
      for (const t of targets) {
        const x = await attempt(`latency-qos${qos}`, t, () =>
          latencyRun(t, { qos, rate: config.latencyRate, durationMs: config.latencyMs }),
        );
        log(`latency-qos${qos} ${t.name.padEnd(6)}: ${brief(x, ['delivered', 'losses', 'p50', 'p90', 'p99', 'max'])}`);
      }
    }
  }

  if (only.has('latency100')) {
    for (const qos of [0, 1]) {
      for (const t of targets) {
        const x = await attempt(`latency100-qos${qos}`, t, () =>
          latencyPairsRun(t, { qos, pairs: config.latency100Pairs, ratePerPair: config.latency100RatePerPair, durationMs: config.latency100Ms }),
        );
        log(`latency100-qos${qos} ${t.name.padEnd(6)}: ${brief(x, ['delivered', 'losses', 'p50', 'p90', 'p99', 'max', 'publishRate'])}`);
      }
    }
  }

  if (only.has('connect')) {
    for (let r = 0; r < config.runs; r++) {
      for (const t of targets) {
        const x = await attempt('connect', t, () =>
          connectRun(t, { clients: config.connectClients, concurrency: config.connectConcurrency, measureMemory: r === 0, idleWaitMs: config.connectIdleWaitMs }),
        );
        log(`connect   ${t.name.padEnd(6)} run ${r + 1}: ${brief(x, ['connected', 'connectRate', 'connackP50', 'connackP99', 'memPerConnKiB'])}`);
      }
    }
  }

  for (const [group, scenario, options] of flows) {
    if (!only.has(group)) continue;
    for (let r = 0; r < config.runs; r++) {
      for (const t of targets) {
        const x = await attempt(scenario, t, () =>
          flowRun(t, { ...options, durationMs: config.flowMs, warmupMs: config.warmupMs }),
        );
        log(`${scenario.padEnd(11)} ${t.name.padEnd(6)} run ${r + 1}: ${brief(x, ['rate', 'losses', 'outOfOrder', 'brokerCpuPct', 'generatorCpuPct', 'stalled'])}`);
      }
    }
  }

  if (only.has('idle')) {
    log(`idle: ${config.idleClients} clients per target, keepalive 1 s, ${config.idleMs / 1000} s`);
    try {
      for (const x of await idleRun(targets, { clients: config.idleClients, durationMs: config.idleMs })) {
        record('idle', x.target, x);
        log(`idle      ${x.target.padEnd(6)}: ${brief(x, ['clients', 'pingsSent', 'pingresps', 'disconnects', 'doInvocations', 'pingsAnsweredByWorker'])}`);
        if (x.disconnects > 0) log(`idle      ${x.target.padEnd(6)}: connections closed by the broker: ${JSON.stringify(x.closeReasons)}`);
      }
    } catch (error) {
      log(`idle failed: ${error?.stack ?? error}`);
    }
  }
} finally {
  await stopAll();
}

const durationS = (Date.now() - startedAt.getTime()) / 1000;
machine.loadAverageAtEnd = os.loadavg().map((x) => +x.toFixed(2));
const derived = derive(results, targets.map((t) => t.name));
const report = formatReport({ machine, startedAt, durationS, config, targets, derived });
console.log(report);

if (args.json) {
  writeFileSync(
    args.json,
    `${JSON.stringify(
      {
        machine,
        date: startedAt.toISOString(),
        durationS,
        config,
        prices: PRICES,
        targets: targets.map((t) => ({ name: t.name, kind: t.kind, url: t.url, describe: t.describe })),
        medians: derived,
        qos1: qos1Summary(derived, targets.map((t) => t.name)),
        runs: results,
      },
      (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v),
      2,
    )}\n`,
  );
  log(`wrote ${args.json}`);
}
clearTimeout(hardStop);
process.exit(0);
