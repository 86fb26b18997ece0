// What a shard does with a retained message it is handed, and which stored ones a subscription gets back.
//
// Storing, in a shard whose share of the tenant's limits is 2 topics and 10 payload bytes, holding a (4 B)
// and b (4 B):
//
//   a  payload ''        delete          an empty payload clears the topic's message          [MQTT-3.3.1-10]
//   a  payload 'on'      store           replaces a's message; replacing is allowed at the     [MQTT-3.3.1-5]
//                                        topic limit
//   c  payload 'on'      refuse          a new topic past the topic limit: not kept
//   a  payload 7 bytes   refuseAndDelete would hold 11 B: not kept, and a's older message goes too,
//                                        so that no later subscriber gets a value already replaced
//   $SYS/x               store           the broker's own topics are never refused
//
// Every refusal is counted by the shard; the message is still delivered to current subscribers: retaining
// is what is refused, not the publish.
//
// Reading back for the filter 'a/+' at t = 100, from the rows the index range 'a/' <= topic < 'a0' gave:
//
//   a/x    expires 50   expired: not returned, deleted now that it was met     [MQTT-3.3.2-5 v5]
//   a/y    never        returned
//   a/y/z  never        in the range, not matched by 'a/+': skipped (and left alone, even if expired)
import { parseSharedSubscription } from '../topic/validate.js';
import { topicMatchesFilter } from '../topic/match.js';
import { hasExpired, type RoutedMessage } from './message.js';
import type { RetainedLookup } from './retained-range.js';

/** What to do with a message published with RETAIN 1. */
export type RetainedDecision = 'delete' | 'store' | 'refuse' | 'refuseAndDelete';

/** A shard's bounds on what it retains for its tenant: its share of the tenant-wide limits. */
export interface RetainedLimits {
  /** Topics; absent = no bound. */
  count?: number;
  /** Payload bytes; absent = no bound. */
  bytes?: number;
}

/**
 * What the decision may ask of the shard's store. Functions, not values: they are asked only when the
 * answer matters (a bounded, non-empty, non-`$` message; `held` only when the message adds topics or bytes).
 */
export interface RetainedHoldings {
  /** The payload size of the topic's retained message in this shard; undefined when it has none. */
  existing(): number | undefined;
  /** The topics and payload bytes this shard holds (expired and `$` ones included). */
  held(): { count: number; bytes: number };
}

/**
 * This shard's share of the tenant's retained limits: topics, the tenant's maxRetained if it set one (the
 * message carries its share as retainedLimit) or else the deployment's MAX_RETAINED; bytes,
 * MAX_RETAINED_BYTES. Per shard, so that no single object sits on the publish path. A shard at depth d holds
 * 1/2^d of its tenant's topic space, so `shares` = 2^d (SHARD_COUNT until shards split): the message's
 * retainedLimit is ceil(L / SHARD_COUNT), and ceil(ceil(L / a) / b) = ceil(L / ab), so the share is exact.
 */
export function shardRetainedLimits(
  message: Pick<RoutedMessage, 'retainedLimit'>,
  defaults: { maxRetained: number; maxRetainedBytes: number },
  shardCount: number,
  shares = shardCount,
): RetainedLimits {
  const split = Math.max(1, Math.floor(shares / shardCount));
  return {
    count: message.retainedLimit === undefined ? Math.ceil(defaults.maxRetained / shares) : Math.ceil(message.retainedLimit / split),
    bytes: Math.ceil(defaults.maxRetainedBytes / shares),
  };
}

/**
 * The retained-message policy for one message with RETAIN 1 (see the table above). It is forwarded to
 * current subscribers whatever the answer [MQTT-3.3.1-12].
 */
export function decideRetained(message: Pick<RoutedMessage, 'topic' | 'payload'>, limits: RetainedLimits, holdings: RetainedHoldings): RetainedDecision {
  // [MQTT-3.3.1-10] an empty payload removes the topic's retained message and is not stored itself.
  if (message.payload.length === 0) return 'delete';
  // [MQTT-3.3.1-5] the message replaces the topic's previous one. `$` topics are the broker's ($SYS, a
  // handful): never refused.
  if (message.topic.startsWith('$') || (limits.count === undefined && limits.bytes === undefined)) return 'store';
  const previous = holdings.existing();
  // The topic limit caps the number of topics: replacing is always allowed, a new topic past it is refused.
  if (previous === undefined && limits.count !== undefined && holdings.held().count >= limits.count) return 'refuse';
  // The byte limit caps the payload held: a message that adds bytes past it is refused; one that replaces
  // takes its older message with it (a later subscriber gets nothing rather than a value already replaced).
  const grows = message.payload.length - (previous ?? 0);
  if (limits.bytes !== undefined && grows > 0 && holdings.held().bytes + grows > limits.bytes) {
    return previous === undefined ? 'refuse' : 'refuseAndDelete';
  }
  return 'store';
}

/** A stored retained message as far as the choice below needs it; the caller's row rides along. */
export interface StoredRetained {
  topic: string;
  /** Absolute expiry, ms since the epoch; absent = never. */
  expiresAt?: number | undefined;
}

/** Rows of a retained lookup, sorted: what to return and what to delete. */
export interface RetainedSelection<T> {
  /** Matching and unexpired, in row order: the answer. */
  live: T[];
  /** Matching and expired: never sent again, to be deleted [MQTT-3.3.2-5 v5]. */
  expired: T[];
}

/**
 * Sorts the rows that `lookup` (retainedLookup(filter)) read: an exact lookup's rows are the topic itself;
 * a range or a full scan is wider than the filter, so each row is checked with topicMatchesFilter. Rows
 * the filter does not match are in neither list.
 */
export function selectRetained<T extends StoredRetained>(
  filter: string,
  lookup: RetainedLookup,
  rows: Iterable<T>,
  now: number,
): RetainedSelection<T> {
  const selection: RetainedSelection<T> = { live: [], expired: [] };
  for (const row of rows) {
    if (lookup.kind !== 'exact' && !topicMatchesFilter(filter, row.topic)) continue;
    // [MQTT-3.3.2-5 v5] past its Message Expiry Interval: not sent to a new subscriber, and not kept.
    if (hasExpired(row, now)) selection.expired.push(row);
    else selection.live.push(row);
  }
  return selection;
}

/** Whether a subscription to `filter` is answered with retained messages: not a shared one [MQTT 5.0 §4.8.2]. */
export function sendsRetainedOnSubscribe(filter: string): boolean {
  return parseSharedSubscription(filter) === undefined;
}
