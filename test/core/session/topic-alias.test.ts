// Topic Aliases: resolving the client's inbound aliases, and assigning ours for what we send it.
import { describe, expect, it } from 'vitest';
import type { PublishPacket } from '../../../core/codec/packets.js';
import { ReasonCode } from '../../../core/reason-codes.js';
import { OutboundTopicAliases, resolveInboundTopic } from '../../../core/session/topic-alias.js';

const MAXIMUM = 10;

function publish(topic: string, topicAlias?: number): PublishPacket {
  return {
    type: 'publish',
    topic,
    payload: new Uint8Array([1]),
    qos: 0,
    retain: false,
    dup: false,
    ...(topicAlias === undefined ? {} : { properties: { topicAlias } }),
  };
}

describe('resolveInboundTopic', () => {
  it('(5.0 §3.3.2.3.4) a PUBLISH without an alias keeps its topic and defines nothing', () => {
    expect(resolveInboundTopic(publish('a/b'), new Map([[1, 'x/y']]), MAXIMUM)).toEqual({ ok: true, topic: 'a/b' });
  });

  it('(5.0 §3.3.2.1) a zero-length topic without an alias is a Protocol Error (0x82)', () => {
    const result = resolveInboundTopic(publish(''), new Map(), MAXIMUM);
    expect(result).toMatchObject({ ok: false, reasonCode: ReasonCode.ProtocolError });
    expect(ReasonCode.ProtocolError).toBe(0x82);
  });

  it('[MQTT-3.3.2-8 v5] topic alias 0 is Topic Alias invalid (0x94)', () => {
    for (const topic of ['a/b', '']) {
      expect(resolveInboundTopic(publish(topic, 0), new Map([[0, 'a/b']]), MAXIMUM)).toMatchObject({ ok: false, reasonCode: 0x94 });
    }
  });

  it.each([
    [MAXIMUM + 1, MAXIMUM],
    [65535, MAXIMUM],
    [1, 0],
  ])('[MQTT-3.3.2-9 v5] alias %i above the announced maximum %i is Topic Alias invalid (0x94)', (alias, maximum) => {
    const known = new Map([[alias, 'a/b']]);
    expect(resolveInboundTopic(publish('a/b', alias), known, maximum)).toMatchObject({ ok: false, reasonCode: ReasonCode.TopicAliasInvalid });
    expect(resolveInboundTopic(publish('', alias), known, maximum)).toMatchObject({ ok: false, reasonCode: ReasonCode.TopicAliasInvalid });
  });

  it.each([1, MAXIMUM])('(5.0 §3.3.2.3.4) a topic with alias %i defines the alias and is published to that topic', (alias) => {
    expect(resolveInboundTopic(publish('a/b', alias), new Map(), MAXIMUM)).toEqual({ ok: true, topic: 'a/b', define: { alias, topic: 'a/b' } });
  });

  it('(5.0 §3.3.2.3.4) a topic with a known alias redefines it to the new topic', () => {
    expect(resolveInboundTopic(publish('c/d', 3), new Map([[3, 'a/b']]), MAXIMUM)).toEqual({ ok: true, topic: 'c/d', define: { alias: 3, topic: 'c/d' } });
  });

  it('(5.0 §3.3.2.3.4) a zero-length topic with a known alias resolves to the aliased topic and defines nothing', () => {
    const aliases = new Map([
      [3, 'a/b'],
      [4, 'c/d'],
    ]);
    expect(resolveInboundTopic(publish('', 3), aliases, MAXIMUM)).toEqual({ ok: true, topic: 'a/b' });
    expect(resolveInboundTopic(publish('', 4), aliases, MAXIMUM)).toEqual({ ok: true, topic: 'c/d' });
  });

  it('(5.0 §3.3.2.3.4) a zero-length topic with an alias the client never defined is a Protocol Error (0x82)', () => {
    expect(resolveInboundTopic(publish('', 5), new Map([[3, 'a/b']]), MAXIMUM)).toMatchObject({ ok: false, reasonCode: ReasonCode.ProtocolError });
  });
});

describe('OutboundTopicAliases', () => {
  it('(5.0 §3.3.2.3.4) looking up a new topic offers alias 1 with the full topic, and defines nothing', () => {
    const aliases = new OutboundTopicAliases(MAXIMUM);
    expect(aliases.aliasFor('a/b')).toEqual({ alias: 1, sendTopic: true });
    // Not defined yet: a second look-up still wants the topic sent, under the same alias.
    expect(aliases.aliasFor('a/b')).toEqual({ alias: 1, sendTopic: true });
    expect(aliases.aliasFor('c/d')).toEqual({ alias: 1, sendTopic: true });
  });

  it('(5.0 §3.3.2.3.4) once defined, the topic is sent as its alias alone', () => {
    const aliases = new OutboundTopicAliases(MAXIMUM);
    aliases.define('a/b', 1);
    expect(aliases.aliasFor('a/b')).toEqual({ alias: 1, sendTopic: false });
    expect(aliases.aliasFor('c/d')).toEqual({ alias: 2, sendTopic: true });
    aliases.define('c/d', 2);
    expect(aliases.aliasFor('c/d')).toEqual({ alias: 2, sendTopic: false });
    expect(aliases.aliasFor('a/b')).toEqual({ alias: 1, sendTopic: false });
  });

  it('(5.0 §3.3.2.3.4) defining a topic twice keeps its first alias', () => {
    const aliases = new OutboundTopicAliases(MAXIMUM);
    aliases.define('a/b', 1);
    aliases.define('a/b', 2);
    expect(aliases.aliasFor('a/b')).toEqual({ alias: 1, sendTopic: false });
  });

  it('[MQTT-3.3.2-11 v5] never assigns more aliases than the client\'s maximum, nor one above it', () => {
    const maximum = 3;
    const aliases = new OutboundTopicAliases(maximum);
    const assigned: number[] = [];
    for (let i = 0; i < 10; i++) {
      const topic = `t/${i}`;
      const alias = aliases.aliasFor(topic);
      if (alias === undefined) continue;
      expect(alias.sendTopic).toBe(true);
      aliases.define(topic, alias.alias);
      assigned.push(alias.alias);
    }
    expect(assigned).toEqual([1, 2, 3]);
    expect(aliases.aliasFor('t/9')).toBeUndefined();
    // The first topics keep theirs.
    expect(aliases.aliasFor('t/0')).toEqual({ alias: 1, sendTopic: false });
    expect(aliases.aliasFor('t/2')).toEqual({ alias: 3, sendTopic: false });
  });

  it('[MQTT-3.3.2-11 v5] a client maximum of 0 gets no aliases at all', () => {
    const aliases = new OutboundTopicAliases(0);
    expect(aliases.aliasFor('a/b')).toBeUndefined();
    expect(aliases.aliasFor('')).toBeUndefined();
  });
});
