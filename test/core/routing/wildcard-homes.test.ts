// Wildcard homes: which home holds a filter, grouping calls by home, and merging a home's rows into a trie.
import { describe, expect, it } from 'vitest';
import type { SubscriptionRow } from '../../../core/routing/shard-protocol.js';
import type { SubscriptionOptions } from '../../../core/routing/subscription.js';
import { byHome, homeOf, mergeWildcards, slices } from '../../../core/routing/wildcard-homes.js';
import { SubscriptionTrie } from '../../../core/topic/trie.js';
import { mulberry32, randomFilter } from '../topic/random.js';

describe('homeOf', () => {
  it('is stable: a filter\'s row sits in the home its hash chose', () => {
    expect(['a/+', 'sport/#', '$share/g/a/+', '+/x'].map((filter) => homeOf(filter, 4))).toEqual([2, 1, 3, 2]);
  });

  it('is in [0, homes), 0 for one home, and spreads filters over the homes', () => {
    const rand = mulberry32(7);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4_000; i++) {
      const filter = `${randomFilter(rand)}/${i}/#`;
      const home = homeOf(filter, 4);
      expect(home >= 0 && home < 4).toBe(true);
      expect(homeOf(filter, 1)).toBe(0);
      counts[home]!++;
    }
    for (const count of counts) expect(count).toBeGreaterThan(800);
  });

  it('refuses a count of homes that is not a positive integer', () => {
    expect(() => homeOf('a/#', 0)).toThrow(RangeError);
    expect(() => homeOf('a/#', 1.5)).toThrow(RangeError);
  });

  it('places a shared filter by its whole text: groups of one filter may live in different homes', () => {
    const homes = new Set(Array.from({ length: 32 }, (_, i) => homeOf(`$share/g${i}/a/#`, 4)));
    expect(homes.size).toBeGreaterThan(1);
  });
});

describe('byHome and slices', () => {
  it('groups items by their filter\'s home, keeping their order', () => {
    const items = ['a/+', 'sport/#', '$share/g/a/+', '+/x', 'b/#'].map((filter, i) => ({ filter, i }));
    const groups = byHome(items, 4);
    expect([...groups.values()].flat().length).toBe(items.length);
    for (const [home, group] of groups) {
      expect(group.every((item) => homeOf(item.filter, 4) === home)).toBe(true);
      expect(group.map((item) => item.i)).toEqual([...group.map((item) => item.i)].sort((a, b) => a - b));
    }
  });

  it('slices in order, the last one shorter', () => {
    expect(slices([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(slices([], 2)).toEqual([]);
  });
});

describe('mergeWildcards', () => {
  const row = (filter: string, session: string, qos: 0 | 1 | 2, extra: Partial<SubscriptionRow> = {}): SubscriptionRow => ({ filter, session, qos, ...extra });

  it('adds the rows a trie does not hold, with their options, and answers how many', () => {
    const trie = new SubscriptionTrie<SubscriptionOptions>();
    expect(mergeWildcards(trie, [row('a/+', 's1', 1, { noLocal: true, subscriptionIdentifier: 7 }), row('$share/g/a/#', 's2', 2)])).toBe(2);
    expect(trie.get('a/+', 's1')).toEqual({ qos: 1, noLocal: true, subscriptionIdentifier: 7 });
    expect(trie.match('a/b').map((entry) => entry.key).sort()).toEqual(['s1', 's2']);
  });

  it('never replaces what the trie holds: a subscribe applied before the load finished wins', () => {
    const trie = new SubscriptionTrie<SubscriptionOptions>();
    trie.add('a/+', 's1', { qos: 2 });
    expect(mergeWildcards(trie, [row('a/+', 's1', 0), row('a/+', 's2', 0)])).toBe(1);
    expect(trie.get('a/+', 's1')).toEqual({ qos: 2 });
    expect(trie.size).toBe(2);
  });

  it('is idempotent: the same page twice adds nothing the second time', () => {
    const trie = new SubscriptionTrie<SubscriptionOptions>();
    const page = [row('a/#', 's1', 0), row('+/b', 's1', 1)];
    expect(mergeWildcards(trie, page)).toBe(2);
    expect(mergeWildcards(trie, page)).toBe(0);
    expect(trie.size).toBe(2);
  });
});
