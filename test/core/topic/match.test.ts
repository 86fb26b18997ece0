// topicMatchesFilter against the spec's examples and, on a seeded random corpus, a split-based reference.
import { describe, expect, it } from 'vitest';
import { isValidTopicFilter, isValidTopicName, topicMatchesFilter } from '../../../core/topic/index.js';
import { mulberry32, randomFilter, randomTopic } from './random.js';

/** The obvious implementation, to check the allocation-free one against. */
function referenceMatch(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

type Row = readonly [filter: string, topic: string, matches: boolean];

function check(rows: readonly Row[]): void {
  for (const [filter, topic, matches] of rows) {
    expect(isValidTopicFilter(filter), filter).toBe(true);
    expect(isValidTopicName(topic), topic).toBe(true);
    expect(topicMatchesFilter(filter, topic), `${filter} vs ${topic}`).toBe(matches);
    expect(referenceMatch(filter, topic), `reference: ${filter} vs ${topic}`).toBe(matches);
  }
}

describe('topicMatchesFilter', () => {
  it.each([
    ['sport/tennis/player1', 'sport/tennis/player1', true],
    ['sport/tennis/player1', 'sport/tennis/player2', false],
    ['sport/tennis/player1', 'sport/tennis/player', false],
    ['sport/tennis/player', 'sport/tennis/player1', false],
    ['sport/tennis', 'sport/tennis/player1', false],
    ['sport/tennis/player1', 'sport/tennis', false],
    ['sport', 'Sport', false],
    ['sport', 'sport/', false],
    ['sport/', 'sport/', true],
    ['/finance', '/finance', true],
    ['/finance', 'finance', false],
    ['a//b', 'a//b', true],
    ['a//b', 'a/b', false],
    ['$SYS/broker', '$SYS/broker', true],
    ['ü/€', 'ü/€', true],
  ] as const)('literal filter %j vs %j -> %s', (filter, topic, matches) => {
    check([[filter, topic, matches]]);
  });

  it.each([
    ['sport/tennis/player1/#', 'sport/tennis/player1', true],
    ['sport/tennis/player1/#', 'sport/tennis/player1/ranking', true],
    ['sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon', true],
    ['sport/tennis/#', 'sport/tennis', true],
    ['sport/tennis/#', 'sport/tennis/', true],
    ['sport/tennis/#', 'sport/tennisx', false],
    ['sport/tennis/#', 'sport', false],
    ['sport/#', 'sport', true],
    ['sport/#', 'sports', false],
    ['sport/#', 'sport/tennis/player1', true],
    ['#', 'sport', true],
    ['#', 'sport/tennis/player1', true],
    ['#', '/', true],
    ['#', '/finance', true],
    ['/#', '/finance', true],
    ['/#', 'finance', false],
    ['a//#', 'a/', true],
    ['a//#', 'a', false],
    ['+/#', 'sport', true],
    ['+/#', '/', true],
  ] as const)('[MQTT-4.7.1-2] # matches the parent and every level below: %j vs %j -> %s', (filter, topic, matches) => {
    check([[filter, topic, matches]]);
  });

  it.each([
    ['sport/tennis/+', 'sport/tennis/player1', true],
    ['sport/tennis/+', 'sport/tennis/player2', true],
    ['sport/tennis/+', 'sport/tennis/player1/ranking', false],
    ['sport/tennis/+', 'sport/tennis', false],
    ['sport/tennis/+', 'sport/tennis/', true],
    ['sport/+', 'sport', false],
    ['sport/+', 'sport/', true],
    ['+', 'sport', true],
    ['+', '/finance', false],
    ['+', '/', false],
    ['+/+', '/finance', true],
    ['/+', '/finance', true],
    ['+/+', '/', true],
    ['+/tennis/#', 'sport/tennis/player1', true],
    ['+/tennis/#', 'sport/tennis', true],
    ['+/tennis/#', 'sport/golf', false],
    ['sport/+/player1', 'sport/tennis/player1', true],
    ['sport/+/player1', 'sport//player1', true],
    ['sport/+/player1', 'sport/tennis/player2', false],
    ['+/+/+', 'a/b/c', true],
    ['+/+/+', 'a/b', false],
  ] as const)('[MQTT-4.7.1-3] + matches exactly one level: %j vs %j -> %s', (filter, topic, matches) => {
    check([[filter, topic, matches]]);
  });

  it.each([
    ['#', '$SYS/x', false],
    ['#', '$SYS', false],
    ['+/monitor/Clients', '$SYS/monitor/Clients', false],
    ['+/#', '$SYS/x', false],
    ['+', '$SYS', false],
    ['$SYS/#', '$SYS/x', true],
    ['$SYS/#', '$SYS', true],
    ['$SYS/monitor/+', '$SYS/monitor/Clients', true],
    ['$SYS/+/Clients', '$SYS/monitor/Clients', true],
    ['$SYS/#', '$SYSTEM', false],
  ] as const)(
    '[MQTT-4.7.2-1] a wildcard first level does not match a $ topic: %j vs %j -> %s',
    (filter, topic, matches) => {
      check([[filter, topic, matches]]);
    },
  );

  it('[MQTT-4.7.2-1] a $ in a later level is an ordinary character', () => {
    check([
      ['+/$SYS', 'a/$SYS', true],
      ['a/#', 'a/$SYS/x', true],
      ['#', 'a$', true],
    ]);
  });

  it('agrees with the split-based reference on 200,000 random pairs (seeded)', () => {
    const rand = mulberry32(0x5eed);
    let matched = 0;
    for (let i = 0; i < 200_000; i++) {
      const filter = randomFilter(rand);
      const topic = randomTopic(rand);
      const expected = referenceMatch(filter, topic);
      if (topicMatchesFilter(filter, topic) !== expected) {
        expect.fail(`${JSON.stringify(filter)} vs ${JSON.stringify(topic)}: expected ${expected}`);
      }
      if (expected) matched++;
    }
    // The corpus must exercise both outcomes, or the comparison proves little.
    expect(matched).toBeGreaterThan(10_000);
    expect(matched).toBeLessThan(190_000);
  });
});
