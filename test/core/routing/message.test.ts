// The application message on its way to a shard: forwardable properties, absolute and remaining expiry,
// session names; and the subscription options a session keeps.
import { describe, expect, it } from 'vitest';
import type { Properties, Will } from '../../../core/codec/packets.js';
import {
  forwardableProperties,
  hasExpired,
  messageExpiresAt,
  remainingExpirySeconds,
  routedMessage,
  sessionName,
} from '../../../core/routing/message.js';
import { TENANT_NAME } from '../../../core/tenancy/token.js';
import { subscriptionOptions, type SubscriptionOptions } from '../../../core/routing/subscription.js';

const NOW = 1_700_000_000_000;

const FORWARDABLE: Properties = {
  payloadFormatIndicator: 1,
  contentType: 'application/json',
  responseTopic: 'replies/c1',
  correlationData: new Uint8Array([0xde, 0xad]),
  userProperties: [
    ['k', 'v1'],
    ['k', 'v2'],
    ['a', 'b'],
  ],
};

/** Properties a PUBLISH or will may carry that are per connection, per subscription or re-computed. */
const NOT_FORWARDED: Properties = {
  topicAlias: 3,
  messageExpiryInterval: 60,
  subscriptionIdentifiers: [7],
  willDelayInterval: 30,
};

function will(properties?: Properties): Will {
  return { topic: 'a/b', payload: new Uint8Array([1, 2, 3]), qos: 1, retain: true, ...(properties ? { properties } : {}) };
}

describe('routedMessage', () => {
  it('(5.0 §3.3.2.3) keeps topic, payload, QoS and RETAIN, and adds nothing for a message without properties', () => {
    const source = will();
    const message = routedMessage(source, undefined, NOW);
    expect(message).toEqual({ topic: 'a/b', payload: new Uint8Array([1, 2, 3]), qos: 1, retain: true });
    expect(Object.keys(message).sort()).toEqual(['payload', 'qos', 'retain', 'topic']);
    expect(message.payload).toBe(source.payload);
  });

  it('[MQTT-3.3.2-4 v5] [MQTT-3.3.2-15 v5] [MQTT-3.3.2-16 v5] [MQTT-3.3.2-17 v5] [MQTT-3.3.2-20 v5] forwards payload format, response topic, correlation data, user properties and content type unchanged', () => {
    const message = routedMessage(will({ ...FORWARDABLE, ...NOT_FORWARDED }), 'origin', NOW);
    expect(message.properties).toEqual(FORWARDABLE);
  });

  it('[MQTT-3.3.2-18 v5] keeps user properties in order, repeated names included', () => {
    const message = routedMessage(will({ userProperties: FORWARDABLE.userProperties! }), undefined, NOW);
    expect(message.properties?.userProperties).toEqual([
      ['k', 'v1'],
      ['k', 'v2'],
      ['a', 'b'],
    ]);
  });

  it('[MQTT-3.3.2-7 v5] (5.0 §3.3.2.3) drops the Topic Alias (per connection) and the Message Expiry Interval (it travels as expiresAt)', () => {
    const message = routedMessage(will({ topicAlias: 3, messageExpiryInterval: 60 }), undefined, NOW);
    expect(message.properties).toBeUndefined();
    expect(message).not.toHaveProperty('properties');
    expect(message.expiresAt).toBe(NOW + 60_000);
  });

  it('[MQTT-3.3.2-5 v5] without a Message Expiry Interval the message never expires (no expiresAt)', () => {
    const message = routedMessage(will({ contentType: 'text/plain' }), undefined, NOW);
    expect(message).not.toHaveProperty('expiresAt');
  });

  it('[MQTT-3.8.3-3 v5] records the publisher\'s session as origin (No Local), and none for a broker-made message', () => {
    const origin = sessionName('acme', 'c1');
    expect(routedMessage(will(), origin, NOW).origin).toBe(origin);
    expect(routedMessage(will(), undefined, NOW)).not.toHaveProperty('origin');
  });
});

describe('forwardableProperties', () => {
  it('(5.0 §3.3.2.3) is undefined when nothing forwardable is left', () => {
    expect(forwardableProperties({})).toBeUndefined();
    expect(forwardableProperties(NOT_FORWARDED)).toBeUndefined();
  });

  it.each(Object.entries(FORWARDABLE))('(5.0 §3.3.2.3) forwards %s on its own', (name, value) => {
    expect(forwardableProperties({ [name]: value, ...NOT_FORWARDED })).toEqual({ [name]: value });
  });

  it('[MQTT-3.3.2-4 v5] forwards a Payload Format Indicator of 0 (a falsy value) too', () => {
    expect(forwardableProperties({ payloadFormatIndicator: 0 })).toEqual({ payloadFormatIndicator: 0 });
  });

  it('[MQTT-3.3.2-20 v5] forwards an empty Content Type too', () => {
    expect(forwardableProperties({ contentType: '' })).toEqual({ contentType: '' });
  });
});

describe('messageExpiresAt', () => {
  it.each([
    [undefined, undefined],
    [0, NOW],
    [1, NOW + 1000],
    [3600, NOW + 3_600_000],
  ])('(5.0 §3.3.2.3.3) a Message Expiry Interval of %s s expires at %s', (interval, at) => {
    expect(messageExpiresAt(NOW, interval)).toBe(at);
  });
});

describe('remainingExpirySeconds', () => {
  it.each([
    [60_000, 0, 60],
    [60_000, 1, 60],
    [60_000, 999, 60],
    [60_000, 1000, 59],
    [60_000, 59_000, 1],
    [60_000, 59_999, 1],
  ])('[MQTT-3.3.2-6 v5] expiring in %i ms, after %i ms waiting, forwards %i s (rounded up, never 0 for a live message)', (lifetime, waited, seconds) => {
    expect(remainingExpirySeconds(NOW + lifetime, NOW + waited)).toBe(seconds);
  });

  it.each([0, 1, 60_000])('[MQTT-3.3.2-6 v5] is undefined once the message has expired (%i ms past)', (late) => {
    expect(remainingExpirySeconds(NOW, NOW + late)).toBeUndefined();
  });
});

describe('hasExpired', () => {
  it.each([
    ['has no expiry', {}, NOW, false],
    ['expires later', { expiresAt: NOW + 1 }, NOW, false],
    ['expires now', { expiresAt: NOW }, NOW, true],
    ['expired earlier', { expiresAt: NOW - 1 }, NOW, true],
    ['has no expiry, far in the future', {}, Number.MAX_SAFE_INTEGER, false],
  ])('[MQTT-3.3.2-5 v5] a message that %s: expired %s', (_case, message, now, expired) => {
    expect(hasExpired(message, now)).toBe(expired);
  });
});

describe('sessionName', () => {
  it('[DESIGN §5] names a session by tenant and client id, so equal client ids in two tenants are two sessions', () => {
    expect(sessionName('acme', 'c1')).toBe('acme\u0000c1');
    expect(sessionName('acme', 'c1')).not.toBe(sessionName('other', 'c1'));
    expect(sessionName('acme', 'c1')).not.toBe(sessionName('acme', 'c2'));
  });

  it('[DESIGN §5] the tenant is everything before the first NUL, since a tenant name cannot hold one', () => {
    expect(TENANT_NAME.test('a\u0000b')).toBe(false);
    const name = sessionName('acme', 'odd\u0000client');
    expect(name.slice(0, name.indexOf('\u0000'))).toBe('acme');
    expect(name.slice(name.indexOf('\u0000') + 1)).toBe('odd\u0000client');
  });
});

describe('subscriptionOptions', () => {
  it('(5.0 §3.8.3.1) keeps only QoS when every 5.0 option is off', () => {
    const off: SubscriptionOptions = { qos: 1, noLocal: false, retainAsPublished: false };
    expect(subscriptionOptions(off)).toEqual({ qos: 1 });
    expect(Object.keys(subscriptionOptions(off))).toEqual(['qos']);
  });

  it('(5.0 §3.8.3.1) keeps No Local, Retain As Published and the Subscription Identifier when set', () => {
    expect(subscriptionOptions({ qos: 2, noLocal: true, retainAsPublished: true, subscriptionIdentifier: 42 })).toEqual({
      qos: 2,
      noLocal: true,
      retainAsPublished: true,
      subscriptionIdentifier: 42,
    });
  });

  it('(5.0 §3.8.3.1) drops the fields of a richer source, such as a decoded SUBSCRIBE entry', () => {
    const entry = { topicFilter: 'a/#', qos: 0 as const, noLocal: true, retainHandling: 2, filter: 'a/#' };
    expect(subscriptionOptions(entry)).toEqual({ qos: 0, noLocal: true });
  });
});
