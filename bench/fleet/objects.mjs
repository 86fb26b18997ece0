// Which objects a scenario touched, by (binding, name), and what each received: invocationCounts() deltas.
//
// Names come from the tree's own durable-objects/addresses.ts, bundled and called with a recording env (its
// stubs are just { binding, name }), so the bench follows the broker's naming instead of copying it. A tree
// without an object kind (e.g. before TokenDO existed) yields no names for it.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

/** A stand-in env: every binding's get(idFromName(name)) / getByName(name) answers { binding, name }. */
const recordingEnv = new Proxy(
  {},
  {
    get: (_, binding) =>
      typeof binding !== 'string'
        ? undefined
        : {
            idFromName: (name) => ({ binding, name }),
            get: (id) => id,
            getByName: (name) => ({ binding, name }),
          },
  },
);

/** The exports of the tree's addresses.ts, shard.ts, presence.ts, shard-layout.ts (absent: {}), bundled for Node. */
export async function loadAddresses(root) {
  const outdir = join(root, 'node_modules', '.cache', 'edge-mqtt-fleet');
  mkdirSync(outdir, { recursive: true });
  const key = createHash('sha1').update(root).digest('hex').slice(0, 10);
  const load = async (entry, name) => {
    const outfile = join(outdir, `${name}-${key}.mjs`);
    if (!existsSync(join(root, entry))) return {};
    try {
      await build({ entryPoints: [join(root, entry)], bundle: true, format: 'esm', platform: 'neutral', outfile, logLevel: 'silent', external: ['cloudflare:*'] });
      return await import(`${pathToFileURL(outfile).href}?t=${Date.now()}`);
    } catch (error) {
      console.error(`fleet: could not load ${entry}: ${error?.message ?? error}`);
      return {};
    }
  };
  return {
    addresses: await load('durable-objects/addresses.ts', 'addresses'),
    routing: await load('core/routing/shard.ts', 'shard'),
    presence: await load('core/tenancy/presence.ts', 'presence'),
    layout: await load('core/routing/shard-layout.ts', 'shard-layout'),
  };
}

/** The (binding, name) an address function picks, or undefined when it is absent or throws. */
export function addressOf(fn, ...args) {
  if (typeof fn !== 'function') return undefined;
  try {
    const r = fn(recordingEnv, ...args);
    return r && typeof r.binding === 'string' && typeof r.name === 'string' ? { binding: r.binding, name: r.name } : undefined;
  } catch {
    return undefined;
  }
}

/** Requests an object is billed for in a counter delta (an incoming WebSocket message is 1/20 of one). */
export function requests(c) {
  return (c.rpc ?? 0) + (c.fetch ?? 0) + (c.alarm ?? 0) + (c.webSocketMessage ?? 0) / 20 + (c.webSocketClose ?? 0);
}

/**
 * Per-object accumulated counter deltas. Each sample() reads every object; an object whose `since` changed
 * restarted (hibernation, eviction), so its previous reading counts as 0. An object never read before the
 * first sample() starts from that reading (call sample() once before the load, then reset()).
 */
export class ObjectCounters {
  /**
   * `fresh`: bindings whose objects are counted from their start when first read (no baseline read: reading
   * thousands of objects while thousands of sessions are live is what runs a local workerd out of memory).
   */
  constructor(broker, objects, { fresh = [] } = {}) {
    this.broker = broker;
    this.objects = objects;
    this.fresh = new Set(fresh);
    this.last = new Map();
    this.totals = new Map(); // key -> { binding, name, counts }
    this.unreadable = new Set();
    this.restarts = 0;
  }

  /** Reads every object, or only those whose binding is not `fresh` when `all` is false. */
  async sample({ all = true } = {}) {
    const objects = all ? this.objects : this.objects.filter((o) => !this.fresh.has(o.binding));
    const readings = await this.broker.callMany(objects, 'invocationCounts');
    readings.forEach((now, i) => {
      const o = objects[i];
      const key = `${o.binding}/${o.name}`;
      if (!now) {
        this.unreadable.add(o.binding);
        return;
      }
      const prev = this.last.get(key);
      const restarted = prev !== undefined && prev.since !== now.since;
      if (restarted) this.restarts++;
      const entry = this.totals.get(key) ?? { binding: o.binding, name: o.name, counts: {} };
      for (const [field, value] of Object.entries(now)) {
        if (field === 'since' || typeof value !== 'number') continue;
        const base = prev === undefined ? (this.fresh.has(o.binding) ? 0 : value) : restarted ? 0 : (prev[field] ?? 0);
        entry.counts[field] = (entry.counts[field] ?? 0) + (value - base);
      }
      this.totals.set(key, entry);
      this.last.set(key, now);
    });
  }

  /** Zeroes the accumulated deltas; the last readings stay the baseline. */
  reset() {
    this.totals = new Map();
    this.restarts = 0;
  }

  /** Every object's delta, with its billed requests; sorted, most requests first. */
  rows() {
    return [...this.totals.values()].map((e) => ({ ...e, requests: requests(e.counts) })).sort((a, b) => b.requests - a.requests);
  }

  /** Per binding: objects read, summed requests, and the object with the most. */
  byBinding() {
    const out = {};
    for (const row of this.rows()) {
      const b = (out[row.binding] ??= { objects: 0, requests: 0, max: 0, maxName: '', callsMade: undefined });
      b.objects++;
      b.requests += row.requests;
      if (typeof row.counts.callsMade === 'number') b.callsMade = (b.callsMade ?? 0) + row.counts.callsMade;
      if (row.requests > b.max) {
        b.max = row.requests;
        b.maxName = row.name;
      }
    }
    return out;
  }
}

/** Objects on disk per class in a persist directory (Miniflare keeps one SQLite file per object). */
export function objectsOnDisk(persistDir) {
  const out = {};
  try {
    for (const dir of readdirSync(persistDir)) {
      const path = join(persistDir, dir);
      if (!statSync(path).isDirectory()) continue;
      const files = readdirSync(path).filter((f) => f.endsWith('.sqlite'));
      if (files.length > 0) out[dir.replace(/^edge-mqtt-broker-/, '')] = files.length;
    }
  } catch {
    // no persist dir
  }
  return out;
}

/** A readable object name: the tenant prefix's NUL shown as '/'. */
export function printable(name) {
  return name.replace(/\u0000/g, '/');
}
