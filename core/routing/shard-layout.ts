// A tenant's topic shards as an extendible hash table: shards split one at a time and keep their names.
//
//   base: SHARD_COUNT = 4 shards at depth 2        shard j at depth d owns the topics whose hash h has
//   0:2  1:2  2:2  3:2                             h mod 2^d = j
//   shard 1 splits (depth 2 → 3): child 1 + 4 = 5
//   0:2  1:3  2:2  3:2  5:3                        1 keeps h mod 8 = 1, 5 takes h mod 8 = 5
//   shard 5 splits (3 → 4): child 5 + 8 = 13, then shard 1 splits (3 → 4): child 9
//   0:2  1:4  2:2  3:2  5:4  9:4  13:4
//
// With h mod 4 = 1 ("region" 1) a topic belongs to one of 1, 5, 9, 13: the h mod 4 of today's shardOf is the
// region, so the base layout keeps every existing row where it is. A shard's children follow from its depth
// alone (splitting j at depth t creates j + 2^t), so a router learns the layout from the depths shards answer
// with, and a stale layout only ever names an ancestor of the owner, which answers "moved".
import { hasWildcard, parseSharedSubscription } from '../topic/validate.js';
import { topicHash } from './shard.js';

/** The deepest a shard may split to: 2^20 shards per region is far past any tenant (and keeps 2^d exact). */
export const MAX_DEPTH = 20;

/** h mod 2^depth for an unsigned 32-bit h (`%` on numbers: `&` would turn 2^31 negative). */
function low(hash: number, depth: number): number {
  return hash % 2 ** depth;
}

/** The base depth log2(shardCount), or undefined when shardCount is not a power of two (no splits then). */
export function baseDepth(shardCount: number): number | undefined {
  if (!Number.isInteger(shardCount) || shardCount < 1) throw new RangeError(`shard count must be a positive integer, got ${shardCount}`);
  const depth = Math.log2(shardCount);
  return Number.isInteger(depth) ? depth : undefined;
}

/** The depth shard `index` had when it was created: the base depth, or one past its highest bit. */
export function creationDepth(index: number, base: number): number {
  return index < 2 ** base ? base : Math.floor(Math.log2(index)) + 1;
}

/** The hash a filter is placed by (its inner filter's for `$share/{group}/{f}`); undefined for a wildcard. */
export function filterHash(filter: string): number | undefined {
  const inner = parseSharedSubscription(filter)?.filter ?? filter;
  return hasWildcard(inner) ? undefined : topicHash(inner);
}

/** True when shard `index` at `depth` owns the topic of hash `hash`. */
export function owns(index: number, depth: number, hash: number): boolean {
  return low(hash, depth) === index;
}

/** Splitting shard `index` at `depth`: the child it creates. Both are at depth + 1 afterwards. */
export function splitChild(index: number, depth: number): number {
  return index + 2 ** depth;
}

/**
 * Whether a subscription change concerns the child when `index` splits at `depth`: an exact filter when its
 * hash falls in the child's half, a wildcard always (every shard holds every wildcard filter; the parent
 * forwards a wildcard change made during its copy to the child's memory).
 */
export function movesInSplit(filter: string, depth: number, child: number): boolean {
  const hash = filterHash(filter);
  return hash === undefined || low(hash, depth + 1) === child;
}

/** Whether a retained topic goes to the child when its shard splits at `depth`. */
export function topicMovesInSplit(topic: string, depth: number, child: number): boolean {
  return low(topicHash(topic), depth + 1) === child;
}

/**
 * Which shards exist and how deep each is, as one router knows it: never ahead of the truth (depths only
 * grow and are learned from the shards' own answers), so the owner it names is the true owner or one of its
 * ancestors. Shards it has not heard of are at their creation depth.
 */
export class ShardLayout {
  /** undefined: SHARD_COUNT is not a power of two, the layout is fixed at h mod SHARD_COUNT. */
  readonly base: number | undefined;
  private readonly depths = new Map<number, number>();

  constructor(readonly shardCount: number) {
    this.base = baseDepth(shardCount);
    for (let i = 0; i < shardCount; i++) this.depths.set(i, this.base ?? 0);
  }

  /** The known depth of a shard; undefined for one this layout does not know exists. */
  depthOf(index: number): number | undefined {
    return this.depths.get(index);
  }

  /** The base shard a topic of this hash starts from (today's shardOf): its region. */
  regionOf(hash: number): number {
    return hash % this.shardCount;
  }

  /** The shard owning a topic of this hash, as far as this layout knows. */
  ownerOf(hash: number): number {
    let index = this.regionOf(hash);
    if (this.base === undefined) return index;
    for (;;) {
      const depth = this.depths.get(index)!;
      const mine = low(hash, depth);
      if (mine === index) return index;
      // The lowest bit past the region where the hash differs from `index` names the child that took it.
      const bit = lowestSetBit(mine ^ index);
      index = low(hash, bit + 1);
    }
  }

  /**
   * Takes in a shard's answered depth: the shard and every child its depth implies (j at depth d was split
   * at each t in [creation, d) and created j + 2^t, itself at depth t + 1 or deeper). True when it changed.
   */
  learn(index: number, depth: number): boolean {
    if (this.base === undefined || !Number.isInteger(index) || index < 0 || !Number.isInteger(depth) || depth > MAX_DEPTH) return false;
    const created = creationDepth(index, this.base);
    const known = this.depths.get(index);
    if (depth < created || (known !== undefined && depth <= known)) return false;
    // A shard heard of by name (enumeration) before any of its ancestors' answers: its parent split into it.
    if (known === undefined && index >= this.shardCount) this.learn(index - 2 ** (created - 1), created);
    this.depths.set(index, depth);
    for (let t = known ?? created; t < depth; t++) {
      const child = splitChild(index, t);
      if (!this.depths.has(child)) this.depths.set(child, t + 1);
    }
    return true;
  }

  /** Takes in a shard heard of by name (shard 0's list): it exists, at its creation depth or deeper. */
  noteShard(index: number): void {
    if (this.base !== undefined && !this.depths.has(index) && index < 2 ** MAX_DEPTH) this.learn(index, creationDepth(index, this.base));
  }

  /** Every shard this layout knows, ascending. */
  indexes(): number[] {
    return [...this.depths.keys()].sort((a, b) => a - b);
  }

  /** The known shards of one region (every shard whose index is `region` mod SHARD_COUNT), ascending. */
  inRegion(region: number): number[] {
    return this.indexes().filter((index) => index % this.shardCount === region);
  }
}

function lowestSetBit(value: number): number {
  // value < 2^MAX_DEPTH, so 32-bit operators are exact here.
  return 31 - Math.clz32(value & -value);
}

/**
 * When a shard should split: past `subscriptions` exact subscriptions (every shard holds every wildcard, so
 * splitting does not reduce them), or a publish rate past `rate` messages/s over a window.
 */
export interface SplitThresholds {
  subscriptions: number;
  rate: number;
}

export const DEFAULT_SPLIT_THRESHOLDS: SplitThresholds = { subscriptions: 50_000, rate: 500 };

export function shouldSplit(load: { exactSubscriptions: number; messagesPerSecond: number }, thresholds: SplitThresholds): boolean {
  return load.exactSubscriptions > thresholds.subscriptions || load.messagesPerSecond > thresholds.rate;
}
