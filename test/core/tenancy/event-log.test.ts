// The event log's pure parts: which log shard an event goes to, what it counts, and paging the merged log.
import { describe, expect, it } from 'vitest';
import {
  countsOfEvent,
  formatCursor,
  logShardOf,
  mergePages,
  minuteOf,
  parseCursor,
  shardBound,
  shardsToRead,
  splitCounts,
  type StoredEvent,
} from '../../../core/tenancy/event-log.js';

const event = (at: number, shard: number, seq: number): StoredEvent => ({ at, shard, seq, kind: 'connect', message: 'm' });

describe('log shards', () => {
  it('every event of one client id goes to one shard; without a client id, by token; else shard 0', () => {
    const shard = logShardOf({ clientId: 'd42' }, 8);
    expect(logShardOf({ clientId: 'd42', tokenId: 'other' }, 8)).toBe(shard);
    expect(shardsToRead({ clientId: 'd42' }, 8)).toEqual([shard]);
    expect(shardsToRead({ tokenId: 't' }, 8)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(logShardOf({ tokenId: 'tok' }, 8)).toBe(logShardOf({ clientId: 'tok' }, 8));
    expect(logShardOf({}, 8)).toBe(0);
    const used = new Set(Array.from({ length: 200 }, (_, i) => logShardOf({ clientId: `device-${i}` }, 8)));
    expect(used.size).toBe(8);
  });

  it('minutes are whole minutes since the epoch', () => {
    expect(minuteOf(0)).toBe(0);
    expect(minuteOf(59_999)).toBe(0);
    expect(minuteOf(60_000)).toBe(1);
  });
});

describe('counts', () => {
  it('an event counts for the tenant and its token; a limit hit also by name, times its count', () => {
    expect(countsOfEvent({ at: 0, kind: 'connect', tokenId: 't1', message: '' })).toEqual({ connects: 1, 'connects@t1': 1 });
    expect(countsOfEvent({ at: 0, kind: 'limit', limit: 'publish_rate', count: 3, tokenId: 't1', message: '' })).toEqual({
      limit_hits: 3,
      'limit_hits@t1': 3,
      'limit:publish_rate': 3,
      'limit:publish_rate@t1': 3,
    });
    expect(countsOfEvent({ at: 0, kind: 'auth_failure', message: '' })).toEqual({ auth_failures: 1 });
  });

  it('merged counts split into the tenant and each token', () => {
    expect(splitCounts({ connects: 2, 'connects@a': 1, 'connects@b': 1, 'limit:sessions': 1 })).toEqual({
      tenant: { connects: 2, 'limit:sessions': 1 },
      tokens: { a: { connects: 1 }, b: { connects: 1 } },
    });
  });
});

describe('paging the merged log, newest first', () => {
  it('cursors round-trip; anything else is refused', () => {
    expect(parseCursor(formatCursor({ at: 1764460800123, shard: 3, seq: 17 }))).toEqual({ at: 1764460800123, shard: 3, seq: 17 });
    for (const bad of ['', 'x', '1.2', '1.2.3.4', '-1.0.0', '1.2.a']) expect(parseCursor(bad)).toBeUndefined();
  });

  it('pages of several shards merge by time, then shard, then sequence; next continues after the last', () => {
    const merged = mergePages(
      [
        { events: [event(30, 0, 5), event(10, 0, 4)], more: false },
        { events: [event(30, 1, 9), event(20, 1, 8)], more: true },
      ],
      3,
    );
    expect(merged.events.map((e) => `${e.at}.${e.shard}.${e.seq}`)).toEqual(['30.1.9', '30.0.5', '20.1.8']);
    expect(merged.next).toBe('20.1.8');
    expect(mergePages([{ events: [event(1, 0, 1)], more: false }], 5).next).toBeNull();
  });

  it('each shard continues strictly after the cursor: no event twice, none skipped', () => {
    const cursor = { at: 20, shard: 1, seq: 8 };
    expect(shardBound(cursor, 0)).toEqual({ beforeAt: 20, beforeSeq: Number.MAX_SAFE_INTEGER });
    expect(shardBound(cursor, 1)).toEqual({ beforeAt: 20, beforeSeq: 8 });
    expect(shardBound(cursor, 2)).toEqual({ beforeAt: 20, beforeSeq: 0 });
    // Simulated: three shards, all events at a handful of times, paged 2 at a time.
    const shards = [0, 1, 2].map((shard) => Array.from({ length: 5 }, (_, i) => event(10 * Math.floor(i / 2), shard, i + 1)).reverse());
    const seen: string[] = [];
    let next: string | null = '';
    while (next !== null) {
      const cursor = next === '' ? undefined : parseCursor(next)!;
      const pages = shards.map((events, shard) => {
        const bound = cursor ? shardBound(cursor, shard) : { beforeAt: Infinity, beforeSeq: Infinity };
        const left = events.filter((e) => e.at < bound.beforeAt || (e.at === bound.beforeAt && e.seq < bound.beforeSeq));
        return { events: left.slice(0, 2), more: left.length > 2 };
      });
      const page = mergePages(pages, 2);
      seen.push(...page.events.map((e) => `${e.at}.${e.shard}.${e.seq}`));
      next = page.next;
    }
    expect(seen).toHaveLength(15);
    expect(new Set(seen).size).toBe(15);
  });
});
