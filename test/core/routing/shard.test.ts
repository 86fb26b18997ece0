// Shard placement: stable values, an even spread, and filters placed where the topics they match live.
import { describe, expect, it } from 'vitest';
import { shardOf, shardsForFilter } from '../../../core/routing/shard.js';
import { mulberry32, randomTopic } from '../topic/random.js';

// FNV-1a 32 over UTF-16 code units + murmur3 fmix32, mod 8 / 16 / 1000; checked against an independent
// implementation. A change here re-homes every stored subscription and retained message.
const PINNED: Record<string, number[]> = {
  a: [3, 3, 715],
  'sport/tennis/player1': [4, 12, 220],
  '$SYS/broker/clients': [5, 5, 957],
  'device/1': [5, 5, 933],
  'device/9': [1, 9, 537],
  'ü/€/\u{1d11e}': [2, 10, 306],
};

describe('shardOf', () => {
  it('is stable: these values are persisted in effect and must never change', () => {
    const pinned = Object.fromEntries(
      ['a', 'sport/tennis/player1', '$SYS/broker/clients', 'device/1', 'device/9', 'ü/€/\u{1d11e}'].map((t) => [
        t,
        [shardOf(t, 8), shardOf(t, 16), shardOf(t, 1000)],
      ]),
    );
    expect(pinned).toEqual(PINNED);
  });

  it('is in [0, shardCount) and 0 for one shard', () => {
    const rand = mulberry32(1);
    for (let i = 0; i < 1_000; i++) {
      const topic = randomTopic(rand);
      const n = 1 + Math.floor(rand() * 64);
      const shard = shardOf(topic, n);
      expect(Number.isInteger(shard) && shard >= 0 && shard < n).toBe(true);
      expect(shardOf(topic, 1)).toBe(0);
    }
  });

  it.each([
    ['device/{i}/temperature', (i: number) => `device/${i}/temperature`],
    ['sensors/{i}', (i: number) => `sensors/${i}`],
    ['{i}', (i: number) => `${i}`],
    ['t/{hex i}/x', (i: number) => `t/${i.toString(16)}/x`],
  ])('spreads 10,000 topics %s over 8 shards: each gets 8-17%%', (_, topicOf) => {
    const counts = new Array<number>(8).fill(0);
    for (let i = 0; i < 10_000; i++) {
      const shard = shardOf(topicOf(i), 8);
      counts[shard] = (counts[shard] ?? 0) + 1;
    }
    for (const count of counts) {
      expect(count).toBeGreaterThanOrEqual(800);
      expect(count).toBeLessThanOrEqual(1_700);
    }
  });

  it('separates topics that differ only in the high bits of a character', () => {
    // '1' (0x31) and '9' (0x39) agree in their low 3 bits; plain FNV-1a mod 8 would never separate them.
    const differing = Array.from({ length: 100 }, (_, i) => shardOf(`d${i}/1`, 8) !== shardOf(`d${i}/9`, 8));
    expect(differing.filter(Boolean).length).toBeGreaterThan(50);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('rejects shard count %s', (n) => {
    expect(() => shardOf('a', n)).toThrow(RangeError);
    expect(() => shardsForFilter('a', n)).toThrow(RangeError);
  });
});

describe('shardsForFilter', () => {
  it('puts an exact filter in the shard of the topic it equals', () => {
    const rand = mulberry32(2);
    for (let i = 0; i < 1_000; i++) {
      const topic = randomTopic(rand);
      expect(shardsForFilter(topic, 8)).toEqual([shardOf(topic, 8)]);
    }
  });

  it.each(['#', '+', 'sport/#', 'sport/+/player1', '$SYS/#', '$share/g/a/+'])(
    'replicates the wildcard filter %j to every shard',
    (filter) => {
      expect(shardsForFilter(filter, 5)).toEqual([0, 1, 2, 3, 4]);
      expect(shardsForFilter(filter, 1)).toEqual([0]);
    },
  );

  it('[MQTT-4.8.2-1 v5] places a shared subscription by its inner filter', () => {
    expect(shardsForFilter('$share/g/sport/tennis', 8)).toEqual([shardOf('sport/tennis', 8)]);
    expect(shardsForFilter('$share/other/sport/tennis', 8)).toEqual([shardOf('sport/tennis', 8)]);
  });
});
