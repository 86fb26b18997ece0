// `npm run bench:fleet`: four scaled-down fleet measurements (issue 11), each read from the objects' own
// invocation counters; bounded in count and time, stopping by themselves. Prints a table, merges the figures
// into bench/fleet-results.json under a label and renders bench/FLEET.md from every label there.
//
//   npm run bench:fleet                              all four, full scale (about 20-30 minutes on 2 cores)
//   npm run bench:fleet -- --quick                   a tenth of the scale
//   npm run bench:fleet -- --only storm,hot-topic    a subset: storm, subscriptions-1m, fanout-20k, hot-topic
//   npm run bench:fleet -- --label before-725853d    the column these figures go to (default: after)
//   npm run bench:fleet -- --note "…" --render-only  attach a note to the label's column, rewrite FLEET.md
//   scale: --storm-clients N --subscriptions N --fanout-sessions N --fanout-messages N
//   --storm-retry: clients that are refused or closed retry with jittered back-off (docs/SCALING.md) until CONNACK
//          --hot-publishers N --hot-subscribers N --hot-seconds S --hot-max-rate R
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { startFleetBroker, wranglerVar } from './fleet/broker.mjs';
import { log } from './fleet/common.mjs';
import { loadAddresses } from './fleet/objects.mjs';
import { renderMarkdown, renderTable } from './fleet/report.mjs';
import { stormRun } from './fleet/storm.mjs';
import { subscriptionsRun } from './fleet/subscriptions.mjs';
import { fanoutRun } from './fleet/fanout.mjs';
import { hotTopicRun } from './fleet/hot-topic.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const SCENARIOS = ['storm', 'subscriptions-1m', 'fanout-20k', 'hot-topic'];

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    label: { type: 'string', default: 'after' },
    json: { type: 'string', default: join(here, 'fleet-results.json') },
    md: { type: 'string', default: join(here, 'FLEET.md') },
    'storm-clients': { type: 'string' },
    'storm-retry': { type: 'boolean' },
    subscriptions: { type: 'string' },
    'fanout-sessions': { type: 'string' },
    'fanout-messages': { type: 'string' },
    'hot-publishers': { type: 'string' },
    'hot-subscribers': { type: 'string' },
    'hot-seconds': { type: 'string' },
    'hot-max-rate': { type: 'string' },
    note: { type: 'string' },
    'render-only': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(0, 10).join('\n'));
  process.exit(0);
}

const quick = args.quick;
const num = (v, full, small) => (v !== undefined ? Number(v) : quick ? small : full);
const config = {
  mode: quick ? 'quick' : 'full',
  stormClients: num(args['storm-clients'], 5000, 500),
  stormRetry: args['storm-retry'] === true,
  subscriptions: num(args.subscriptions, 1_000_000, 100_000),
  fanoutSessions: num(args['fanout-sessions'], 20_000, 2000),
  fanoutMessages: num(args['fanout-messages'], 5, 5),
  hotPublishers: num(args['hot-publishers'], 1000, 200),
  hotSubscribers: num(args['hot-subscribers'], 2, 2),
  hotSeconds: num(args['hot-seconds'], 30, 10),
  hotMaxRate: num(args['hot-max-rate'], 16_000, 4000),
};
const only = (args.only ?? SCENARIOS.join(',')).split(',').map((s) => s.trim());
for (const name of only) if (!SCENARIOS.includes(name)) throw new Error(`unknown scenario ${name}; one of ${SCENARIOS.join(', ')}`);

// The sum of every scenario's own bounds, and a margin: nothing runs past this.
const hardLimitMs = 75 * 60_000;
let current;
const persistDirs = [];
async function cleanup() {
  try {
    await current?.stop();
  } catch {
    // best effort
  }
  for (const dir of persistDirs) rmSync(dir, { recursive: true, force: true });
}
setTimeout(async () => {
  console.error(`fleet: hard time limit of ${hardLimitMs / 60_000} min reached, stopping`);
  await cleanup();
  process.exit(2);
}, hardLimitMs).unref();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    await cleanup();
    process.exit(130);
  });
}

function commitOf(dir) {
  try {
    const head = execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['-C', dir, 'status', '--porcelain', '--', 'core', 'durable-objects', 'worker', 'wrangler.toml'], { encoding: 'utf8' }).trim();
    return dirty ? `${head} + working tree` : head;
  } catch {
    return 'unknown';
  }
}

/** A fresh broker with its own persist directory, and what the scenarios need to name its objects. */
async function startFleet(persistDir) {
  const broker = await startFleetBroker(root, { persistDir });
  current = broker;
  const modules = await loadAddresses(root);
  const shardCount = Number(wranglerVar(root, 'SHARD_COUNT') ?? 4);
  const presenceBuckets = broker.bindings.has('PRESENCE')
    ? Number(wranglerVar(root, 'PRESENCE_BUCKETS') ?? modules.presence?.DEFAULT_PRESENCE_BUCKETS ?? 256)
    : 0;
  return {
    broker,
    modules,
    shardCount,
    presenceBuckets,
    persistDir,
    restart: async () => {
      await broker.stop();
      return startFleet(persistDir);
    },
  };
}

const machine = () => ({
  cpu: os.cpus()[0]?.model ?? 'unknown CPU',
  cores: os.cpus().length,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  loadAverage: os.loadavg().map((x) => +x.toFixed(2)),
});

const results = existsSync(args.json) ? JSON.parse(readFileSync(args.json, 'utf8')) : {};
const column = (results[args.label] ??= { scenarios: {} });
if (args.note !== undefined) column.notes = args.note;
if (args['render-only']) {
  writeFileSync(args.json, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(args.md, renderMarkdown(results));
  process.exit(0);
}
column.commit = commitOf(root);
column.mode = config.mode;
column.config = config;

let failures = 0;
for (const name of only) {
  const persistDir = mkdtempSync(join(os.tmpdir(), 'edge-mqtt-fleet-'));
  persistDirs.push(persistDir);
  const startedAt = new Date().toISOString();
  const loadAtStart = machine().loadAverage;
  log(`${name}: starting a fresh broker (${config.mode}, ${column.commit})`);
  let fleet;
  try {
    fleet = await startFleet(persistDir);
    let result;
    switch (name) {
      case 'storm':
        // Each variant on a freshly started workerd: the other's sessions neither share its memory nor its CPU.
        result = {};
        for (const variant of ['shared', 'distinct']) {
          if (variant === 'distinct') fleet = await fleet.restart();
          result[variant] = await stormRun(fleet, { clients: config.stormClients, distinct: variant === 'distinct', retry: config.stormRetry }).catch((error) => {
            log(`storm ${variant} failed: ${error?.stack ?? error}`);
            return { error: String(error?.message ?? error) };
          });
        }
        break;
      case 'subscriptions-1m':
        result = await subscriptionsRun(fleet, { count: config.subscriptions, onRestart: (f) => (fleet = f) });
        break;
      case 'fanout-20k':
        result = await fanoutRun(fleet, { sessions: config.fanoutSessions, messages: config.fanoutMessages });
        break;
      case 'hot-topic':
        result = await hotTopicRun(fleet, {
          publishers: config.hotPublishers,
          subscribers: config.hotSubscribers,
          seconds: config.hotSeconds,
          maxRate: config.hotMaxRate,
        });
        break;
    }
    column.scenarios[name] = { startedAt, loadAtStart, loadAtEnd: machine().loadAverage, machine: machine(), result };
  } catch (error) {
    failures++;
    log(`${name} failed: ${error?.stack ?? error}`);
    column.scenarios[name] = { startedAt, loadAtStart, machine: machine(), error: String(error?.message ?? error) };
  } finally {
    try {
      await (current ?? fleet?.broker)?.stop();
    } catch {
      // already stopped
    }
    current = undefined;
    rmSync(persistDir, { recursive: true, force: true });
  }
  writeFileSync(args.json, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(args.md, renderMarkdown(results));
  console.log(renderTable(name, column.scenarios[name]));
}
log(`done; figures in ${args.json}, summary in ${args.md}`);
process.exit(failures > 0 ? 1 : 0);
