import { describe, expect, it } from 'vitest';
import { HOT_HOLD_MS, HotTopicMeter, HotTopics, combinerSlot } from '../../../core/routing/hot-topics.js';

describe('hot topics', () => {
  const from = (origin: string, ...topics: string[]) => topics.map((topic) => ({ topic, origin }));

  it('a topic becomes hot once its messages in one second reach the rate, and stays hot for HOT_HOLD_MS', () => {
    const meter = new HotTopicMeter(3, 2);
    expect(meter.note(from('p1', 't', 't'), 0)).toEqual([]);
    expect(meter.note([...from('p2', 't'), ...from('p1', 'u')], 100)).toEqual(['t']);
    // A new window: still hot (hysteresis), though quiet.
    expect(meter.note(from('p1', 't'), 5_000)).toEqual(['t']);
    expect(meter.note(from('p1', 't'), HOT_HOLD_MS + 200)).toEqual([]);
  });

  it('counts each window afresh: a slow topic never turns hot', () => {
    const meter = new HotTopicMeter(3, 1);
    for (let second = 0; second < 10; second++) expect(meter.note(from('p', 'slow', 'slow'), second * 1000)).toEqual([]);
  });

  it('one publisher, however fast, does not make a topic hot: its own session batches it already', () => {
    const meter = new HotTopicMeter(3, 2);
    expect(meter.note(from('p1', 't', 't', 't', 't', 't'), 0)).toEqual([]);
    expect(meter.note(from('p2', 't'), 10)).toEqual(['t']);
  });

  it('the router side remembers marks until they lapse and keeps at most its maximum', () => {
    const hot = new HotTopics(2);
    hot.mark(['a', 'b'], 0);
    expect(hot.isHot('a', 1)).toBe(true);
    hot.mark(['c'], 1);
    expect(hot.isHot('a', 2)).toBe(false); // the oldest mark went first
    expect(hot.isHot('c', HOT_HOLD_MS)).toBe(true);
    expect(hot.isHot('c', HOT_HOLD_MS + 1)).toBe(false);
  });

  it('a publisher always goes through the same combiner; publishers spread over all of them', () => {
    expect(combinerSlot('acme\u0000dev-1', 16)).toBe(combinerSlot('acme\u0000dev-1', 16));
    const used = new Set(Array.from({ length: 1000 }, (_, i) => combinerSlot(`acme\u0000dev-${i}`, 16)));
    expect(used.size).toBe(16);
  });
});
