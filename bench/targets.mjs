// The brokers under test: ours (workerd via Miniflare, started with test/integration/broker.ts), aedes in a child
// process, and any ws:// URL from the command line. Each target knows its processes (for RSS and CPU) and, for
// ours, how to read the Durable Objects' invocation counters and the Worker's relay statistics.
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const ADMIN_TOKEN = 'bench-admin';
const CLOCK_TICKS = 100; // USER_HZ on Linux (getconf CLK_TCK)

// ── /proc ─────────────────────────────────────────────────────────────────────────────────────────────

function readStat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    const comm = text.slice(text.indexOf('(') + 1, close);
    const fields = text.slice(close + 2).split(' '); // fields[0] is field 3 (state)
    return { pid, comm, ppid: Number(fields[1]), utime: Number(fields[11]), stime: Number(fields[12]) };
  } catch {
    return undefined;
  }
}

/** Every live descendant process of `pid`, found through the parent-pid chain in /proc. */
export function descendants(pid) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (!stat) continue;
    if (!children.has(stat.ppid)) children.set(stat.ppid, []);
    children.get(stat.ppid).push(stat);
  }
  const out = [];
  const stack = [pid];
  while (stack.length > 0) {
    for (const child of children.get(stack.pop()) ?? []) {
      out.push(child);
      stack.push(child.pid);
    }
  }
  return out;
}

/** Summed VmRSS of `pids`, in bytes (0 for a process that is gone). */
export function rssBytes(pids) {
  let total = 0;
  for (const pid of pids) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
    } catch {
      // gone
    }
  }
  return total;
}

/** Summed user + system CPU time of `pids`, in seconds. */
export function cpuSeconds(pids) {
  let ticks = 0;
  for (const pid of pids) {
    const s = readStat(pid);
    if (s) ticks += s.utime + s.stime;
  }
  return ticks / CLOCK_TICKS;
}

// ── ours ──────────────────────────────────────────────────────────────────────────────────────────────

/** A numeric setting as the broker sees it: the override in `vars`, else wrangler.toml's [vars], else `fallback`. */
function configNumber(vars, name, fallback) {
  if (vars[name]) return Number(vars[name]);
  const m = new RegExp(`^\\s*${name}\\s*=\\s*"?(\\d+)"?`, 'm').exec(readFileSync(join(root, 'wrangler.toml'), 'utf8'));
  return m ? Number(m[1]) : fallback;
}

/**
 * core/routing/hot-topics.ts bundled for Node (it imports nothing of the platform): the bench names the combiner
 * a publisher's hot topics go through with the broker's own combinerSlot instead of a copy of its hash.
 */
async function loadHotTopics(tree = root) {
  const outdir = join(tree, 'node_modules', '.cache', 'edge-mqtt-bench');
  mkdirSync(outdir, { recursive: true });
  const outfile = join(outdir, `hot-topics-${createHash('sha1').update(tree).digest('hex').slice(0, 10)}.mjs`);
  await build({ entryPoints: [join(tree, 'core/routing/hot-topics.ts')], bundle: true, format: 'esm', platform: 'neutral', outfile, logLevel: 'silent' });
  return import(`${pathToFileURL(outfile).href}?t=${Date.now()}`);
}

/**
 * test/integration/broker.ts is TypeScript: bundle it (its packages stay external) into node_modules/.cache so
 * the bundle resolves miniflare, wrangler and esbuild from the project, and pin its import.meta.dirname to
 * where the source lives (it finds wrangler.toml and worker/ from there). `tree`: the checkout to start (the
 * fleet bench also starts an older one); its bundle is named by the tree's path, so a second checkout sharing
 * node_modules by symlink gets its own.
 */
export async function loadStartBroker(tree = root) {
  const outdir = join(tree, 'node_modules', '.cache', 'edge-mqtt-bench');
  mkdirSync(outdir, { recursive: true });
  const outfile = join(outdir, `broker-${createHash('sha1').update(tree).digest('hex').slice(0, 10)}.mjs`);
  await build({
    entryPoints: [join(tree, 'test/integration/broker.ts')],
    bundle: true,
    packages: 'external',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    define: { 'import.meta.dirname': JSON.stringify(join(tree, 'test/integration')) },
    outfile,
    logLevel: 'silent',
  });
  const { startBroker } = await import(`${pathToFileURL(outfile).href}?t=${Date.now()}`);
  return startBroker;
}

const COUNT_FIELDS = [
  'fetch',
  'webSocketMessage',
  'webSocketClose',
  'rpc',
  'alarm',
  'rowsRead',
  'rowsWritten',
  'messagesIn',
  'messagesOut',
];

export function zeroCounts() {
  return Object.fromEntries(COUNT_FIELDS.map((k) => [k, 0]));
}

/**
 * Accumulates the invocation counters of a set of Durable Objects over a window. Each sample() reads every
 * object; an object whose `since` changed has restarted (hibernation, eviction), so its previous reading is
 * taken as 0. Sample more often than objects hibernate (~10 s) and nothing that woke one is missed.
 */
export class CounterTracker {
  /**
   * `objects`: [{ binding, name, weight? }]; a weight scales an object's counts (a sample standing for many).
   * `freshSessions`: the SESSION objects have never run, so they start from zero and need no baseline read.
   */
  constructor(broker, objects, { freshSessions = false } = {}) {
    this.broker = broker;
    this.objects = objects;
    this.last = new Map();
    this.totals = zeroCounts();
    this.byBinding = {}; // SESSION / SHARD / TENANT / COMBINER / WILDCARD / FANOUT -> counts
    this.missing = new Set(); // fields the broker does not report
    this.errors = 0;
    this.freshSessions = freshSessions;
    broker.prepare(objects);
  }

  async sample() {
    const objects = this.freshSessions ? this.objects.filter((o) => o.binding !== 'SESSION') : this.objects;
    this.freshSessions = false;
    await this.read(objects);
  }

  /** Reads `objects` too from the next sample() on (an object read for the first time counts from its start). */
  include(objects) {
    if (objects.length === 0) return;
    this.broker.prepare(objects);
    this.objects.push(...objects);
  }

  /**
   * Adds objects that appeared during the window (a shard split off, and its combiners): they started in it,
   * so everything they counted belongs to it. Call after the last sample().
   */
  async add(objects) {
    this.include(objects);
    if (objects.length > 0) await this.read(objects);
  }

  /** How many objects of each binding are read, e.g. { SESSION: 11, SHARD: 6, COMBINER: 40, ... }. */
  objectsRead() {
    const out = {};
    for (const o of this.objects) out[o.binding] = (out[o.binding] ?? 0) + 1;
    return out;
  }

  async read(objects) {
    const readings = await this.broker.readCountsMany(objects);
    readings.forEach((now, i) => {
      const o = objects[i];
      if (!now) {
        this.errors++;
        return;
      }
      const key = `${o.binding}/${o.name}`;
      const prev = this.last.get(key);
      const restarted = !prev || prev.since !== now.since;
      const own = (this.byBinding[o.binding] ??= zeroCounts());
      for (const f of COUNT_FIELDS) {
        if (typeof now[f] !== 'number') {
          this.missing.add(f);
          continue;
        }
        const delta = (now[f] - (restarted ? 0 : (prev[f] ?? 0))) * (o.weight ?? 1);
        this.totals[f] += delta;
        own[f] += delta;
      }
      this.last.set(key, now);
    });
  }

  /** Zeroes the totals, keeping the last readings as the new baseline. */
  reset() {
    this.totals = zeroCounts();
    this.byBinding = {};
  }
}

export async function startOurs() {
  const startBroker = await loadStartBroker();
  const before = new Set(descendants(process.pid).map((p) => p.pid));
  // BENCH_VARS='{"HOT_TOPIC_RATE":"1000000"}': wrangler.toml [vars] overridden for an experiment.
  const vars = { ...JSON.parse(process.env.BENCH_VARS ?? '{}'), ALLOW_ANONYMOUS: 'true', ADMIN_TOKEN };
  const inspectorPort = process.env.BENCH_INSPECTOR_PORT ? Number(process.env.BENCH_INSPECTOR_PORT) : undefined;
  const broker = await startBroker({ vars, ...(inspectorPort ? { inspectorPort } : {}) });
  const shardCount = configNumber(vars, 'SHARD_COUNT', 4);
  const wildcardHomes = configNumber(vars, 'WILDCARD_HOMES', 4);
  const combiners = configNumber(vars, 'HOT_TOPIC_COMBINERS', 16);
  const fanoutThreshold = configNumber(vars, 'FANOUT_THRESHOLD', 1000);
  const { combinerSlot } = await loadHotTopics();
  const namespaces = new Map();
  const stubs = new Map();
  const ns = async (binding) => {
    if (!namespaces.has(binding)) namespaces.set(binding, await broker.miniflare.getDurableObjectNamespace(binding));
    return namespaces.get(binding);
  };
  for (const binding of ['SESSION', 'SHARD', 'TENANT', 'COMBINER', 'WILDCARD', 'FANOUT']) await ns(binding);
  // Names as durable-objects/addresses.ts (and fanout-do.ts for relays) make them, tenant "default".
  const shardName = (index) => `default\u0000shard\u0000${index}`;
  /**
   * Each shard, and what a publish may touch with it: the combiner slot each publisher's hot topics go through
   * (combinerSlot of its session name, as shard-router.ts picks it; a topic at HOT_TOPIC_RATE msg/s is hot),
   * and the fan-out relays when a topic has more than FANOUT_THRESHOLD subscribers (never with the default
   * threshold and these scenarios' at most 100 subscribers per topic, but BENCH_VARS can lower it).
   */
  const perShard = (indexes, { publishers = [], fanout = 0 } = {}) => {
    const slots = [...new Set(publishers.map((id) => combinerSlot(`default\u0000${id}`, combiners)))].sort((a, b) => a - b);
    const relays = fanout > fanoutThreshold ? Math.ceil(fanout / fanoutThreshold) : 0;
    return indexes.flatMap((index) => [
      { binding: 'SHARD', name: shardName(index) },
      ...slots.map((slot) => ({ binding: 'COMBINER', name: `${shardName(index)}\u0000combiner\u0000${slot}` })),
      ...Array.from({ length: relays }, (_, slot) => ({ binding: 'FANOUT', name: `${shardName(index)}\u0000fanout\u0000${slot}` })),
    ]);
  };
  const stubsFor = (objects) =>
    objects.map(({ binding, name }) => {
      const key = `${binding}/${name}`;
      let stub = stubs.get(key);
      if (!stub) {
        const n = namespaces.get(binding);
        stub = typeof n.getByName === 'function' ? n.getByName(name) : n.get(n.idFromName(name));
        void stub.invocationCounts; // the first property read is synchronous too: do it now (it wakes nothing)
        stubs.set(key, stub);
      }
      return stub;
    });
  // Miniflare's workerd: the processes that appeared under this one when the broker started.
  const pids = descendants(process.pid)
    .filter((p) => !before.has(p.pid) && p.comm.includes('workerd'))
    .map((p) => p.pid);
  return {
    name: 'ours',
    kind: 'ours',
    url: broker.mqttUrl,
    httpUrl: broker.httpUrl,
    shardCount,
    pids: () => pids,
    describe: `workerd (Miniflare), SHARD_COUNT=${shardCount}`,
    /**
     * Reads the counters of many objects at once: every call is in flight together, and the results (proxies
     * to objects inside workerd, each field of which would be a synchronous round trip) are copied out with a
     * single structuredClone that runs inside workerd. Returns one plain object, or null, per object.
     */
    async readCountsMany(objects, batch = 250) {
      const client = await broker.miniflare._getProxyClient();
      const out = [];
      for (let i = 0; i < objects.length; i += batch) {
        const t0 = performance.now();
        const slice = await Promise.all(
          stubsFor(objects.slice(i, i + batch)).map((stub) => stub.invocationCounts().catch(() => null)),
        );
        const t1 = performance.now();
        out.push(...client.global.structuredClone(slice));
        if (process.env.BENCH_DEBUG) console.error(`counters: ${slice.length} calls ${(t1 - t0).toFixed(0)} ms, copy ${(performance.now() - t1).toFixed(0)} ms`);
      }
      return out;
    },
    /** Creates the stubs ahead (a synchronous round trip or two each), outside any measured window. */
    prepare(objects) {
      stubsFor(objects);
    },
    /**
     * The shards of the tenant: the list shard 0 keeps (a split registers its child there), or the base ones
     * when it cannot be read. One RPC to shard 0: call it outside a measured window.
     */
    async shardIndexes() {
      try {
        const client = await broker.miniflare._getProxyClient();
        const [stub] = stubsFor([{ binding: 'SHARD', name: shardName(0) }]);
        const listed = client.global.structuredClone(await stub.shards());
        if (Array.isArray(listed) && listed.length > 0) return listed.map(Number);
      } catch (error) {
        console.error(`bench: listing the shards failed: ${error?.message ?? error}`);
      }
      return Array.from({ length: shardCount }, (_, i) => i);
    },
    /**
     * The Durable Objects a scenario touches: its clients' sessions, the shards `shards` (default: the base
     * ones), the tenant; with `publishers`, also the wildcard homes (a shard reads them all when it loads its
     * subscriptions) and perShard's combiners and relays. Scenarios without publishers (connect, idle) read
     * none of these, so that waking them changes neither their counts nor their memory figures.
     */
    objects(clientIds, { shards = Array.from({ length: shardCount }, (_, i) => i), publishers = [], fanout = 0 } = {}) {
      const publishing = publishers.length > 0;
      return [
        ...clientIds.map((id) => ({ binding: 'SESSION', name: `default\u0000${id}` })),
        ...perShard(shards, { publishers, fanout }),
        { binding: 'TENANT', name: 'default' },
        ...(publishing ? Array.from({ length: wildcardHomes }, (_, home) => ({ binding: 'WILDCARD', name: `default\u0000wildcard\u0000${home}` })) : []),
      ];
    },
    /** objects()'s per-shard part for shards that appeared later (splits). */
    shardObjects(indexes, { publishers = [], fanout = 0 } = {}) {
      return perShard(indexes, { publishers, fanout });
    },
    async stats() {
      try {
        const res = await fetch(`${broker.httpUrl}/api/v1/stats`, {
          headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
        });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        return (await res.json()).relay;
      } catch (error) {
        console.error(`bench: GET /api/v1/stats failed: ${error?.cause ?? error}`);
        return undefined;
      }
    },
    stop: () => broker.stop(),
  };
}

// ── aedes ─────────────────────────────────────────────────────────────────────────────────────────────

export async function startAedes() {
  const child = fork(join(here, 'aedes-peer.mjs'), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: ['--expose-gc'],
  });
  const port = await new Promise((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error('aedes did not start within 10 s')), 10_000);
    child.once('message', (m) => {
      clearTimeout(timer);
      resolvePort(m.port);
    });
    child.once('exit', (code) => reject(new Error(`aedes exited with code ${code}`)));
  });
  const version = JSON.parse(readFileSync(join(root, 'node_modules/aedes/package.json'), 'utf8')).version;
  return {
    name: 'aedes',
    kind: 'aedes',
    url: `ws://127.0.0.1:${port}/mqtt`,
    pids: () => [child.pid],
    describe: `aedes ${version} + ws, own Node process`,
    /** A full garbage collection in the peer, so RSS readings compare live memory. */
    gc: () =>
      new Promise((resolveGc) => {
        const id = Math.random();
        const timer = setTimeout(resolveGc, 2000);
        const onMessage = (m) => {
          if (m?.gcDone !== id) return;
          clearTimeout(timer);
          child.off('message', onMessage);
          resolveGc();
        };
        child.on('message', onMessage);
        child.send({ gc: id });
      }),
    stop: () =>
      new Promise((resolveStop) => {
        if (child.exitCode !== null) return resolveStop();
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          resolveStop();
        }, 3_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolveStop();
        });
        child.kill('SIGTERM');
      }),
  };
}

// ── any ws:// URL ─────────────────────────────────────────────────────────────────────────────────────

export function externalTarget(url, index) {
  const host = new URL(url).host;
  return {
    name: `peer${index + 2}`,
    kind: 'external',
    url,
    pids: () => [],
    describe: `${url} (external; no process figures)`,
    host,
    stop: async () => {},
  };
}
