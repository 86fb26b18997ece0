// The extendible-hash layout of a tenant's shards: owners, splits, and what a router learns from answers.
import { describe, expect, it } from 'vitest';
import { shardOf, topicHash } from '../../../core/routing/shard.js';
import {
  baseDepth,
  creationDepth,
  filterHash,
  movesInSplit,
  owns,
  ShardLayout,
  shouldSplit,
  splitChild,
  topicMovesInSplit,
} from '../../../core/routing/shard-layout.js';

const topics = Array.from({ length: 2_000 }, (_, i) => `device/${i}/state`);

/** The true layout after some splits, as the shards themselves hold it: index → depth. */
function splitAll(shardCount: number, splits: number[]): Map<number, number> {
  const truth = new Map<number, number>();
  const base = baseDepth(shardCount)!;
  for (let i = 0; i < shardCount; i++) truth.set(i, base);
  for (const index of splits) {
    const depth = truth.get(index)!;
    truth.set(index, depth + 1);
    truth.set(splitChild(index, depth), depth + 1);
  }
  return truth;
}

function trueOwner(truth: Map<number, number>, hash: number): number {
  const owners = [...truth].filter(([index, depth]) => owns(index, depth, hash));
  expect(owners).toHaveLength(1);
  return owners[0]![0];
}

describe('ShardLayout', () => {
  it('is today\'s shardOf before any split: every existing row stays where it is', () => {
    const layout = new ShardLayout(4);
    for (const topic of topics) expect(layout.ownerOf(topicHash(topic))).toBe(shardOf(topic, 4));
    expect(layout.indexes()).toEqual([0, 1, 2, 3]);
  });

  it('splitting j at depth d creates j + 2^d; both at d + 1 split j\'s topics between them', () => {
    const truth = splitAll(4, [1]);
    expect([...truth.keys()].sort()).toEqual([0, 1, 2, 3, 5]);
    for (const topic of topics) {
      const hash = topicHash(topic);
      const owner = trueOwner(truth, hash);
      if (hash % 4 === 1) expect(owner).toBe(hash % 8 === 1 ? 1 : 5);
      else expect(owner).toBe(hash % 4);
    }
  });

  it('learns the whole layout from the depths of the shards it asks, and then names the true owner', () => {
    const truth = splitAll(4, [1, 5, 1, 9, 0, 13, 2]);
    const layout = new ShardLayout(4);
    for (const topic of topics) {
      const hash = topicHash(topic);
      // What a router does: ask the owner it believes in, learn the answered depth, until it owns the topic.
      for (let hops = 0; ; hops++) {
        expect(hops).toBeLessThan(8);
        const asked = layout.ownerOf(hash);
        const depth = truth.get(asked)!;
        expect(depth).toBeDefined(); // a stale layout only ever names a shard that exists
        layout.learn(asked, depth);
        if (owns(asked, depth, hash)) break;
      }
      expect(layout.ownerOf(hash)).toBe(trueOwner(truth, hash));
    }
    expect(layout.indexes()).toEqual([...truth.keys()].sort((a, b) => a - b));
    for (const [index, depth] of truth) expect(layout.depthOf(index)).toBe(depth);
  });

  it('a depth implies the siblings created by each split it took part in', () => {
    const layout = new ShardLayout(4);
    expect(layout.learn(1, 4)).toBe(true);
    expect(layout.indexes()).toEqual([0, 1, 2, 3, 5, 9]);
    expect(layout.depthOf(5)).toBe(3);
    expect(layout.depthOf(9)).toBe(4);
    expect(layout.learn(1, 3)).toBe(false); // depths never go back
    expect(layout.inRegion(1)).toEqual([1, 5, 9]);
  });

  it('a shard heard of by name brings its ancestors\' splits with it', () => {
    const layout = new ShardLayout(4);
    layout.noteShard(13); // 13 = 5 + 8, and 5 = 1 + 4
    expect(layout.depthOf(13)).toBe(4);
    expect(layout.depthOf(5)).toBe(4);
    expect(layout.depthOf(1)).toBe(3);
    expect(layout.inRegion(1)).toEqual([1, 5, 13]);
  });

  it('every topic has exactly one owner in any layout reached by splits', () => {
    const truth = splitAll(2, [0, 1, 2, 0, 4, 3]);
    const layout = new ShardLayout(2);
    for (const [index, depth] of truth) layout.learn(index, depth);
    for (const topic of topics) expect(layout.ownerOf(topicHash(topic))).toBe(trueOwner(truth, topicHash(topic)));
  });

  it('stays fixed at h mod N when N is not a power of two', () => {
    const layout = new ShardLayout(3);
    expect(layout.learn(1, 5)).toBe(false);
    for (const topic of topics.slice(0, 100)) expect(layout.ownerOf(topicHash(topic))).toBe(shardOf(topic, 3));
  });
});

describe('split arithmetic', () => {
  it('base depth is log2 of the shard count; creation depth follows the index', () => {
    expect([1, 2, 4, 8].map(baseDepth)).toEqual([0, 1, 2, 3]);
    expect(baseDepth(6)).toBeUndefined();
    expect([0, 3, 4, 5, 9, 13, 16].map((index) => creationDepth(index, 2))).toEqual([2, 2, 3, 3, 4, 4, 5]);
  });

  it('an exact row moves with its topic\'s half, a wildcard row goes to both', () => {
    const child = splitChild(1, 2);
    for (const topic of topics) {
      const hash = topicHash(topic);
      if (hash % 4 !== 1) continue;
      expect(topicMovesInSplit(topic, 2, child)).toBe(hash % 8 === 5);
      expect(movesInSplit(topic, 2, child)).toBe(hash % 8 === 5);
      expect(movesInSplit(`$share/g/${topic}`, 2, child)).toBe(hash % 8 === 5);
    }
    expect(movesInSplit('device/+/state', 2, child)).toBe(true);
    expect(movesInSplit('$share/g/#', 2, child)).toBe(true);
    expect(filterHash('a/#')).toBeUndefined();
    expect(filterHash('$share/g/a/b')).toBe(topicHash('a/b'));
  });

  it('splits on exact subscriptions or publish rate past the thresholds', () => {
    const thresholds = { subscriptions: 10, rate: 5 };
    expect(shouldSplit({ exactSubscriptions: 10, messagesPerSecond: 5 }, thresholds)).toBe(false);
    expect(shouldSplit({ exactSubscriptions: 11, messagesPerSecond: 0 }, thresholds)).toBe(true);
    expect(shouldSplit({ exactSubscriptions: 0, messagesPerSecond: 5.1 }, thresholds)).toBe(true);
  });
});

describe('retained share at a depth', () => {
  it('a shard at depth d holds ceil(limit / 2^d): the base share (SHARD_COUNT) halves with each split', async () => {
    const { shardRetainedLimits } = await import('../../../core/routing/retained.js');
    const defaults = { maxRetained: 10_000, maxRetainedBytes: 64 };
    expect(shardRetainedLimits({}, defaults, 4)).toEqual({ count: 2_500, bytes: 16 });
    expect(shardRetainedLimits({}, defaults, 4, 8)).toEqual({ count: 1_250, bytes: 8 });
    // A tenant's maxRetained of 10 arrives as its base share ceil(10 / 4) = 3: at depth 3, ceil(10 / 8) = 2.
    expect(shardRetainedLimits({ retainedLimit: 3 }, defaults, 4, 8).count).toBe(2);
    expect(shardRetainedLimits({ retainedLimit: 3 }, defaults, 4, 16).count).toBe(1);
  });
});
