// Sends an object's event log entries to the tenant's log shards. Connects, disconnects and token changes
// leave at once (a connection's own pace bounds them); limit hits leave at most once per SEND_EVERY_MS per
// object, repeats of the same hit merged into one entry with a count, so a client that hammers a limit costs
// the log a call a second, not one per packet. Retried with back-off.
import { logShardOf, type LogEvent } from '../core/tenancy/event-log.js';
import { logStub } from './addresses.js';
import { brokerConfig } from './config.js';
import type { Env } from './env.js';

const SEND_EVERY_MS = 1_000;
const ATTEMPTS = 3;
/** Entries one object holds while a send waits; past it, the oldest are dropped (and said so once). */
const MAX_HELD = 1_000;

export class EventSender {
  private held: Array<{ tenant: string; event: LogEvent }> = [];
  private lastSentAt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly env: Env) {}

  /** Queues an entry; it leaves now unless it is a limit hit and one left in the last second. */
  add(tenant: string, event: LogEvent): Promise<void> | undefined {
    const repeat = event.kind === 'limit' ? this.held.find((entry) => sameLimit(entry, tenant, event)) : undefined;
    if (repeat) {
      repeat.event.count = (repeat.event.count ?? 1) + (event.count ?? 1);
      repeat.event.message = event.message.replace(/ \(\d+×\)$/, '') + ` (${repeat.event.count}×)`;
    } else {
      if (this.held.length >= MAX_HELD) this.held.shift();
      this.held.push({ tenant, event });
    }
    const wait = event.kind === 'limit' ? this.lastSentAt + SEND_EVERY_MS - Date.now() : 0;
    if (wait <= 0) return this.send();
    this.timer ??= setTimeout(() => void this.send(), Math.max(0, wait));
    return undefined;
  }

  private async send(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const entries = this.held;
    if (entries.some((entry) => entry.event.kind === 'limit')) this.lastSentAt = Date.now();
    this.held = [];
    await sendEvents(this.env, entries);
  }
}

/** Writes entries to their log shards (grouped: one call per shard), retrying with jittered back-off. */
export async function sendEvents(env: Env, entries: ReadonlyArray<{ tenant: string; event: LogEvent }>): Promise<void> {
  const shards = brokerConfig(env).logShards;
  const groups = new Map<string, { tenant: string; shard: number; events: LogEvent[] }>();
  for (const { tenant, event } of entries) {
    const shard = logShardOf(event, shards);
    const key = `${tenant}\u0000${shard}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { tenant, shard, events: [] }));
    group.events.push(event);
  }
  await Promise.all(
    [...groups.values()].map(async ({ tenant, shard, events }) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await logStub(env, tenant, shard).record(events);
        } catch (error) {
          if (attempt >= ATTEMPTS) return console.warn('event log entries not written', { tenant, shard, events: events.length, error: String(error) });
          await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt * (0.5 + Math.random())));
        }
      }
    }),
  );
}

function sameLimit(entry: { tenant: string; event: LogEvent }, tenant: string, event: LogEvent): boolean {
  return entry.tenant === tenant && entry.event.kind === 'limit' && entry.event.limit === event.limit && entry.event.clientId === event.clientId && entry.event.tokenId === event.tokenId;
}
