// A tenant's event log and per-minute statistics, without one object every CONNECT of the tenant meets:
//
//   session / token / presence / tenant / Worker ──event──▶ log shard hash(clientId ?? tokenId) mod LOG_SHARDS
//   a log shard keeps its last EVENTS_KEPT events and, per minute, counts derived from them (connects, limit
//   hits, …); topic shards keep per-minute message counts of their own (durable-objects/shard/counters.ts)
//   the API merges pages of the log shards newest first, and sums the minutes of every source
//
// Events of one client id all land in one log shard, so a filter by client id reads one object.
import { shardOf } from '../routing/shard.js';

/** Log shards per tenant: each receives 1/LOG_SHARDS of the tenant's clients' events. */
export const DEFAULT_LOG_SHARDS = 8;
/** Events each log shard keeps (the oldest go first): LOG_SHARDS × this per tenant. */
export const EVENTS_KEPT = 2_500;
/** Per-minute aggregates are kept this long (a day). */
export const HISTORY_MINUTES = 24 * 60;

export type EventKind = 'connect' | 'disconnect' | 'auth_failure' | 'kick' | 'limit' | 'token';
export const EVENT_KINDS: readonly EventKind[] = ['connect', 'disconnect', 'auth_failure', 'kick', 'limit', 'token'];

/** One entry of the event log, as the object that saw it reports it. */
export interface LogEvent {
  /** ms since the epoch, when it happened. */
  at: number;
  kind: EventKind;
  clientId?: string;
  tokenId?: string;
  /** One line for a human: "MQTT 5.0 from 203.0.113.7, keepalive 30 s, clean start". */
  message: string;
  /** The MQTT reason code that went with it (a DISCONNECT's, a CONNACK's refusal), if any. */
  reasonCode?: number;
  /** For kind "limit": which limit (publish_rate, message_size, subscriptions, connections, sessions, …). */
  limit?: string;
  /** How many occurrences this entry stands for (a burst of the same limit hit is one entry); default 1. */
  count?: number;
  /** Further fields by kind (protocol, remote address, keepalive, …). */
  detail?: Record<string, string | number | boolean>;
}

/** A stored event: the log shard's sequence number makes its place in the merged log unique. */
export interface StoredEvent extends LogEvent {
  shard: number;
  seq: number;
}

/** The log shard of an event: by client id when it has one, else by token id, else shard 0. */
export function logShardOf(event: Pick<LogEvent, 'clientId' | 'tokenId'>, shards: number): number {
  const key = event.clientId ?? event.tokenId;
  return key === undefined ? 0 : shardOf(key, shards);
}

/** The minute (ms since the epoch / 60,000) a time falls in: the key of the per-minute aggregates. */
export function minuteOf(at: number): number {
  return Math.floor(at / 60_000);
}

/** Counts keyed "name" (the tenant's) or "name@tokenId" (one token's usage); summed across sources. */
export type Counts = Record<string, number>;

/** Adds `n` to the tenant's `name` and, for a known token, to the token's. */
export function addCount(counts: Counts, name: string, n: number, tokenId?: string): void {
  if (n === 0) return;
  counts[name] = (counts[name] ?? 0) + n;
  if (tokenId !== undefined) counts[`${name}@${tokenId}`] = (counts[`${name}@${tokenId}`] ?? 0) + n;
}

export function mergeCounts(into: Counts, from: Counts): Counts {
  for (const [name, n] of Object.entries(from)) into[name] = (into[name] ?? 0) + n;
  return into;
}

/** What one event adds to the per-minute aggregates. */
export function countsOfEvent(event: LogEvent): Counts {
  const counts: Counts = {};
  const n = event.count ?? 1;
  const name = { connect: 'connects', disconnect: 'disconnects', auth_failure: 'auth_failures', kick: 'kicks', limit: 'limit_hits', token: 'token_changes' }[event.kind];
  addCount(counts, name, n, event.tokenId);
  if (event.kind === 'limit' && event.limit !== undefined) addCount(counts, `limit:${event.limit}`, n, event.tokenId);
  return counts;
}

/** Splits merged counts into the tenant's and each token's. */
export function splitCounts(counts: Counts): { tenant: Counts; tokens: Record<string, Counts> } {
  const tenant: Counts = {};
  const tokens: Record<string, Counts> = {};
  for (const [key, n] of Object.entries(counts)) {
    const at = key.lastIndexOf('@');
    if (at < 0) {
      tenant[key] = n;
      continue;
    }
    const tokenId = key.slice(at + 1);
    (tokens[tokenId] ??= {})[key.slice(0, at)] = n;
  }
  return { tenant, tokens };
}

// ── Paging the merged log ────────────────────────────────────────────────────────────────────────────

/** A place in the merged log, newest first: events are ordered by (at, shard, seq) descending. */
export interface LogCursor {
  at: number;
  shard: number;
  seq: number;
}

export function formatCursor(cursor: LogCursor): string {
  return `${cursor.at}.${cursor.shard}.${cursor.seq}`;
}

export function parseCursor(text: string): LogCursor | undefined {
  const match = /^(\d{1,15})\.(\d{1,4})\.(\d{1,15})$/.exec(text);
  if (!match) return undefined;
  return { at: Number(match[1]), shard: Number(match[2]), seq: Number(match[3]) };
}

/**
 * What shard `shard` must return to continue strictly before `cursor`: events with at < `beforeAt`, or at ==
 * `beforeAt` and seq < `beforeSeq` (a shard after the cursor's one has none left at the cursor's time, a
 * shard before it all of them).
 */
export function shardBound(cursor: LogCursor, shard: number): { beforeAt: number; beforeSeq: number } {
  if (shard < cursor.shard) return { beforeAt: cursor.at, beforeSeq: Number.MAX_SAFE_INTEGER };
  if (shard > cursor.shard) return { beforeAt: cursor.at, beforeSeq: 0 };
  return { beforeAt: cursor.at, beforeSeq: cursor.seq };
}

function newerFirst(a: StoredEvent, b: StoredEvent): number {
  return b.at - a.at || b.shard - a.shard || b.seq - a.seq;
}

/**
 * Merges the shards' pages (each newest first, each at most `limit` long) into one page of `limit`; `next`
 * continues after its last event, null when no shard has more.
 */
export function mergePages(pages: Array<{ events: StoredEvent[]; more: boolean }>, limit: number): { events: StoredEvent[]; next: string | null } {
  const all = pages.flatMap((page) => page.events).sort(newerFirst);
  const events = all.slice(0, limit);
  const more = all.length > limit || pages.some((page) => page.more);
  const last = events[events.length - 1];
  return { events, next: more && last ? formatCursor(last) : null };
}

/** The events of one client id or token, of given kinds: what a page may be narrowed to. */
export interface EventFilter {
  clientId?: string;
  tokenId?: string;
  kinds?: EventKind[];
}

/** The log shards a filtered read must ask: one for a client id, all otherwise. */
export function shardsToRead(filter: EventFilter, shards: number): number[] {
  if (filter.clientId !== undefined) return [logShardOf({ clientId: filter.clientId }, shards)];
  return Array.from({ length: shards }, (_, index) => index);
}
