// SubscriptionTrie: add / replace / remove / prune, shared subscriptions, and agreement with topicMatchesFilter.
import { describe, expect, it } from 'vitest';
import { SubscriptionTrie, topicMatchesFilter } from '../../../core/topic/index.js';
import type { TrieEntry } from '../../../core/topic/index.js';
import { mulberry32, pick, randomFilter, randomTopic } from './random.js';

/** Order-independent form of a match result. */
function sorted<V>(entries: Iterable<TrieEntry<V>>): string[] {
  return [...entries].map((e) => `${e.filter} ${e.key} ${String(e.value)}`).sort();
}

function matchKeys<V>(trie: SubscriptionTrie<V>, topic: string): string[] {
  return trie
    .match(topic)
    .map((e) => `${e.filter} ${e.key}`)
    .sort();
}

describe('SubscriptionTrie', () => {
  it('[MQTT-3.8.4-3] a re-subscribe replaces the value and keeps one entry', () => {
    const trie = new SubscriptionTrie<number>();
    expect(trie.add('sport/tennis/+', 'c1', 0)).toBe(true);
    expect(trie.add('sport/tennis/+', 'c1', 2)).toBe(false);
    expect(trie.size).toBe(1);
    expect(trie.match('sport/tennis/player1')).toEqual([{ filter: 'sport/tennis/+', key: 'c1', value: 2 }]);
  });

  it('keeps one entry per (filter, key)', () => {
    const trie = new SubscriptionTrie<number>();
    expect(trie.add('a/b', 'c1', 1)).toBe(true);
    expect(trie.add('a/b', 'c2', 1)).toBe(true);
    expect(trie.add('a/+', 'c1', 1)).toBe(true);
    expect(trie.size).toBe(3);
    expect(matchKeys(trie, 'a/b')).toEqual(['a/+ c1', 'a/b c1', 'a/b c2']);
  });

  it('get answers the value a key holds for a filter, shared filters apart from their inner filter', () => {
    const trie = new SubscriptionTrie<number>();
    trie.add('a/+', 'c1', 1);
    trie.add('$share/g/a/+', 'c1', 2);
    expect(trie.get('a/+', 'c1')).toBe(1);
    expect(trie.get('$share/g/a/+', 'c1')).toBe(2);
    expect(trie.get('$share/h/a/+', 'c1')).toBeUndefined();
    expect(trie.get('a/+', 'c2')).toBeUndefined();
    expect(trie.get('a/#', 'c1')).toBeUndefined();
    expect(trie.get('a', 'c1')).toBeUndefined();
  });

  it('remove returns whether the pair existed, and other pairs stay', () => {
    const trie = new SubscriptionTrie<number>();
    trie.add('a/b', 'c1', 1);
    trie.add('a/b', 'c2', 1);
    expect(trie.remove('a/b', 'c3')).toBe(false);
    expect(trie.remove('a/c', 'c1')).toBe(false);
    expect(trie.remove('a/+', 'c1')).toBe(false);
    expect(trie.remove('a/b/#', 'c1')).toBe(false);
    expect(trie.remove('a/b', 'c1')).toBe(true);
    expect(trie.remove('a/b', 'c1')).toBe(false);
    expect(trie.size).toBe(1);
    expect(matchKeys(trie, 'a/b')).toEqual(['a/b c2']);
  });

  it('prunes nodes left empty, and only those', () => {
    const trie = new SubscriptionTrie<number>();
    trie.add('a/b/c', 'c1', 0); // root, a, b, c
    trie.add('a/+/#', 'c1', 0); // + and # under a
    trie.add('a', 'c2', 0);
    expect(trie.nodeCount).toBe(6);
    trie.remove('a/b/c', 'c1'); // b and c go; a still has a subscription and a + child
    expect(trie.nodeCount).toBe(4);
    trie.remove('a/+/#', 'c1');
    expect(trie.nodeCount).toBe(2);
    trie.remove('a', 'c2');
    expect(trie.nodeCount).toBe(1);
    expect(trie.size).toBe(0);
    expect([...trie.entries()]).toEqual([]);
  });

  it('prunes back to the root after a random add/remove history (seeded)', () => {
    const rand = mulberry32(7);
    const trie = new SubscriptionTrie<number>();
    const added: Array<[string, string]> = [];
    for (let i = 0; i < 2_000; i++) {
      const filter = randomFilter(rand);
      const key = `c${Math.floor(rand() * 20)}`;
      trie.add(filter, key, i);
      added.push([filter, key]);
    }
    for (const [filter, key] of added) trie.remove(filter, key);
    expect(trie.size).toBe(0);
    expect(trie.nodeCount).toBe(1);
  });

  it('[MQTT-4.7.1-2] # matches the parent level and every level below', () => {
    const trie = new SubscriptionTrie<string>();
    trie.add('sport/tennis/#', 'c1', 'x');
    trie.add('#', 'c2', 'x');
    expect(matchKeys(trie, 'sport/tennis')).toEqual(['# c2', 'sport/tennis/# c1']);
    expect(matchKeys(trie, 'sport/tennis/player1/ranking')).toEqual(['# c2', 'sport/tennis/# c1']);
    expect(matchKeys(trie, 'sport')).toEqual(['# c2']);
  });

  it('[MQTT-4.7.1-3] + matches exactly one level, empty included', () => {
    const trie = new SubscriptionTrie<string>();
    trie.add('+', 'c1', 'x');
    trie.add('+/+', 'c2', 'x');
    trie.add('/+', 'c3', 'x');
    expect(matchKeys(trie, '/finance')).toEqual(['+/+ c2', '/+ c3']);
    expect(matchKeys(trie, 'finance')).toEqual(['+ c1']);
  });

  it('[MQTT-4.7.2-1] wildcard first levels do not match $ topics', () => {
    const trie = new SubscriptionTrie<string>();
    trie.add('#', 'c1', 'x');
    trie.add('+/monitor/Clients', 'c2', 'x');
    trie.add('$SYS/#', 'c3', 'x');
    trie.add('$SYS/monitor/+', 'c4', 'x');
    expect(matchKeys(trie, '$SYS/monitor/Clients')).toEqual(['$SYS/# c3', '$SYS/monitor/+ c4']);
    expect(matchKeys(trie, 'x/monitor/Clients')).toEqual(['# c1', '+/monitor/Clients c2']);
  });

  it('[MQTT-4.8.2-1 v5] shared subscriptions match through their inner filter and report the full filter', () => {
    const trie = new SubscriptionTrie<number>();
    expect(trie.add('$share/g1/sensors/+', 'c1', 1)).toBe(true);
    expect(trie.add('$share/g1/sensors/+', 'c2', 1)).toBe(true);
    expect(trie.add('$share/g2/sensors/+', 'c1', 1)).toBe(true);
    expect(trie.add('sensors/+', 'c1', 1)).toBe(true);
    expect(trie.add('$share/g1/sensors/+', 'c1', 2)).toBe(false);
    expect(trie.size).toBe(4);
    expect(sorted(trie.match('sensors/t1'))).toEqual([
      '$share/g1/sensors/+ c1 2',
      '$share/g1/sensors/+ c2 1',
      '$share/g2/sensors/+ c1 1',
      'sensors/+ c1 1',
    ]);
    expect(trie.match('$share/g1/sensors/t1')).toEqual([]);
    expect(trie.remove('sensors/+', 'c1')).toBe(true);
    expect(trie.remove('$share/g1/sensors/+', 'c1')).toBe(true);
    expect(trie.remove('$share/g1/sensors/+', 'c1')).toBe(false);
    expect(matchKeys(trie, 'sensors/t1')).toEqual(['$share/g1/sensors/+ c2', '$share/g2/sensors/+ c1']);
    trie.remove('$share/g1/sensors/+', 'c2');
    trie.remove('$share/g2/sensors/+', 'c1');
    expect(trie.nodeCount).toBe(1);
  });

  it('[MQTT-4.7.2-1] a shared # does not match $ topics either', () => {
    const trie = new SubscriptionTrie<number>();
    trie.add('$share/g/#', 'c1', 0);
    expect(trie.match('$SYS/x')).toEqual([]);
    expect(matchKeys(trie, 'x')).toEqual(['$share/g/# c1']);
  });

  it.each(['', 'a/#/b', 'a+', '$share//a', '$share/g', 'a\u0000'])('add rejects the invalid filter %j', (filter) => {
    const trie = new SubscriptionTrie<number>();
    expect(() => trie.add(filter, 'c1', 0)).toThrow(RangeError);
    expect(trie.size).toBe(0);
    expect(trie.nodeCount).toBe(1);
  });

  it('removeAllFor removes every filter of one key, shared ones included', () => {
    const trie = new SubscriptionTrie<number>();
    for (const filter of ['a', 'a/b', 'a/+', '#', '$share/g/a']) {
      trie.add(filter, 'c1', 0);
      trie.add(filter, 'c2', 0);
    }
    expect(trie.removeAllFor('c1')).toBe(5);
    expect(trie.removeAllFor('c1')).toBe(0);
    expect(trie.size).toBe(5);
    expect([...trie.entries()].every((e) => e.key === 'c2')).toBe(true);
  });

  it('entries lists every (filter, key, value) once', () => {
    const trie = new SubscriptionTrie<number>();
    trie.add('a/b', 'c1', 1);
    trie.add('a/+', 'c1', 2);
    trie.add('#', 'c2', 3);
    trie.add('$share/g/a/b', 'c3', 4);
    trie.add('a/b', 'c1', 5);
    expect(sorted(trie.entries())).toEqual(['# c2 3', '$share/g/a/b c3 4', 'a/+ c1 2', 'a/b c1 5']);
  });

  it('agrees with topicMatchesFilter on a random corpus under adds, replaces and removes (seeded)', () => {
    const rand = mulberry32(0xc0ffee);
    const trie = new SubscriptionTrie<number>();
    const model = new Map<string, { filter: string; key: string; value: number }>(); // `${filter} ${key}` -> entry
    const keys = ['c0', 'c1', 'c2', 'c3', 'c4'];
    for (let step = 0; step < 10_000; step++) {
      const r = rand();
      const shared = rand() < 0.1;
      const inner = randomFilter(rand);
      const filter = shared ? `$share/${pick(rand, ['g', 'h'])}/${inner}` : inner;
      const key = pick(rand, keys);
      const id = `${filter} ${key}`;
      if (r < 0.6) {
        expect(trie.add(filter, key, step)).toBe(!model.has(id));
        model.set(id, { filter, key, value: step });
      } else {
        expect(trie.remove(filter, key)).toBe(model.delete(id));
      }
      expect(trie.size).toBe(model.size);
      if (step % 10 === 0) {
        const topic = randomTopic(rand);
        const expected = [...model.values()].filter((e) =>
          topicMatchesFilter(e.filter.startsWith('$share/') ? e.filter.split('/').slice(2).join('/') : e.filter, topic),
        );
        expect(sorted(trie.match(topic)), topic).toEqual(sorted(expected));
      }
    }
    expect(sorted(trie.entries())).toEqual(sorted(model.values()));
  });

  it('scales: 100,000 exact and 1,000 wildcard subscriptions, matching in O(levels)', () => {
    const trie = new SubscriptionTrie<number>();
    for (let i = 0; i < 100_000; i++) trie.add(`tenant/device/${i}/telemetry`, `c${i}`, 0);
    for (let i = 0; i < 1_000; i++) {
      trie.add(i % 2 === 0 ? `tenant/device/${i}/#` : `tenant/+/${i}/telemetry`, `w${i}`, 1);
    }
    expect(trie.size).toBe(101_000);

    expect(matchKeys(trie, 'tenant/device/42/telemetry')).toEqual([
      'tenant/device/42/# w42',
      'tenant/device/42/telemetry c42',
    ]);
    expect(matchKeys(trie, 'tenant/device/43/telemetry')).toEqual([
      'tenant/+/43/telemetry w43',
      'tenant/device/43/telemetry c43',
    ]);
    expect(trie.match('tenant/device/100000/telemetry')).toEqual([]);

    // 20,000 matches against 101,000 subscriptions: about 2e9 filter comparisons if matching scanned them,
    // a few milliseconds through the trie. The bound is generous so a slow machine does not fail it.
    const started = performance.now();
    let found = 0;
    for (let i = 0; i < 20_000; i++) found += trie.match(`tenant/device/${i}/telemetry`).length;
    const elapsed = performance.now() - started;
    expect(found).toBe(20_000 + 1_000); // each has its exact subscriber; the first 1,000 one wildcard too
    expect(elapsed).toBeLessThan(2_000);
  });
});
