// retainedLookup: the index range a filter's retained lookup reads holds every topic the filter matches.
import { describe, expect, it } from 'vitest';
import { retainedLookup, type RetainedLookup } from '../../../core/routing/retained-range.js';
import { topicMatchesFilter } from '../../../core/topic/match.js';
import { mulberry32, randomFilter, randomTopic } from '../topic/random.js';

/** SQLite's BINARY collation compares TEXT as UTF-8 bytes. */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Would `WHERE …` for this lookup select `topic`? */
function selects(lookup: RetainedLookup, topic: string): boolean {
  switch (lookup.kind) {
    case 'exact':
      return topic === lookup.topic;
    case 'range':
      return (compareUtf8(topic, lookup.from) >= 0 && compareUtf8(topic, lookup.to) < 0) || topic === lookup.parent;
    case 'all':
      return true;
  }
}

describe('retainedLookup', () => {
  it('an exact filter is one key', () => {
    expect(retainedLookup('sport/tennis')).toEqual({ kind: 'exact', topic: 'sport/tennis' });
  });

  it("a '+' after a literal prefix reads the prefix's range", () => {
    expect(retainedLookup('sport/+/player1')).toEqual({ kind: 'range', from: 'sport/', to: 'sport0' });
  });

  it("[MQTT-4.7.1-2] a '#' after a literal prefix reads its range and the parent level", () => {
    expect(retainedLookup('sport/#')).toEqual({ kind: 'range', from: 'sport/', to: 'sport0', parent: 'sport' });
    expect(retainedLookup('a/b/#')).toEqual({ kind: 'range', from: 'a/b/', to: 'a/b0', parent: 'a/b' });
  });

  it('a filter starting with a wildcard reads everything', () => {
    expect(retainedLookup('#')).toEqual({ kind: 'all' });
    expect(retainedLookup('+/tennis')).toEqual({ kind: 'all' });
  });

  it('a shared filter is looked up by its inner filter', () => {
    expect(retainedLookup('$share/g/sport/+')).toEqual({ kind: 'range', from: 'sport/', to: 'sport0' });
  });

  it('neighbours outside the prefix are not read', () => {
    const lookup = retainedLookup('sport/#');
    expect(['sport', 'sport/', 'sport/x/y'].every((t) => selects(lookup, t))).toBe(true);
    expect(['sports', 'sport0', 'spor', 'sport-x', 'sporu/x'].some((t) => selects(lookup, t))).toBe(false);
  });

  it('non-ASCII prefixes compare as UTF-8 bytes, as SQLite does', () => {
    const lookup = retainedLookup('ü/😀/+');
    expect(selects(lookup, 'ü/😀/x')).toBe(true);
    expect(selects(lookup, 'ü/😀x')).toBe(false);
    expect(selects(lookup, 'ü/😁/x')).toBe(false);
  });

  it('every topic a filter matches lies in its lookup (random filters and topics)', () => {
    const rand = mulberry32(20240605);
    let matched = 0;
    for (let i = 0; i < 20_000; i++) {
      const filter = randomFilter(rand);
      const topic = randomTopic(rand);
      if (!topicMatchesFilter(filter, topic)) continue;
      matched++;
      expect(selects(retainedLookup(filter), topic), `${filter} ${topic}`).toBe(true);
    }
    expect(matched).toBeGreaterThan(1000);
  });
});
