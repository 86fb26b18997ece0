// Topic name and topic filter validation, one table per spec statement.
import { describe, expect, it } from 'vitest';
import {
  hasWildcard,
  isValidTopicFilter,
  isValidTopicName,
  MAX_TOPIC_BYTES,
  parseSharedSubscription,
} from '../../../core/topic/index.js';

const CLEF = '\u{1d11e}'; // 𝄞: a surrogate pair, 4 UTF-8 bytes
const EURO = '\u20ac'; // €: 3 UTF-8 bytes

describe('isValidTopicName', () => {
  it.each([
    'a',
    '/',
    '//',
    'sport',
    'sport/',
    '/finance',
    'sport/tennis/player1',
    'sport/tennis/player1/ranking',
    '$SYS/broker/clients',
    '$share/g/a', // only a filter is read as a shared subscription; as a name it is an ordinary topic
    ' ',
    'a b/c d',
    `ü/${EURO}/${CLEF}`,
    'x'.repeat(MAX_TOPIC_BYTES),
  ])('accepts %j', (topic) => {
    expect(isValidTopicName(topic)).toBe(true);
  });

  it('[MQTT-4.7.3-1] a topic name is at least one character long', () => {
    expect(isValidTopicName('')).toBe(false);
  });

  it.each(['+', '#', 'a/+', 'a/#', 'sport+', 'sport/tennis#', '+/a', 'a/+/b', '#/a', 'a#b'])(
    '[MQTT-3.3.2-2] a topic name has no wildcard: rejects %j',
    (topic) => {
      expect(isValidTopicName(topic)).toBe(false);
    },
  );

  it.each(['\u0000', 'a\u0000', '\u0000/b', 'a/b\u0000c'])(
    '[MQTT-4.7.3-2] a topic name has no U+0000: rejects %j',
    (topic) => {
      expect(isValidTopicName(topic)).toBe(false);
    },
  );

  it.each([
    ['65535 ASCII', 'x'.repeat(65535), true],
    ['65536 ASCII', 'x'.repeat(65536), false],
    ['21845 x 3-byte', EURO.repeat(21845), true],
    ['21846 x 3-byte', EURO.repeat(21846), false],
    ['16383 x 4-byte + 3 ASCII', CLEF.repeat(16383) + 'abc', true],
    ['16384 x 4-byte', CLEF.repeat(16384), false],
    ['32767 x 2-byte + 1 ASCII', '\u00fc'.repeat(32767) + 'a', true],
    ['32768 x 2-byte', '\u00fc'.repeat(32768), false],
  ] as const)('[MQTT-4.7.3-3] at most 65535 UTF-8 bytes: %s', (_, topic, valid) => {
    expect(isValidTopicName(topic)).toBe(valid);
    expect(isValidTopicFilter(topic)).toBe(valid);
  });

  it.each(['\ud800', 'a\ud800', '\ud800a', '\udc00', 'a/\udc00\ud800', `${CLEF}\udfff`])(
    '[MQTT-1.5.3-1] no lone surrogate (it has no UTF-8 encoding): rejects %j',
    (topic) => {
      expect(isValidTopicName(topic)).toBe(false);
      expect(isValidTopicFilter(topic)).toBe(false);
    },
  );
});

describe('isValidTopicFilter', () => {
  it.each([
    '#',
    '+',
    '+/+',
    '/+',
    '+/',
    '/#',
    '/',
    '//',
    'sport',
    'sport/#',
    'sport/tennis/#',
    'sport/tennis/player1',
    'sport/+',
    'sport/+/player1',
    '+/tennis/#',
    '+/+/+/#',
    'sport//#',
    '$SYS/#',
    '$SYS/+/clients',
    '$share', // no '/' after it: an ordinary filter
    '$sharex/a/b',
    `${EURO}/+/${CLEF}`,
  ])('accepts %j', (filter) => {
    expect(isValidTopicFilter(filter)).toBe(true);
  });

  it('[MQTT-4.7.3-1] a topic filter is at least one character long', () => {
    expect(isValidTopicFilter('')).toBe(false);
  });

  it.each(['sport/tennis#', 'sport/tennis/#/ranking', '#/a', '#/', '##', 'a#', '#a', '/#/', 'a/#/#', '+/#/+'])(
    '[MQTT-4.7.1-2] # must be the last character, alone in its level: rejects %j',
    (filter) => {
      expect(isValidTopicFilter(filter)).toBe(false);
    },
  );

  it.each(['sport+', 'sport/+x', '+x', 'x+/a', 'a/++', '++', 'a/b+/c', '+#', '#+'])(
    '[MQTT-4.7.1-3] + must occupy an entire level: rejects %j',
    (filter) => {
      expect(isValidTopicFilter(filter)).toBe(false);
    },
  );

  it.each(['\u0000', 'a/\u0000', '+/\u0000/#', 'a\u0000#'])(
    '[MQTT-4.7.3-2] a topic filter has no U+0000: rejects %j',
    (filter) => {
      expect(isValidTopicFilter(filter)).toBe(false);
    },
  );

  describe('shared subscriptions', () => {
    it.each([
      ['$share/g/#', 'g', '#'],
      ['$share/g/a/b', 'g', 'a/b'],
      ['$share/group-1/+/x/#', 'group-1', '+/x/#'],
      ['$share/g/$SYS/#', 'g', '$SYS/#'],
      ['$share/g//', 'g', '/'],
      [`$share/${EURO}/a`, EURO, 'a'],
    ])('[MQTT-4.8.2-1 v5] accepts %j: group %j, filter %j', (filter, group, inner) => {
      expect(isValidTopicFilter(filter)).toBe(true);
      expect(parseSharedSubscription(filter)).toEqual({ group, filter: inner });
    });

    it.each(['$share/', '$share//a', '$share//#'])(
      '[MQTT-4.8.2-1 v5] the share name is at least one character long: rejects %j',
      (filter) => {
        expect(isValidTopicFilter(filter)).toBe(false);
      },
    );

    it.each(['$share/g', '$share/#', '$share/+', '$share/g/', '$share/+/a', '$share/#/a', '$share/g+/a', '$share/g#/a'])(
      '[MQTT-4.8.2-2 v5] the share name has no / + #, and is followed by / and a filter: rejects %j',
      (filter) => {
        expect(isValidTopicFilter(filter)).toBe(false);
      },
    );

    it.each(['$share/g/a/#/b', '$share/g/a+', '$share/g/\u0000', '$share/g/sport/tennis#'])(
      'the filter after the share name must itself be valid: rejects %j',
      (filter) => {
        expect(isValidTopicFilter(filter)).toBe(false);
      },
    );

    it('[MQTT-4.7.3-3] the length limit counts the whole $share/... string', () => {
      const prefix = '$share/g/';
      expect(isValidTopicFilter(prefix + 'x'.repeat(MAX_TOPIC_BYTES - prefix.length))).toBe(true);
      expect(isValidTopicFilter(prefix + 'x'.repeat(MAX_TOPIC_BYTES - prefix.length + 1))).toBe(false);
    });

    it.each(['a/b', '#', '$share', '$sharex/g/a', '$SHARE/g/a', '$share/g'])(
      'parseSharedSubscription(%j) is undefined',
      (filter) => {
        expect(parseSharedSubscription(filter)).toBeUndefined();
      },
    );
  });
});

describe('hasWildcard', () => {
  it.each([
    ['#', true],
    ['+', true],
    ['a/+/b', true],
    ['a/#', true],
    ['$share/g/a/+', true],
    ['a/b', false],
    ['/', false],
    ['$SYS/broker', false],
    ['$share/g/a/b', false],
  ] as const)('%j -> %s', (filter, expected) => {
    expect(hasWildcard(filter)).toBe(expected);
  });
});
