// SUBSCRIBE decisions per filter, the SUBACK codes they yield, and the QoS of forwarded copies.
import { describe, expect, it } from 'vitest';
import type { QoS, SubscribePacket, Subscription } from '../../../core/codec/packets.js';
import { ReasonCode, SUBACK_FAILURE_V3 } from '../../../core/reason-codes.js';
import {
  MAXIMUM_QOS,
  decideSubscriptions,
  subackCodes,
  type FilterDecision,
} from '../../../core/session/subscribe.js';
import { deliveryQoS } from '../../../core/routing/subscription.js';

function subscribe(...subscriptions: Subscription[]): SubscribePacket {
  return { type: 'subscribe', packetId: 10, subscriptions };
}

// [3.1.1 id, 5.0 id, filter]; 5.0 numbers the '#' and '+' rules 4.7.1-1 and 4.7.1-2.
const INVALID_FILTERS: ReadonlyArray<readonly [v4: string, v5: string, filter: string]> = [
  ['[MQTT-4.7.3-1]', '[MQTT-4.7.3-1 v5]', ''],
  ['[MQTT-4.7.1-2]', '[MQTT-4.7.1-1 v5]', 'sport/tennis#'],
  ['[MQTT-4.7.1-2]', '[MQTT-4.7.1-1 v5]', 'sport/#/ranking'],
  ['[MQTT-4.7.1-3]', '[MQTT-4.7.1-2 v5]', 'sport+'],
  ['[MQTT-4.7.1-3]', '[MQTT-4.7.1-2 v5]', 'a/+b/c'],
  ['[MQTT-4.7.3-2]', '[MQTT-4.7.3-2 v5]', 'a/\u0000'],
];

describe('decideSubscriptions', () => {
  it('the server grants up to QoS 2', () => {
    expect(MAXIMUM_QOS).toBe(2);
  });

  it.each([0, 1, 2] as const)('[MQTT-3.8.4-5] a valid filter requested at QoS %i is granted that QoS', (qos) => {
    for (const version of [4, 5]) {
      const [decision] = decideSubscriptions(subscribe({ topicFilter: 'sport/+/player1', qos }), version);
      expect(decision).toStrictEqual({ ok: true, subscription: { topicFilter: 'sport/+/player1', qos }, grantedQoS: qos });
    }
  });

  it.each(['#', '+', 'sport/#', '+/+/+', '/finance', '$SYS/#'])('[MQTT-3.8.4-5] the valid filter %j is granted', (topicFilter) => {
    const [decision] = decideSubscriptions(subscribe({ topicFilter, qos: 1 }), 4);
    expect(decision).toMatchObject({ ok: true, grantedQoS: 1 });
  });

  it.each(INVALID_FILTERS.map(([v4, , filter]) => [v4, filter] as const))('%s [MQTT-3.9.3-2] an invalid filter %j fails with 0x80 in 3.1.1', (_spec, topicFilter) => {
    expect(decideSubscriptions(subscribe({ topicFilter, qos: 1 }), 4)).toStrictEqual([
      { ok: false, topicFilter, reasonCode: SUBACK_FAILURE_V3 },
    ]);
  });

  it.each(INVALID_FILTERS.map(([, v5, filter]) => [v5, filter] as const))('%s an invalid filter %j fails with 0x8F Topic Filter invalid', (_spec, topicFilter) => {
    expect(decideSubscriptions(subscribe({ topicFilter, qos: 1 }), 5)).toStrictEqual([
      { ok: false, topicFilter, reasonCode: ReasonCode.TopicFilterInvalid },
    ]);
  });

  it.each([
    ['[MQTT-4.8.2-1 v5]', '$share//a'],
    ['[MQTT-4.8.2-2 v5]', '$share/g'],
    ['[MQTT-4.8.2-2 v5]', '$share/g+/a'],
  ])('%s a malformed shared filter %j fails with 0x8F', (_spec, topicFilter) => {
    expect(decideSubscriptions(subscribe({ topicFilter, qos: 0 }), 5)).toStrictEqual([
      { ok: false, topicFilter, reasonCode: ReasonCode.TopicFilterInvalid },
    ]);
  });

  it('(5.0 §4.8.2) a shared subscription filter is granted', () => {
    const [decision] = decideSubscriptions(subscribe({ topicFilter: '$share/workers/jobs/#', qos: 2 }), 5);
    expect(decision).toMatchObject({ ok: true, grantedQoS: 2 });
  });

  it('[MQTT-3.9.3-2] a filter the ACL refuses fails with 0x80 in 3.1.1', () => {
    const decisions = decideSubscriptions(subscribe({ topicFilter: 'secret/#', qos: 1 }), 4, () => false);
    expect(decisions).toStrictEqual([{ ok: false, topicFilter: 'secret/#', reasonCode: SUBACK_FAILURE_V3 }]);
  });

  it('(5.0 §3.9.3) a filter the ACL refuses fails with 0x87 Not authorized in 5.0', () => {
    const decisions = decideSubscriptions(subscribe({ topicFilter: 'secret/#', qos: 1 }), 5, () => false);
    expect(decisions).toStrictEqual([{ ok: false, topicFilter: 'secret/#', reasonCode: ReasonCode.NotAuthorized }]);
  });

  it('asks the ACL about each valid filter only, and an invalid filter is refused as invalid, not as unauthorized', () => {
    const asked: string[] = [];
    const decisions = decideSubscriptions(
      subscribe({ topicFilter: 'a/#', qos: 0 }, { topicFilter: 'a/#/b', qos: 0 }, { topicFilter: 'b', qos: 0 }),
      5,
      (filter) => {
        asked.push(filter);
        return false;
      },
    );
    expect(asked).toStrictEqual(['a/#', 'b']);
    expect(decisions.map((d) => (d.ok ? 'ok' : d.reasonCode))).toStrictEqual([
      ReasonCode.NotAuthorized,
      ReasonCode.TopicFilterInvalid,
      ReasonCode.NotAuthorized,
    ]);
  });

  it('[MQTT-3.8.4-4] each filter of one SUBSCRIBE is decided on its own, in request order', () => {
    const decisions = decideSubscriptions(
      subscribe(
        { topicFilter: 'a/b', qos: 2 },
        { topicFilter: 'a/b#', qos: 1 },
        { topicFilter: 'private/x', qos: 1 },
        { topicFilter: 'c/+', qos: 0 },
      ),
      4,
      (filter) => !filter.startsWith('private/'),
    );
    expect(decisions).toStrictEqual([
      { ok: true, subscription: { topicFilter: 'a/b', qos: 2 }, grantedQoS: 2 },
      { ok: false, topicFilter: 'a/b#', reasonCode: SUBACK_FAILURE_V3 },
      { ok: false, topicFilter: 'private/x', reasonCode: SUBACK_FAILURE_V3 },
      { ok: true, subscription: { topicFilter: 'c/+', qos: 0 }, grantedQoS: 0 },
    ]);
  });

  it('(5.0 §3.8.3.1) the granted subscription keeps No Local, Retain As Published and Retain Handling', () => {
    const requested: Subscription = { topicFilter: 'a/+', qos: 1, noLocal: true, retainAsPublished: true, retainHandling: 2 };
    const [decision] = decideSubscriptions(subscribe(requested), 5);
    expect(decision).toStrictEqual({
      ok: true,
      subscription: { topicFilter: 'a/+', qos: 1, noLocal: true, retainAsPublished: true, retainHandling: 2 },
      grantedQoS: 1,
    });
    if (decision?.ok) expect(decision.subscription).not.toBe(requested);
  });

  it('does not modify the packet it decides on', () => {
    const packet = subscribe({ topicFilter: 'a', qos: 2 }, { topicFilter: '', qos: 1 });
    const before = structuredClone(packet);
    decideSubscriptions(packet, 5, () => true);
    expect(packet).toStrictEqual(before);
  });
});

describe('subackCodes', () => {
  it('[MQTT-3.9.3-1] one code per filter, in request order: the granted QoS or the failure code', () => {
    const decisions: FilterDecision[] = [
      { ok: true, subscription: { topicFilter: 'a', qos: 1 }, grantedQoS: 1 },
      { ok: false, topicFilter: 'b#', reasonCode: SUBACK_FAILURE_V3 },
      { ok: true, subscription: { topicFilter: 'c', qos: 0 }, grantedQoS: 0 },
      { ok: true, subscription: { topicFilter: 'd', qos: 2 }, grantedQoS: 2 },
    ];
    expect(subackCodes(decisions)).toStrictEqual([0x01, 0x80, 0x00, 0x02]);
  });

  it('[MQTT-3.9.3-1 v5] 5.0 reason codes appear in their filters\' slots', () => {
    const packet = subscribe(
      { topicFilter: 'x/#', qos: 2 },
      { topicFilter: '#/x', qos: 1 },
      { topicFilter: 'deny', qos: 1 },
      { topicFilter: 'y', qos: 1 },
    );
    const codes = subackCodes(decideSubscriptions(packet, 5, (filter) => filter !== 'deny'));
    expect(codes).toStrictEqual([ReasonCode.GrantedQoS2, ReasonCode.TopicFilterInvalid, ReasonCode.NotAuthorized, ReasonCode.GrantedQoS1]);
  });

  it('[MQTT-3.9.3-2] 3.1.1 SUBACK codes are only 0x00, 0x01, 0x02 and 0x80', () => {
    const packet = subscribe(
      { topicFilter: 'ok', qos: 0 },
      { topicFilter: 'ok/1', qos: 1 },
      { topicFilter: 'ok/2', qos: 2 },
      { topicFilter: '', qos: 1 },
      { topicFilter: 'deny', qos: 1 },
    );
    const codes = subackCodes(decideSubscriptions(packet, 4, (filter) => filter !== 'deny'));
    expect(codes).toStrictEqual([0x00, 0x01, 0x02, 0x80, 0x80]);
  });

  it('no filters, no codes', () => {
    expect(subackCodes([])).toStrictEqual([]);
  });
});

describe('deliveryQoS', () => {
  const levels: readonly QoS[] = [0, 1, 2];
  const table = levels.flatMap((message) => levels.map((subscription) => [message, subscription, Math.min(message, subscription)] as const));

  it.each(table)('[MQTT-3.8.4-6] a QoS %i message to a QoS %i subscription is forwarded at QoS %i', (message, subscription, expected) => {
    expect(deliveryQoS(message, subscription)).toBe(expected);
  });
});
