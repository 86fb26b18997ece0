// Where a tenant's wildcard subscriptions are stored durably: W "wildcard home" objects, by hash of the filter.
//
// A wildcard filter must be matched in every topic shard, so every shard holds it in its trie, but only in
// memory: the rows live in the filter's home, 2 rows per subscribe instead of 2 per shard.
//
//   SUBSCRIBE a/+ ─▶ home(hash(a/+) mod W).put ─▶ every shard .routeSubscribe (trie, memory) ─▶ SUBACK
//   shard wakes  ─▶ its exact rows (SQLite) + every home's rows, page by page ─▶ trie
//
// The home is written before any shard is told, so a shard that wakes, or is created by a split, after that
// reads the filter from its home; one that was already awake is told. W is fixed for a deployed tenant, like
// SHARD_COUNT: a filter's row sits in the home its hash chose.
import type { SubscriptionRow } from './shard-protocol.js';
import { topicHash } from './shard.js';
import { subscriptionOptions, type SubscriptionOptions } from './subscription.js';
import type { SubscriptionTrie } from '../topic/trie.js';

/** Wildcard homes per tenant when WILDCARD_HOMES is not set. */
export const DEFAULT_WILDCARD_HOMES = 4;

/** Rows one page of a home's load carries at most. */
export const HOME_PAGE_ROWS = 2_000;

/** A (filter, session) pair: the key of a subscription row. */
export interface SubscriptionKey {
  filter: string;
  session: string;
}

/** One page of a home's rows in key order; `next` is the last key [filter, session], null once none follow. */
export interface WildcardPage {
  rows: SubscriptionRow[];
  next: [string, string] | null;
}

/** The home, in [0, homes), of a wildcard filter: by the hash of the whole filter (`$share/g/…` included). */
export function homeOf(filter: string, homes: number): number {
  if (!Number.isInteger(homes) || homes < 1) throw new RangeError(`wildcard homes must be a positive integer, got ${homes}`);
  return topicHash(filter) % homes;
}

/** Items grouped by the home of their filter. */
export function byHome<T extends { filter: string }>(items: readonly T[], homes: number): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const home = homeOf(item.filter, homes);
    const group = groups.get(home);
    if (group) group.push(item);
    else groups.set(home, [item]);
  }
  return groups;
}

/** `items` in consecutive slices of at most `size`. */
export function slices<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Adds a page of home rows to a trie, keeping any entry it already holds (a newer subscribe's options win
 * over what was read before it). Answers how many entries were added.
 */
export function mergeWildcards(trie: SubscriptionTrie<SubscriptionOptions>, rows: readonly SubscriptionRow[]): number {
  let added = 0;
  for (const row of rows) {
    if (trie.get(row.filter, row.session) !== undefined) continue;
    trie.add(row.filter, row.session, subscriptionOptions(row));
    added++;
  }
  return added;
}
