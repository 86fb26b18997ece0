// Which TopicShardDO owns a topic, and which shards hold a filter (DESIGN.md section 2).
//
// A topic lives in shard hash(topic) mod N, with its exact subscriptions and its retained message. A wildcard
// filter must see every topic, so all N shards match it (in memory; its rows live once, in its wildcard home:
// wildcard-homes.ts): publishing touches one shard, subscribing to a wildcard touches N. The hash is persisted in effect (subscriptions and retained messages sit in the
// shard it chose), so it must never change for a deployed tenant: the tests pin its values. A tenant's shards
// can grow past N by splitting (extendible hashing on the same hash): see shard-layout.ts.
import { hasWildcard, parseSharedSubscription } from '../topic/validate.js';

/**
 * FNV-1a (32-bit) over UTF-16 code units, then the murmur3 finalizer. Without the finalizer the low bits of
 * FNV-1a depend only on the low bits of each input unit (multiplication carries upward only), so with
 * N = 8 the topics 'device/1' and 'device/9' ('1' = 0x31, '9' = 0x39) would always share a shard.
 */
export function topicHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function checkShardCount(shardCount: number): void {
  if (!Number.isInteger(shardCount) || shardCount < 1 || shardCount > 0xffffffff) {
    throw new RangeError(`shard count must be a positive integer, got ${shardCount}`);
  }
}

/** The shard, in [0, shardCount), that owns the topic name `topic`. Stable across releases and platforms. */
export function shardOf(topic: string, shardCount: number): number {
  checkShardCount(shardCount);
  return topicHash(topic) % shardCount;
}

/**
 * The shards a subscription to `filter` must be stored in: for an exact filter the one shard of the topic it
 * equals, for a wildcard filter every shard. A shared subscription `$share/{group}/{f}` goes where `f` goes.
 */
export function shardsForFilter(filter: string, shardCount: number): number[] {
  checkShardCount(shardCount);
  const inner = parseSharedSubscription(filter)?.filter ?? filter;
  if (hasWildcard(inner)) return Array.from({ length: shardCount }, (_, i) => i);
  return [topicHash(inner) % shardCount];
}
