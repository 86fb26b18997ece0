// decideRetained, selectRetained, sendsRetainedOnSubscribe: the shard's retained-message policy.
import { describe, expect, it } from 'vitest';
import {
  decideRetained,
  selectRetained,
  sendsRetainedOnSubscribe,
  type RetainedHoldings,
  type StoredRetained,
} from '../../../core/routing/retained.js';
import { retainedLookup } from '../../../core/routing/retained-range.js';
import { topicMatchesFilter } from '../../../core/topic/match.js';
import { mulberry32, pick, randomFilter, randomTopic } from '../topic/random.js';

const on = new Uint8Array([0x6f, 0x6e]);
const empty = new Uint8Array(0);

/** A store that answers `exists` and `held` and records which of them were asked (each is a billed read). */
function holdings(exists: boolean, held: number): RetainedHoldings & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    exists: () => (asked.push('exists'), exists),
    held: () => (asked.push('held'), held),
  };
}

describe('decideRetained', () => {
  it('[MQTT-3.3.1-10] an empty payload deletes the topic, without reading the store', () => {
    const store = holdings(true, 5);
    expect(decideRetained({ payload: empty }, store)).toBe('delete');
    expect(decideRetained({ payload: empty, retainedLimit: 1 }, store)).toBe('delete');
    expect(store.asked).toEqual([]);
  });

  it('[MQTT-3.3.1-10] an empty payload deletes even for a new topic past the limit', () => {
    expect(decideRetained({ payload: empty, retainedLimit: 0 }, holdings(false, 3))).toBe('delete');
  });

  it('[MQTT-3.3.1-5] without a limit the message is stored (replacing any previous one), without reading the store', () => {
    const store = holdings(true, 1_000_000);
    expect(decideRetained({ payload: on }, store)).toBe('store');
    expect(store.asked).toEqual([]);
  });

  it('[MQTT-3.3.1-5] replacing a topic is allowed at or past the limit, and the count is not read', () => {
    for (const held of [2, 3]) {
      const store = holdings(true, held);
      expect(decideRetained({ payload: on, retainedLimit: 2 }, store)).toBe('store');
      expect(store.asked).toEqual(['exists']);
    }
  });

  it('a new topic under the limit is stored', () => {
    const store = holdings(false, 1);
    expect(decideRetained({ payload: on, retainedLimit: 2 }, store)).toBe('store');
    expect(store.asked).toEqual(['exists', 'held']);
  });

  it('a new topic at or past the limit is refused', () => {
    expect(decideRetained({ payload: on, retainedLimit: 2 }, holdings(false, 2))).toBe('refuse');
    expect(decideRetained({ payload: on, retainedLimit: 2 }, holdings(false, 7))).toBe('refuse');
  });

  it('[MQTT-3.3.1-5] a limit of 0 refuses every new topic; an existing one can still be replaced', () => {
    expect(decideRetained({ payload: on, retainedLimit: 0 }, holdings(false, 0))).toBe('refuse');
    expect(decideRetained({ payload: on, retainedLimit: 0 }, holdings(true, 1))).toBe('store');
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
