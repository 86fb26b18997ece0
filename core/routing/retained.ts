// What a shard does with a retained message it is handed, and which stored ones a subscription gets back.
//
// Storing, in a shard whose share of the tenant's retained limit is 2 and which holds topics a and b:
//
//   a  payload ''      delete   an empty payload clears the topic's message               [MQTT-3.3.1-10]
//   a  payload 'on'    store    replaces a's message; replacing is allowed at the limit    [MQTT-3.3.1-5]
//   c  payload 'on'    refuse   a new topic past the limit: not kept (the shard counts it);
//                               the message is still delivered to current subscribers
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
export type RetainedDecision = 'delete' | 'store' | 'refuse';

/**
 * What the decision may ask of the shard's store. Functions, not values: each read is a billed row (the count
 * reads every retained row), so they are asked only when the answer matters: under a limit, `held` for a new
 * topic only.
 */
export interface RetainedHoldings {
  /** True when the message's topic already has a retained message in this shard. */
  exists(): boolean;
  /** How many retained topics this shard holds (expired and `$` ones included). */
  held(): number;
}

/**
 * The retained-message policy for one message with RETAIN 1. It is forwarded to current subscribers
 * whatever the answer [MQTT-3.3.1-12].
 */
export function decideRetained(
  message: Pick<RoutedMessage, 'payload' | 'retainedLimit'>,
  holdings: RetainedHoldings,
): RetainedDecision {
  // [MQTT-3.3.1-10] an empty payload removes the topic's retained message and is not stored itself.
  if (message.payload.length === 0) return 'delete';
  // [MQTT-3.3.1-5] the message replaces the topic's previous one. The tenant's retained limit, this shard's
  // share, caps the number of topics: replacing is always allowed, a new topic past the limit is refused.
  if (message.retainedLimit === undefined || holdings.exists()) return 'store';
  return holdings.held() >= message.retainedLimit ? 'refuse' : 'store';
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
