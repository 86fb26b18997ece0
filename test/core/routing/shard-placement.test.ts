// A shard's placement: what it owns, when it may split, where its split stands, and its publish rate.
import { describe, expect, it } from 'vitest';
import { topicHash } from '../../../core/routing/shard.js';
import { MAX_DEPTH, splitChild, topicMovesInSplit } from '../../../core/routing/shard-layout.js';
import {
  beginSplit,
  hasSplitWork,
  initialPlacement,
  ownsHash,
  PublishRate,
  retainedCopyBatch,
  splitProgress,
  type Placement,
} from '../../../core/routing/shard-placement.js';

const named = (index: number, depth: number, more: Partial<Placement> = {}): Placement => ({ self: { tenant: 't', index }, depth, register: [], ...more });

describe('shard placement', () => {
  it('starts at the base depth, or 0 when the shard count is not a power of two', () => {
    expect(initialPlacement(4)).toEqual({ depth: 2, register: [] });
    expect(initialPlacement(3)).toEqual({ depth: 0, register: [] });
  });

  it('owns every hash until named, and every hash on a fixed layout; otherwise h mod 2^depth = index', () => {
    expect(ownsHash(initialPlacement(4), 4, 6)).toBe(true);
    expect(ownsHash(named(1, 0), 3, 6)).toBe(true);
    expect(ownsHash(named(1, 2), 4, 5)).toBe(true);
    expect(ownsHash(named(1, 2), 4, 6)).toBe(false);
    expect(ownsHash(named(1, 3), 4, 5)).toBe(false); // after its split, 5 mod 8 = 5 is the child's
  });

  it('has split work while a split, a cleanup or a registration is left', () => {
    expect(hasSplitWork(named(1, 2))).toBe(false);
    expect(hasSplitWork(named(1, 2, { cleanup: { phase: 'retained', after: [] } }))).toBe(true);
    expect(hasSplitWork(named(1, 2, { register: [5] }))).toBe(true);
    expect(hasSplitWork(named(1, 2, { split: { child: 5, phase: 'begin', after: [], startedAt: 0 } }))).toBe(true);
  });

  it('begins a split only when named, idle, on a power-of-two layout and below MAX_DEPTH', () => {
    expect(beginSplit(named(1, 2), 4, 7)).toEqual({ child: splitChild(1, 2), phase: 'begin', after: [], startedAt: 7 });
    expect(beginSplit(initialPlacement(4), 4, 7)).toBeUndefined();
    expect(beginSplit(named(1, 2, { register: [5] }), 4, 7)).toBeUndefined();
    expect(beginSplit(named(1, 0), 3, 7)).toBeUndefined();
    expect(beginSplit(named(1, MAX_DEPTH), 4, 7)).toBeUndefined();
  });

  it('reports copying, cleaning or idle, with the child and the figures of the last split', () => {
    const copying = named(1, 2, { split: { child: 5, phase: 'retained', after: ['a'], startedAt: 0 } });
    expect(splitProgress(copying, { rowsCopied: 3 })).toEqual({ index: 1, depth: 2, state: 'copying', child: 5, rowsCopied: 3 });
    expect(splitProgress(named(1, 3, { register: [5] }), { rowsCopied: 3, copyMs: 9 })).toEqual({ index: 1, depth: 3, state: 'cleaning', rowsCopied: 3, copyMs: 9 });
    expect(splitProgress(initialPlacement(4), { rowsCopied: 0 })).toEqual({ index: null, depth: 2, state: 'idle', rowsCopied: 0 });
  });
});

describe('retainedCopyBatch', () => {
  // Region 1 at depth 2 splitting into child 5: topics whose hash mod 8 is 5 move.
  const topics = Array.from({ length: 200 }, (_, i) => `r/${i}`).filter((topic) => topicHash(topic) % 4 === 1);
  const moving = topics.filter((topic) => topicMovesInSplit(topic, 2, 5));
  const staying = topics.filter((topic) => !topicMovesInSplit(topic, 2, 5));

  it('takes the moving rows in order and names the last row examined', () => {
    const rows = topics.map((topic) => ({ topic, size: 10 }));
    expect(retainedCopyBatch(rows, 2, 5, 1_000_000)).toEqual({ taken: moving, examined: topics[topics.length - 1], cut: false });
  });

  it('stops before the row that would pass the byte cap, and always takes the first one', () => {
    const rows = [staying[0]!, moving[0]!, moving[1]!].map((topic) => ({ topic, size: 100 }));
    expect(retainedCopyBatch(rows, 2, 5, 150)).toEqual({ taken: [moving[0]], examined: moving[0], cut: true });
    expect(retainedCopyBatch([{ topic: moving[0]!, size: 500 }], 2, 5, 150)).toEqual({ taken: [moving[0]], examined: moving[0], cut: false });
  });
});

describe('PublishRate', () => {
  it('answers a rate in messages per second only at the end of each window, then counts afresh', () => {
    const rate = new PublishRate(0, 10_000);
    expect(rate.note(400, 5_000)).toBeUndefined();
    expect(rate.note(600, 10_000)).toBe(100);
    expect(rate.note(50, 15_000)).toBeUndefined();
    expect(rate.note(0, 20_000)).toBe(5);
  });
});
