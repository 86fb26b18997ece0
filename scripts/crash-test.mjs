// `npm run crash-test`: proves that a QoS 1/2 message the broker acknowledged survives the runtime being killed.
//
// The broker runs as the README starts it (`npm start`, with a persist dir), in its own process group. For
// MQTT 3.1.1 and 5.0 × QoS 1 and 2, a persistent subscriber goes offline, a persistent publisher sends N
// numbered messages, and the whole group is SIGKILLed K times at random points while messages are in flight,
// then restarted on the same persist dir. The run fails (exit 1) unless, for every scenario, the resumed
// subscriber gets CONNACK session-present, every acknowledged message (PUBACK / PUBCOMP) at least once, QoS 2
// exactly once, and the retained message published before the kills is still there. Exit 2: could not run.
//
//   npm run crash-test                       1,000 messages and 3 kills per scenario (12 kills)
//   npm run crash-test -- --quick            200 messages, 3 kills per scenario (CI)
//   options: --messages N  --kills K  --window W (publishes in flight)  --seed S  --timeout SECONDS  --keep
//            --only v4q1,v5q2 (some scenarios)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Broker, freePort } from './crash/broker.mjs';
import { compact, diagnosis, duplicateDiagnosis, failuresOf, table, totalsOf } from './crash/report.mjs';
import { runScenario } from './crash/scenario.mjs';
import { sessionCounters } from './crash/session-counters.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SCENARIOS = [
  { version: 4, qos: 1 },
  { version: 4, qos: 2 },
  { version: 5, qos: 1 },
  { version: 5, qos: 2 },
];

function parseOptions(argv) {
  const value = (name, fallback) => {
    const i = argv.indexOf(name);
    return i >= 0 && argv[i + 1] !== undefined ? Number(argv[i + 1]) : fallback;
  };
  const quick = argv.includes('--quick');
  return {
    quick,
    messages: value('--messages', quick ? 200 : 1000),
    kills: value('--kills', 3),
    window: value('--window', 10),
    seed: value('--seed', Math.floor(Math.random() * 2 ** 31)),
    timeoutMs: value('--timeout', quick ? 300 : 600) * 1000,
    keep: argv.includes('--keep'),
    // e.g. --only v5q2,v4q2 to chase one failure
    only: argv.includes('--only') ? argv[argv.indexOf('--only') + 1]?.split(',') : undefined,
  };
}

/** mulberry32: a seeded generator, so a failing run's kill points can be replayed with --seed. */
function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The deployment's queue bound, for the diagnosis of a loss. */
function maxQueued() {
  const match = readFileSync(join(root, 'wrangler.toml'), 'utf8').match(/^\s*MAX_QUEUED\s*=\s*"?(\d+)"?/m);
  return match ? Number(match[1]) : undefined;
}

function logTail(path, lines = 40) {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no broker log)';
  }
}

const options = parseOptions(process.argv.slice(2));
const scenarios = SCENARIOS.filter(({ version, qos }) => !options.only || options.only.includes(`v${version}q${qos}`));
const started = performance.now();
const work = mkdtempSync(join(tmpdir(), 'edge-mqtt-crash-'));
const persistDir = join(work, 'state');
const logPath = join(work, 'broker.log');
const broker = new Broker({ root, port: await freePort(), persistDir, logPath });
const log = (line) => console.log(line);

// Every way out kills the broker's process group and removes the persist dir (unless --keep).
function cleanup() {
  broker.killNow();
  if (options.keep) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
function abort(code, message) {
  console.error(message);
  console.error(`--- broker log (last lines) ---\n${logTail(logPath)}`);
  cleanup();
  process.exit(code);
}
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => abort(2, `crash test: ${signal}`));
process.on('uncaughtException', (error) => abort(2, `crash test: ${error?.stack ?? error}`));
setTimeout(() => abort(2, `crash test: global timeout of ${options.timeoutMs / 1000} s`), options.timeoutMs);

try {
  const random = seeded(options.seed);
  const runId = options.seed.toString(36);
  log(`crash test: ${options.messages} messages × ${scenarios.length} scenarios, ${options.kills} kills each, window ${options.window}, seed ${options.seed}`);
  log(`broker: npm start -- --port ${broker.port} --persist-to ${persistDir}`);
  const cold = await broker.start();
  log(`  cold start to first CONNACK: ${Math.round(cold.readyMs)} ms`);

  const deadline = started + options.timeoutMs;
  const results = [];
  for (const [i, scenario] of scenarios.entries()) {
    // Each scenario gets an equal share of what is left, keeping a minute for draining and the report.
    const publishBoundMs = Math.max(30_000, (deadline - performance.now() - 60_000) / (scenarios.length - i));
    results.push(await runScenario({ broker, ...scenario, messages: options.messages, kills: options.kills, window: options.window, random, runId, publishBoundMs, log }));
    const r = results.at(-1);
    log(`  ${r.name}: ${r.acked} acked, ${r.delivered} delivered, ${r.lost.length} lost, ${r.duplicates} duplicated, ${r.durationMs} ms`);
  }
  await broker.kill();

  // The sessions' own counters, read from the files now that nothing holds them open.
  const counters = sessionCounters(persistDir);
  for (const r of results) r.queueDropped = counters ? (counters.get(r.subscriberId)?.queue_dropped ?? 0) : undefined;

  const failed = results.filter((r) => failuresOf(r).length > 0);
  const totals = totalsOf(results);
  const durationS = Math.round((performance.now() - started) / 100) / 10;

  log('');
  log(table(results));
  log('');
  log(`kills ${totals.kills}, acked ${totals.acked}, lost ${totals.lost}, QoS 2 duplicates ${totals.qos2Duplicates}, recovery p50 ${totals.recoveryP50Ms} ms / max ${totals.recoveryMaxMs} ms, ${durationS} s in all`);
  for (const r of failed) {
    log(`FAIL ${r.name}: ${failuresOf(r).join('; ')}`);
    if (r.lost.length + r.lostPubrec.length > 0) log(diagnosis(r, maxQueued()));
    if (r.qos === 2 && r.duplicates > 0) log(duplicateDiagnosis(r));
  }
  const reloads = broker.reloads();
  if (reloads > 0) log(`warning: wrangler dev reloaded the Worker ${reloads}× during the run (source files changed): the figures mix code versions`);
  if (totals.kills < scenarios.length * options.kills) log(`note: ${totals.kills} of ${scenarios.length * options.kills} planned kills happened (publishing ended first)`);
  log(
    JSON.stringify({
      crashTest: {
        ok: failed.length === 0,
        seed: options.seed,
        messages: options.messages,
        killsPerScenario: options.kills,
        durationS,
        coldStartMs: Math.round(cold.readyMs),
        reloads,
        totals,
        scenarios: results.map(compact),
      },
    }),
  );
  cleanup();
  process.exit(failed.length === 0 ? 0 : 1);
} catch (error) {
  abort(2, `crash test could not run: ${error?.stack ?? error}`);
}
