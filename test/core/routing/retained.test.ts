// decideRetained, shardRetainedLimits, selectRetained, sendsRetainedOnSubscribe: the shard's retained-message policy.
import { describe, expect, it } from 'vitest';
import {
  decideRetained,
  selectRetained,
  sendsRetainedOnSubscribe,
  shardRetainedLimits,
  type RetainedHoldings,
  type StoredRetained,
} from '../../../core/routing/retained.js';
import { retainedLookup } from '../../../core/routing/retained-range.js';
import { topicMatchesFilter } from '../../../core/topic/match.js';
import { mulberry32, pick, randomFilter, randomTopic } from '../topic/random.js';

const on = new Uint8Array([0x6f, 0x6e]);
const empty = new Uint8Array(0);

/**
 * A store holding `held` topics and `bytes` payload bytes, where the message's topic has a message of
 * `existing` bytes (undefined: none); records which questions were asked (each is a read).
 */
function holdings(existing: number | undefined, held: number, bytes = 0): RetainedHoldings & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    existing: () => (asked.push('existing'), existing),
    held: () => (asked.push('held'), { count: held, bytes }),
  };
}

const message = (payload: Uint8Array, topic = 't') => ({ topic, payload });
const bytes = (n: number) => new Uint8Array(n);

describe('decideRetained', () => {
  it('[MQTT-3.3.1-10] an empty payload deletes the topic, without reading the store', () => {
    const store = holdings(2, 5);
    expect(decideRetained(message(empty), {}, store)).toBe('delete');
    expect(decideRetained(message(empty), { count: 1, bytes: 1 }, store)).toBe('delete');
    expect(store.asked).toEqual([]);
  });

  it('[MQTT-3.3.1-10] an empty payload deletes even for a new topic past the limit', () => {
    expect(decideRetained(message(empty), { count: 0 }, holdings(undefined, 3))).toBe('delete');
  });

  it('[MQTT-3.3.1-5] without a limit the message is stored (replacing any previous one), without reading the store', () => {
    const store = holdings(2, 1_000_000);
    expect(decideRetained(message(on), {}, store)).toBe('store');
    expect(store.asked).toEqual([]);
  });

  it('[MQTT-3.3.1-5] replacing a topic is allowed at or past the topic limit, and the count is not read', () => {
    for (const held of [2, 3]) {
      const store = holdings(2, held);
      expect(decideRetained(message(on), { count: 2 }, store)).toBe('store');
      expect(store.asked).toEqual(['existing']);
    }
  });

  it('a new topic under the topic limit is stored', () => {
    const store = holdings(undefined, 1);
    expect(decideRetained(message(on), { count: 2 }, store)).toBe('store');
    expect(store.asked).toEqual(['existing', 'held']);
  });

  it('a new topic at or past the topic limit is refused', () => {
    expect(decideRetained(message(on), { count: 2 }, holdings(undefined, 2))).toBe('refuse');
    expect(decideRetained(message(on), { count: 2 }, holdings(undefined, 7))).toBe('refuse');
  });

  it('[MQTT-3.3.1-5] a topic limit of 0 refuses every new topic; an existing one can still be replaced', () => {
    expect(decideRetained(message(on), { count: 0 }, holdings(undefined, 0))).toBe('refuse');
    expect(decideRetained(message(on), { count: 0 }, holdings(2, 1))).toBe('store');
  });

  it('a new topic whose payload would take the shard past its byte limit is refused; up to it, stored', () => {
    expect(decideRetained(message(bytes(4)), { bytes: 10 }, holdings(undefined, 2, 7))).toBe('refuse');
    expect(decideRetained(message(bytes(3)), { bytes: 10 }, holdings(undefined, 2, 7))).toBe('store');
  });

  it('a replacement that grows past the byte limit is refused and the older message deleted; one that does not grow is stored', () => {
    expect(decideRetained(message(bytes(7)), { bytes: 10 }, holdings(4, 2, 8))).toBe('refuseAndDelete');
    expect(decideRetained(message(bytes(6)), { bytes: 10 }, holdings(4, 2, 8))).toBe('store');
    // Over the limit already (the limit was lowered): a replacement that does not grow is still stored.
    const store = holdings(4, 2, 50);
    expect(decideRetained(message(bytes(4)), { bytes: 10 }, store)).toBe('store');
    expect(store.asked).toEqual(['existing']);
  });

  it('one message larger than the whole byte limit is refused even in an empty shard', () => {
    expect(decideRetained(message(bytes(11)), { count: 5, bytes: 10 }, holdings(undefined, 0, 0))).toBe('refuse');
  });

  it('the broker\'s own $ topics are stored past every limit, without reading the store', () => {
    const store = holdings(undefined, 100, 1000);
    expect(decideRetained(message(bytes(50), '$SYS/broker/uptime'), { count: 1, bytes: 1 }, store)).toBe('store');
    expect(store.asked).toEqual([]);
  });
});

describe('shardRetainedLimits', () => {
  const defaults = { maxRetained: 10_000, maxRetainedBytes: 64 * 1024 * 1024 };

  it('without a tenant limit each shard holds its share of the deployment defaults, rounded up', () => {
    expect(shardRetainedLimits({}, defaults, 3)).toEqual({ count: 3334, bytes: Math.ceil((64 * 1024 * 1024) / 3) });
  });

  it('the tenant\'s topic limit (already a share) replaces the default; the byte default stays', () => {
    expect(shardRetainedLimits({ retainedLimit: 5 }, defaults, 4)).toEqual({ count: 5, bytes: 16 * 1024 * 1024 });
  });
});

/** A stored row: topic, expiry, and an id standing for the caller's other columns. */
type Row = StoredRetained & { id: number };

function rows(...entries: Array<[topic: string, expiresAt?: number]>): Row[] {
  return entries.map(([topic, expiresAt], id) => ({ id, topic, expiresAt }));
}

const topics = (list: readonly Row[]) => list.map((row) => row.topic);

describe('selectRetained', () => {
  it('[MQTT-3.3.2-5 v5] an expired row is not returned but listed for deletion', () => {
    const stored = rows(['a/x', 50], ['a/y'], ['a/z', 101]);
    const { live, expired } = selectRetained('a/+', retainedLookup('a/+'), stored, 100);
    expect(topics(live)).toEqual(['a/y', 'a/z']);
    expect(topics(expired)).toEqual(['a/x']);
  });

  it('[MQTT-3.3.2-5 v5] a row expiring exactly now has expired', () => {
    const { live, expired } = selectRetained('a', retainedLookup('a'), rows(['a', 100]), 100);
    expect(live).toEqual([]);
    expect(topics(expired)).toEqual(['a']);
  });

  it('a row in the index range that the filter does not match is skipped, even when expired', () => {
    const stored = rows(['a/x/y'], ['a/x/z', 1], ['a/w']);
    const { live, expired } = selectRetained('a/+', retainedLookup('a/+'), stored, 100);
    expect(topics(live)).toEqual(['a/w']);
    expect(expired).toEqual([]);
  });

  it("[MQTT-4.7.1-2] 'sport/#' returns the parent level 'sport' too", () => {
    const stored = rows(['sport'], ['sport/tennis'], ['sport/tennis/player1']);
    const { live } = selectRetained('sport/#', retainedLookup('sport/#'), stored, 0);
    expect(topics(live)).toEqual(['sport', 'sport/tennis', 'sport/tennis/player1']);
  });

  it("[MQTT-4.7.2-1] a full scan for '#' or '+/…' does not return '$' topics", () => {
    const stored = rows(['$SYS/broker/uptime'], ['a'], ['$SYS/x']);
    expect(topics(selectRetained('#', retainedLookup('#'), stored, 0).live)).toEqual(['a']);
    expect(topics(selectRetained('+/x', retainedLookup('+/x'), stored, 0).live)).toEqual([]);
    expect(topics(selectRetained('$SYS/#', retainedLookup('$SYS/#'), stored, 0).live)).toEqual(['$SYS/broker/uptime', '$SYS/x']);
  });

  it('an exact lookup takes its row as read: the key equality is the match', () => {
    const { live } = selectRetained('a/b', retainedLookup('a/b'), rows(['a/b']), 0);
    expect(topics(live)).toEqual(['a/b']);
  });

  it("hands back the caller's rows, in order", () => {
    const stored = rows(['a/1'], ['a/2', 5], ['a/3']);
    const { live, expired } = selectRetained('a/#', retainedLookup('a/#'), stored, 10);
    expect(live).toEqual([stored[0], stored[2]]);
    expect(live[0]).toBe(stored[0]);
    expect(expired[0]).toBe(stored[1]);
  });

  it('[MQTT-3.3.2-5 v5] live and expired are exactly the matching rows, split by expiry (random filters and topics)', () => {
    const rand = mulberry32(7_301);
    for (let i = 0; i < 2_000; i++) {
      const filter = randomFilter(rand);
      const stored = Array.from({ length: 8 }, (_, id): Row => {
        const expiresAt = pick(rand, [0, 5, 10, 15]);
        return { id, topic: randomTopic(rand), expiresAt: expiresAt === 0 ? undefined : expiresAt };
      });
      const { live, expired } = selectRetained(filter, { kind: 'all' }, stored, 10);
      const matching = stored.filter((row) => topicMatchesFilter(filter, row.topic));
      expect(live, filter).toEqual(matching.filter((row) => row.expiresAt === undefined || row.expiresAt > 10));
      expect(expired, filter).toEqual(matching.filter((row) => row.expiresAt !== undefined && row.expiresAt <= 10));
    }
  });
});

describe('sendsRetainedOnSubscribe', () => {
  it('[MQTT 5.0 §4.8.2] a shared subscription gets no retained messages', () => {
    expect(sendsRetainedOnSubscribe('$share/g/a/#')).toBe(false);
    expect(sendsRetainedOnSubscribe('$share/g/a')).toBe(false);
  });

  it('an ordinary subscription does, wildcard or not', () => {
    expect(sendsRetainedOnSubscribe('a/#')).toBe(true);
    expect(sendsRetainedOnSubscribe('a/b')).toBe(true);
    expect(sendsRetainedOnSubscribe('$SYS/#')).toBe(true);
  });
});
