// Merging the shards' pages of GET /retained: never past the horizon, bounded by count and bytes, code point order.
import { describe, expect, it } from 'vitest';
import { compareTopics, mergeRetainedPages, parsePageLimit, type RetainedPage } from '../../../worker/api/retained-page.js';

type Message = { topic: string; payload: Uint8Array };
const message = (topic: string, bytes = 1): Message => ({ topic, payload: new Uint8Array(bytes) });
const page = (topics: string[], next: string | null, bytes = 1): RetainedPage<Message> => ({ messages: topics.map((t) => message(t, bytes)), next });
const topicsOf = (merged: RetainedPage<Message>) => ({ topics: merged.messages.map((m) => m.topic), next: merged.next });

describe('mergeRetainedPages', () => {
  it('stops at the horizon: the smallest topic a shard that has more stopped at', () => {
    const pages = [page(['a', 'c', 'e'], 'e'), page(['b', 'f', 'g'], null)];
    expect(topicsOf(mergeRetainedPages(pages, 4, 1000))).toEqual({ topics: ['a', 'b', 'c', 'e'], next: 'e' });
    expect(topicsOf(mergeRetainedPages(pages, 3, 1000))).toEqual({ topics: ['a', 'b', 'c'], next: 'c' });
  });

  it('ends with next null only when every shard is done and everything fit', () => {
    expect(topicsOf(mergeRetainedPages([page(['b'], null), page(['a', 'c'], null)], 3, 1000))).toEqual({ topics: ['a', 'b', 'c'], next: null });
    expect(topicsOf(mergeRetainedPages([page([], null), page([], null)], 3, 1000))).toEqual({ topics: [], next: null });
  });

  it('a shard that scanned its row budget without a match still holds the page back', () => {
    expect(topicsOf(mergeRetainedPages([page([], 'm'), page(['a', 'z'], null)], 10, 1000))).toEqual({ topics: ['a'], next: 'm' });
  });

  it('ends a page past the byte budget, but always with at least one message', () => {
    expect(topicsOf(mergeRetainedPages([page(['a', 'b', 'c'], null, 40)], 10, 100))).toEqual({ topics: ['a', 'b'], next: 'b' });
    expect(topicsOf(mergeRetainedPages([page(['a', 'b'], null, 500)], 10, 100))).toEqual({ topics: ['a'], next: 'a' });
  });

  it('following next through every page returns each message once, in order', () => {
    // Shards as sorted lists; each answers at most `limit` after the cursor, like TopicShardDO.listRetained.
    const shards = [['a/1', 'a/4', 'b', 'c/9'], ['a/2', 'a/3', 'z'], ['a/5', 'c/1', 'c/2', 'd', 'e', 'f']];
    const shardPage = (topics: string[], after: string, limit: number): RetainedPage<Message> => {
      const rest = topics.filter((t) => compareTopics(t, after) > 0);
      return rest.length > limit ? page(rest.slice(0, limit), rest[limit - 1]!) : page(rest, null);
    };
    for (const limit of [1, 2, 3, 5, 100]) {
      const seen: string[] = [];
      let after = '';
      for (let round = 0; round < 100; round++) {
        const merged = mergeRetainedPages(shards.map((topics) => shardPage(topics, after, limit)), limit, 1000);
        seen.push(...merged.messages.map((m) => m.topic));
        if (merged.next === null) break;
        after = merged.next;
      }
      expect(seen, `limit ${limit}`).toEqual(shards.flat().sort(compareTopics));
    }
  });
});

describe('compareTopics', () => {
  it('orders by code point, as SQLite orders UTF-8 text (not by UTF-16 unit)', () => {
    const topics = ['\u{1F600}', '\uFFFD', 'a', '\u00e9', 'a/b', '\uE000'];
    expect([...topics].sort(compareTopics)).toEqual(['a', 'a/b', '\u00e9', '\uE000', '\uFFFD', '\u{1F600}']);
    const utf8 = (s: string) => Buffer.from(s, 'utf8');
    expect([...topics].sort(compareTopics)).toEqual([...topics].sort((x, y) => Buffer.compare(utf8(x), utf8(y))));
  });
});

describe('parsePageLimit', () => {
  it.each([
    [undefined, 100],
    ['1', 1],
    ['1000', 1000],
    ['0', undefined],
    ['1001', undefined],
    ['-1', undefined],
    ['1.5', undefined],
    ['ten', undefined],
    ['', undefined],
  ])('%j → %j', (raw, limit) => {
    expect(parsePageLimit(raw)).toBe(limit);
  });
});
