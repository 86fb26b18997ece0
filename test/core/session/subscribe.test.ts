// SUBSCRIBE decisions per filter, the SUBACK codes they yield, and the QoS of forwarded copies; then SUBSCRIBE and
// UNSUBSCRIBE through the session state machine (SUBACK after the shards, quotas, retained messages).
import { describe, expect, it } from 'vitest';
import type { ConnectPacket, Packet, Properties, QoS, SubscribePacket, Subscription } from '../../../core/codec/packets.js';
import { ReasonCode, SUBACK_FAILURE_V3 } from '../../../core/reason-codes.js';
import {
  MAXIMUM_QOS,
  decideSubscriptions,
  subackCodes,
  type FilterDecision,
} from '../../../core/session/subscribe.js';
import { deliveryQoS } from '../../../core/routing/subscription.js';
import { encodePacket } from '../../../core/codec/index.js';
import { sessionName, type RetainedMessage } from '../../../core/routing/message.js';
import { SessionHarness, TENANT, token, type OpenOptions, serverDisconnectWith } from './harness.js';

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

// ---- SUBSCRIBE and UNSUBSCRIBE through the session state machine (test/core/session/harness.ts) ----

const V5: Partial<ConnectPacket> = { protocolVersion: 5 };
const V4: Partial<ConnectPacket> = { protocolVersion: 4 };
const SESSION = sessionName(TENANT, 'device-1');
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

function online(connect: Partial<ConnectPacket> = V5, options: OpenOptions = {}): SessionHarness {
  const h = new SessionHarness();
  h.connect('c1', connect, options);
  return h;
}

function withIdentifier(packet: SubscribePacket, subscriptionIdentifier: number): SubscribePacket {
  return { ...packet, properties: { subscriptionIdentifiers: [subscriptionIdentifier] } };
}

function retained(topic: string, qos: QoS, extra: Partial<RetainedMessage> = {}): RetainedMessage {
  return { topic, payload: bytes(`retained ${topic}`), qos, ...extra };
}

/** The PUBLISH of a retained message as the session sends it. */
function retainedPublish(message: RetainedMessage, qos: QoS, packetId?: number, properties?: Properties): Packet {
  return {
    type: 'publish',
    topic: message.topic,
    payload: message.payload,
    qos,
    retain: true,
    dup: false,
    ...(packetId === undefined ? {} : { packetId }),
    ...(properties ? { properties } : {}),
  };
}

describe('SUBSCRIBE in the session: SUBACK once the shards answered', () => {
  it('[MQTT-3.8.4-1] the filters are stored and sent to the shards; no SUBACK before they answered', () => {
    const h = online();
    const effects = h.packet('c1', subscribe({ topicFilter: 'a/b', qos: 1 }, { topicFilter: 'c/+', qos: 2 }));
    expect(effects).toStrictEqual([
      {
        type: 'persist',
        ops: [
          { op: 'putSubscription', filter: 'a/b', options: { qos: 1 } },
          { op: 'putSubscription', filter: 'c/+', options: { qos: 2 } },
        ],
      },
      {
        type: 'subscribeShards',
        tenant: TENANT,
        session: SESSION,
        connectionId: 'c1',
        subscriptions: [
          { filter: 'a/b', qos: 1 },
          { filter: 'c/+', qos: 2 },
        ],
        then: {
          packetId: 10,
          reasonCodes: [1, 2],
          retained: [
            { filter: 'a/b', qos: 1, retainHandling: 0 },
            { filter: 'c/+', qos: 2, retainHandling: 0 },
          ],
          added: ['a/b', 'c/+'],
          epoch: 1,
        },
      },
    ]);
    expect(h.sent()).toStrictEqual([]);
    expect(h.subscribed()).toStrictEqual([{ type: 'send', connectionId: 'c1', packets: [{ type: 'suback', packetId: 10, reasonCodes: [1, 2] }] }]);
    expect(h.store.subscriptions).toStrictEqual(new Map([['a/b', { qos: 1 }], ['c/+', { qos: 2 }]]));
  });

  it('[MQTT-3.8.4-5] [MQTT-3.9.3-1 v5] 5.0: one code per filter in request order, refused filters in their slots', () => {
    const h = online();
    h.packet('c1', subscribe({ topicFilter: 'a', qos: 2 }, { topicFilter: 'a/#/b', qos: 1 }, { topicFilter: 'b', qos: 0 }, { topicFilter: 'c', qos: 1 }));
    expect(h.of('subscribeShards')[0]!.subscriptions.map((s) => s.filter)).toStrictEqual(['a', 'b', 'c']);
    h.subscribed();
    expect(h.sent()).toStrictEqual([{ type: 'suback', packetId: 10, reasonCodes: [2, ReasonCode.TopicFilterInvalid, 0, 1] }]);
  });

  it('[MQTT-3.8.4-5] [MQTT-3.9.3-2] 3.1.1: one code per filter in request order, 0x80 for a refused one', () => {
    const h = online(V4);
    h.packet('c1', subscribe({ topicFilter: 'a', qos: 2 }, { topicFilter: 'a/#/b', qos: 1 }, { topicFilter: 'b', qos: 0 }, { topicFilter: 'c', qos: 1 }));
    h.subscribed();
    expect(h.sent()).toStrictEqual([{ type: 'suback', packetId: 10, reasonCodes: [2, SUBACK_FAILURE_V3, 0, 1] }]);
  });

  it('[MQTT-3.8.4-3] a SUBSCRIBE to a held filter replaces its options', () => {
    const h = online();
    h.packet('c1', subscribe({ topicFilter: 'a', qos: 2, noLocal: true }));
    h.subscribed();
    h.packet('c1', subscribe({ topicFilter: 'a', qos: 0 }));
    h.subscribed();
    expect(h.store.subscriptions).toStrictEqual(new Map([['a', { qos: 0 }]]));
    expect(h.state.session.subscriptions).toStrictEqual(new Map([['a', { qos: 0 }]]));
  });
});

describe('SUBSCRIBE in the session: ACL and the maxSubscriptions quota', () => {
  const OWN = token([{ filter: 'devices/%c/#', rights: ['sub'] }]);

  it('(5.0 §3.9.3) [DESIGN §5] 5.0: a filter the ACL refuses gets 0x87 and is neither stored nor sent to the shards', () => {
    const h = online(V5, { token: OWN });
    h.packet('c1', subscribe({ topicFilter: 'devices/device-1/#', qos: 1 }, { topicFilter: 'devices/other/#', qos: 1 }));
    expect(h.of('subscribeShards')[0]!.subscriptions).toStrictEqual([{ filter: 'devices/device-1/#', qos: 1 }]);
    h.subscribed();
    expect(h.sent()).toStrictEqual([{ type: 'suback', packetId: 10, reasonCodes: [1, ReasonCode.NotAuthorized] }]);
    expect([...h.store.subscriptions.keys()]).toStrictEqual(['devices/device-1/#']);
  });

  it('[MQTT-3.9.3-2] [DESIGN §5] 3.1.1: a filter the ACL refuses gets 0x80', () => {
    const h = online(V4, { token: OWN });
    h.packet('c1', subscribe({ topicFilter: 'devices/device-1/#', qos: 1 }, { topicFilter: 'devices/#', qos: 1 }));
    h.subscribed();
    expect(h.sent()).toStrictEqual([{ type: 'suback', packetId: 10, reasonCodes: [1, SUBACK_FAILURE_V3] }]);
  });

  const QUOTA_2 = token([{ filter: '#', rights: ['sub'] }], { maxSubscriptions: 2 });

  it('[DESIGN §5] 5.0: new filters past maxSubscriptions get 0x97 Quota exceeded, counted as limit_subscriptions', () => {
    const h = online(V5, { token: QUOTA_2 });
    const effects = h.packet('c1', subscribe({ topicFilter: 'a', qos: 1 }, { topicFilter: 'b', qos: 1 }, { topicFilter: 'c', qos: 1 }));
    expect(effects[0]).toStrictEqual({
      type: 'persist',
      ops: [
        { op: 'count', counter: 'limit_subscriptions', n: 1 },
        { op: 'putSubscription', filter: 'a', options: { qos: 1 } },
        { op: 'putSubscription', filter: 'b', options: { qos: 1 } },
      ],
    });
    h.subscribed();
    expect(h.sent()).toStrictEqual([{ type: 'suback', packetId: 10, reasonCodes: [1, 1, ReasonCode.QuotaExceeded] }]);
    expect(h.store.counters.get('limit_subscriptions')).toBe(1);
  });

  it('[MQTT-3.9.3-2] [DESIGN §5] 3.1.1: a filter past maxSubscriptions gets 0x80', () => {
    const h = online(V4, { token: QUOTA_2 });
    h.packet('c1', subscribe({ topicFilter: 'a', qos: 1 }, { topicFilter: 'b', qos: 1 }, { topicFilter: 'c', qos: 1 }));
    h.subscribed();
    expect(h.sent()).toStrictEqual([{ type: 'suback', packetId: 10, reasonCodes: [1, 1, SUBACK_FAILURE_V3] }]);
    expect(h.store.counters.get('limit_subscriptions')).toBe(1);
  });

  it('[MQTT-3.8.4-3] [DESIGN §5] re-subscribing a held filter is always allowed at the quota; a new one is not', () => {
    const h = online(V5, { token: QUOTA_2 });
    h.packet('c1', subscribe({ topicFilter: 'a', qos: 1 }, { topicFilter: 'b', qos: 1 }));
    h.subscribed();
    h.packet('c1', subscribe({ topicFilter: 'a', qos: 2 }, { topicFilter: 'd', qos: 0 }, { topicFilter: 'b', qos: 0 }));
    h.subscribed();
    expect(h.sent()).toStrictEqual([{ type: 'suback', packetId: 10, reasonCodes: [2, ReasonCode.QuotaExceeded, 0] }]);
    expect(h.store.subscriptions).toStrictEqual(new Map([['a', { qos: 2 }], ['b', { qos: 0 }]]));
    expect(h.store.counters.get('limit_subscriptions')).toBe(1);
  });

  it('[DESIGN §5] refused filters (invalid, not authorized) do not use up the quota', () => {
    const h = online(V5, { token: token([{ filter: 'ok/#', rights: ['sub'] }], { maxSubscriptions: 2 }) });
    h.packet('c1', subscribe({ topicFilter: 'ok/#/x', qos: 1 }, { topicFilter: 'no', qos: 1 }, { topicFilter: 'ok/1', qos: 1 }, { topicFilter: 'ok/2', qos: 1 }));
    h.subscribed();
    expect(h.sent()).toStrictEqual([{ type: 'suback', packetId: 10, reasonCodes: [ReasonCode.TopicFilterInvalid, ReasonCode.NotAuthorized, 1, 1] }]);
    expect(h.store.counters.has('limit_subscriptions')).toBe(false);
  });

  it('[DESIGN §5] an unsubscribed filter frees its place under the quota', () => {
    const h = online(V5, { token: QUOTA_2 });
    h.packet('c1', subscribe({ topicFilter: 'a', qos: 1 }, { topicFilter: 'b', qos: 1 }));
    h.subscribed();
    h.packet('c1', { type: 'unsubscribe', packetId: 11, topicFilters: ['a'] });
    h.packet('c1', subscribe({ topicFilter: 'c', qos: 1 }));
    h.subscribed();
    expect(h.sent()).toStrictEqual([{ type: 'suback', packetId: 10, reasonCodes: [1] }]);
  });

  it('[MQTT-3.8.4-4] a filter named twice in one SUBSCRIBE is one subscription: the second is a re-subscription, within the quota', () => {
    const h = online(V5, { token: token([{ filter: '#', rights: ['sub'] }], { maxSubscriptions: 1 }) });
    h.packet('c1', subscribe({ topicFilter: 'x', qos: 1 }, { topicFilter: 'x', qos: 2 }));
    h.subscribed();
    expect(h.sent()).toStrictEqual([{ type: 'suback', packetId: 10, reasonCodes: [1, 2] }]);
    expect(h.store.counters.has('limit_subscriptions')).toBe(false);
    expect(h.store.subscriptions).toStrictEqual(new Map([['x', { qos: 2 }]]));
  });
});

describe('SUBSCRIBE in the session: 5.0 options', () => {
  it('[MQTT-3.8.3-4 v5] No Local on a shared subscription: DISCONNECT 0x82, no SUBACK, nothing stored', () => {
    const h = online();
    h.packet('c1', subscribe({ topicFilter: 'a', qos: 1 }, { topicFilter: '$share/g/a', qos: 1, noLocal: true }));
    expect(h.sent()).toStrictEqual([serverDisconnectWith(ReasonCode.ProtocolError)]);
    expect(h.closed('c1')).toBe(true);
    expect(h.of('subscribeShards')).toStrictEqual([]);
    expect(h.history.some((e) => e.type === 'persist' && e.ops.some((op) => op.op === 'putSubscription'))).toBe(false);
  });

  it('[MQTT-3.8.3-3 v5] No Local on an ordinary subscription is kept with its options', () => {
    const h = online();
    h.packet('c1', subscribe({ topicFilter: 'a', qos: 1, noLocal: true, retainAsPublished: true }));
    expect(h.of('subscribeShards')[0]!.subscriptions).toStrictEqual([{ filter: 'a', qos: 1, noLocal: true, retainAsPublished: true }]);
    expect(h.store.subscriptions.get('a')).toStrictEqual({ qos: 1, noLocal: true, retainAsPublished: true });
  });

  it('(5.0 §3.8.2.1.2) the Subscription Identifier is stored with every filter of the SUBSCRIBE and given to the shards', () => {
    const h = online();
    h.packet('c1', withIdentifier(subscribe({ topicFilter: 'a/+', qos: 1 }, { topicFilter: 'b', qos: 0 }), 42));
    expect(h.of('subscribeShards')[0]!.subscriptions).toStrictEqual([
      { filter: 'a/+', qos: 1, subscriptionIdentifier: 42 },
      { filter: 'b', qos: 0, subscriptionIdentifier: 42 },
    ]);
    expect(h.store.subscriptions).toStrictEqual(new Map([['a/+', { qos: 1, subscriptionIdentifier: 42 }], ['b', { qos: 0, subscriptionIdentifier: 42 }]]));
  });

  it('[MQTT-3.3.4-3 v5] a retained message sent for the subscription carries its Subscription Identifier', () => {
    const h = online();
    h.packet('c1', withIdentifier(subscribe({ topicFilter: 'a/+', qos: 1 }), 42));
    const message = retained('a/x', 1);
    h.subscribed({ 'a/+': { retained: [message] } });
    expect(h.sent()).toStrictEqual([
      { type: 'suback', packetId: 10, reasonCodes: [1] },
      retainedPublish(message, 1, 1, { subscriptionIdentifiers: [42] }),
    ]);
  });
});

describe('SUBSCRIBE in the session: retained messages', () => {
  it('[MQTT-3.3.1-6] [MQTT-3.3.1-8] [MQTT-3.8.4-6] retained messages follow the SUBACK with RETAIN=1 at min(message QoS, granted QoS)', () => {
    const h = online();
    h.packet('c1', subscribe({ topicFilter: 'a/+', qos: 1 }));
    const two = retained('a/x', 2);
    const zero = retained('a/y', 0);
    const effects = h.subscribed({ 'a/+': { retained: [two, zero] } });
    expect(h.sent()).toStrictEqual([{ type: 'suback', packetId: 10, reasonCodes: [1] }, retainedPublish(two, 1, 1), retainedPublish(zero, 0)]);
    // The QoS 1 copy is stored before anything leaves.
    expect(effects[0]).toStrictEqual({
      type: 'persist',
      ops: [{ op: 'insertOutbound', message: { topic: 'a/x', payload: two.payload, qos: 1, retain: true, seq: 1, packetId: 1, state: 1 } }],
    });
  });

  it('[MQTT-3.3.1-6] [MQTT-3.3.1-8] 3.1.1: retained messages follow the SUBACK with RETAIN=1', () => {
    const h = online(V4);
    h.packet('c1', subscribe({ topicFilter: 'a/#', qos: 2 }));
    const message = retained('a/x', 2);
    h.subscribed({ 'a/#': { retained: [message] } });
    expect(h.sent()).toStrictEqual([{ type: 'suback', packetId: 10, reasonCodes: [2] }, retainedPublish(message, 2, 1)]);
  });

  it('[MQTT-3.8.4-3] 3.1.1: re-subscribing to a held filter sends its retained messages again', () => {
    const h = online(V4);
    h.packet('c1', subscribe({ topicFilter: 'a', qos: 0 }));
    h.subscribed();
    h.packet('c1', subscribe({ topicFilter: 'a', qos: 0 }));
    const message = retained('a', 0);
    h.subscribed({ a: { isNew: false, retained: [message] } });
    expect(h.sent()).toStrictEqual([{ type: 'suback', packetId: 10, reasonCodes: [0] }, retainedPublish(message, 0)]);
  });

  it.each([
    ['[MQTT-3.3.1-9 v5]', 0, true, true],
    ['[MQTT-3.3.1-9 v5]', 0, false, true],
    ['[MQTT-3.3.1-10 v5]', 1, true, true],
    ['[MQTT-3.3.1-10 v5]', 1, false, false],
    ['[MQTT-3.3.1-11 v5]', 2, true, false],
    ['[MQTT-3.3.1-11 v5]', 2, false, false],
  ] as const)('%s Retain Handling %i, new subscription %s: retained messages sent = %s', (_spec, retainHandling, isNew, sends) => {
    const h = online();
    h.packet('c1', subscribe({ topicFilter: 'a', qos: 0, retainHandling }));
    const message = retained('a', 0);
    h.subscribed({ a: { isNew, retained: [message] } });
    const suback: Packet = { type: 'suback', packetId: 10, reasonCodes: [0] };
    expect(h.sent()).toStrictEqual(sends ? [suback, retainedPublish(message, 0)] : [suback]);
  });

  it('[MQTT-3.3.1-10 v5] Retain Handling applies per filter of one SUBSCRIBE', () => {
    const h = online();
    h.packet('c1', subscribe({ topicFilter: 'a', qos: 0, retainHandling: 1 }, { topicFilter: 'b', qos: 0, retainHandling: 0 }));
    const a = retained('a', 0);
    const b = retained('b', 0);
    h.subscribed({ a: { isNew: false, retained: [a] }, b: { isNew: false, retained: [b] } });
    expect(h.sent()).toStrictEqual([{ type: 'suback', packetId: 10, reasonCodes: [0, 0] }, retainedPublish(b, 0)]);
  });

  it('[MQTT-3.3.2-5 v5] [MQTT-3.3.2-6 v5] an expired retained message is skipped; a live one carries the time it has left', () => {
    const h = online();
    h.advance(10_000);
    h.packet('c1', subscribe({ topicFilter: 'a/+', qos: 0 }));
    const expired = retained('a/old', 0, { expiresAt: h.now });
    const live = retained('a/new', 0, { expiresAt: h.now + 1500 });
    h.subscribed({ 'a/+': { retained: [expired, live] } });
    expect(h.sent()).toStrictEqual([
      { type: 'suback', packetId: 10, reasonCodes: [0] },
      { ...retainedPublish({ topic: 'a/new', payload: live.payload, qos: 0 }, 0), properties: { messageExpiryInterval: 2 } },
    ]);
  });
});

describe('SUBSCRIBE in the session: shard failures and refusals', () => {
  it('[DESIGN §3] 5.0: shards that failed: no SUBACK, DISCONNECT 0x80, the connection closes', () => {
    const h = online();
    h.packet('c1', subscribe({ topicFilter: 'a', qos: 1 }));
    h.subscribed({}, false);
    expect(h.sent()).toStrictEqual([serverDisconnectWith(ReasonCode.UnspecifiedError)]);
    expect(h.closed('c1')).toBe(true);
  });

  it('[DESIGN §3] (5.0 §3.1.2.5) shards that failed: the failure is ours, so no will is published', () => {
    const h = online({ protocolVersion: 5, will: { topic: 'status/device-1', payload: new Uint8Array([1]), qos: 1, retain: false } });
    h.packet('c1', subscribe({ topicFilter: 'a', qos: 1 }));
    h.subscribed({}, false);
    expect(h.closed('c1')).toBe(true);
    expect(h.of('route')).toStrictEqual([]);
  });

  it('[DESIGN §3] 3.1.1: shards that failed: no SUBACK, the connection closes without a packet', () => {
    const h = online(V4);
    h.packet('c1', subscribe({ topicFilter: 'a', qos: 1 }));
    h.subscribed({}, false);
    expect(h.sent()).toStrictEqual([]);
    expect(h.closed('c1')).toBe(true);
  });

  it('[DESIGN §3] shards that failed: the filters this SUBSCRIBE added are forgotten again, a re-subscribed one is kept', () => {
    const persistent: Partial<ConnectPacket> = { protocolVersion: 5, cleanSession: false, properties: { sessionExpiryInterval: 60 } };
    const h = online(persistent);
    h.packet('c1', subscribe({ topicFilter: 'kept', qos: 0 }));
    h.subscribed();
    h.packet('c1', subscribe({ topicFilter: 'kept', qos: 1 }, { topicFilter: 'added', qos: 1 }));
    const effects = h.subscribed({}, false);
    const ops = effects.flatMap((e) => (e.type === 'persist' ? e.ops : []));
    expect(ops).toContainEqual({ op: 'deleteSubscription', filter: 'added' });
    expect(ops).not.toContainEqual({ op: 'deleteSubscription', filter: 'kept' });
    expect(effects).toContainEqual({ type: 'unsubscribeShards', tenant: TENANT, session: sessionName(TENANT, 'device-1'), filters: ['added'] });
    // A resumed session must not claim a subscription no shard may hold.
    expect([...h.store.subscriptions.keys()]).toStrictEqual(['kept']);
  });

  it('[DESIGN §5] a shared subscription to $SYS starts the tenant\'s statistics too', () => {
    const h = online();
    h.packet('c1', subscribe({ topicFilter: '$share/g/$SYS/broker/#', qos: 0 }));
    expect(h.of('wantSys')).toStrictEqual([{ type: 'wantSys', tenant: TENANT }]);
  });

  it('[MQTT-3.8.4-1] a SUBSCRIBE with every filter refused gets its SUBACK at once, with no shard call and nothing stored', () => {
    const h = online(V5, { token: token([{ filter: 'mine/#', rights: ['sub'] }]) });
    expect(h.packet('c1', subscribe({ topicFilter: 'a/#/b', qos: 1 }, { topicFilter: 'theirs', qos: 0 }))).toStrictEqual([
      { type: 'send', connectionId: 'c1', packets: [{ type: 'suback', packetId: 10, reasonCodes: [ReasonCode.TopicFilterInvalid, ReasonCode.NotAuthorized] }] },
    ]);
  });

  it('[MQTT-3.8.4-1] an answer for a connection that has closed meanwhile sends nothing', () => {
    const h = online();
    h.packet('c1', subscribe({ topicFilter: 'a', qos: 1 }));
    h.input({ type: 'socketClosed', connectionId: 'c1' });
    expect(h.subscribed()).toStrictEqual([]);
  });
});

describe('SUBSCRIBE in the session: $SYS', () => {
  it.each(['$SYS/#', '$SYS', '$SYS/clients/connected'])('[DESIGN §5] a granted %j asks the tenant for its statistics (wantSys)', (topicFilter) => {
    const h = online(V5, { token: token([]) });
    h.packet('c1', subscribe({ topicFilter, qos: 0 }));
    expect(h.of('wantSys')).toStrictEqual([{ type: 'wantSys', tenant: TENANT }]);
    h.subscribed();
    expect(h.sent()).toStrictEqual([{ type: 'suback', packetId: 10, reasonCodes: [0] }]);
  });

  it.each(['#', '+/clients', 'a/$SYS/#'])('[MQTT-4.7.2-1] %j matches no $SYS topic: no wantSys', (topicFilter) => {
    const h = online();
    h.packet('c1', subscribe({ topicFilter, qos: 0 }));
    expect(h.of('wantSys')).toStrictEqual([]);
  });
});

describe('UNSUBSCRIBE in the session', () => {
  it('[MQTT-3.10.4-4] [MQTT-3.11.3-1 v5] 5.0: held filters are deleted here and in the shards; UNSUBACK 0x00 / 0x11 per filter', () => {
    const h = online();
    h.packet('c1', subscribe({ topicFilter: 'a', qos: 1 }, { topicFilter: 'c', qos: 1 }));
    h.subscribed();
    expect(h.packet('c1', { type: 'unsubscribe', packetId: 12, topicFilters: ['a', 'b'] })).toStrictEqual([
      { type: 'persist', ops: [{ op: 'deleteSubscription', filter: 'a' }] },
      { type: 'unsubscribeShards', tenant: TENANT, session: SESSION, filters: ['a', 'b'] },
      { type: 'send', connectionId: 'c1', packets: [{ type: 'unsuback', packetId: 12, reasonCodes: [ReasonCode.Success, ReasonCode.NoSubscriptionExisted] }] },
    ]);
    expect(h.store.subscriptions).toStrictEqual(new Map([['c', { qos: 1 }]]));
  });

  it('[MQTT-3.10.4-5] 5.0: UNSUBACK even when nothing matched, 0x11 for each filter', () => {
    const h = online();
    h.packet('c1', { type: 'unsubscribe', packetId: 12, topicFilters: ['x', 'y/#'] });
    expect(h.sent()).toStrictEqual([{ type: 'unsuback', packetId: 12, reasonCodes: [ReasonCode.NoSubscriptionExisted, ReasonCode.NoSubscriptionExisted] }]);
    expect(h.of('persist')).toStrictEqual([]);
  });

  it('[MQTT-3.10.4-4] [MQTT-3.10.4-5] 3.1.1: UNSUBACK (packet id only on the wire) even when nothing matched', () => {
    const h = online(V4);
    h.packet('c1', { type: 'unsubscribe', packetId: 0x1234, topicFilters: ['x'] });
    const sent = h.sent();
    expect(sent.map((p) => p.type)).toStrictEqual(['unsuback']);
    expect([...encodePacket(sent[0]!, 4)]).toStrictEqual([0xb0, 0x02, 0x12, 0x34]);
  });

  it('[MQTT-3.10.4-2] deliveries for an unsubscribed filter are reported stale and not sent', () => {
    const h = online();
    h.packet('c1', subscribe({ topicFilter: 'a', qos: 0 }));
    h.subscribed();
    h.packet('c1', { type: 'unsubscribe', packetId: 12, topicFilters: ['a'] });
    h.deliver({ topic: 'a', payload: bytes('late'), qos: 0, retain: false, filters: ['a'] });
    expect(h.sent()).toStrictEqual([]);
    expect(h.reply).toStrictEqual({ stale: ['a'], online: true });
  });
});
