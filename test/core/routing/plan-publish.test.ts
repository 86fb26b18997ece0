// planPublish: a batch of published messages in order: expired ones dropped, `$` topics not counted as received.
import { describe, expect, it } from 'vitest';
import type { QoS } from '../../../core/codec/packets.js';
import { planPublish, type MatchTopic, type PickMember } from '../../../core/routing/fan-out.js';
import type { RoutedMessage } from '../../../core/routing/message.js';
import { SharedSubscriptionBalancer } from '../../../core/routing/shared-subscriptions.js';
import type { SubscriptionOptions } from '../../../core/routing/subscription.js';
import { SubscriptionTrie } from '../../../core/topic/trie.js';

function trieOf(...subs: Array<[filter: string, session: string, qos: QoS]>): SubscriptionTrie<SubscriptionOptions> {
  const trie = new SubscriptionTrie<SubscriptionOptions>();
  for (const [filter, session, qos] of subs) trie.add(filter, session, { qos });
  return trie;
}

/** Matches through the trie and records which topics were looked up. */
function matcher(trie: SubscriptionTrie<SubscriptionOptions>): MatchTopic & { topics: string[] } {
  const topics: string[] = [];
  return Object.assign((topic: string) => (topics.push(topic), trie.match(topic)), { topics });
}

const first: PickMember = (_filter, members) => members[0];
const message = (topic: string, extra: Partial<RoutedMessage> = {}): RoutedMessage => ({
  topic,
  payload: new Uint8Array([1]),
  qos: 1,
  retain: false,
  ...extra,
});

describe('planPublish', () => {
  const trie = trieOf(['#', 's1', 1], ['$SYS/#', 's2', 0], ['a', 's3', 2]);

  it('[MQTT-3.3.2-5 v5] an expired message is neither routed nor matched, but counts as received', () => {
    const match = matcher(trie);
    const plan = planPublish([message('a', { expiresAt: 100 }), message('b', { expiresAt: 101 })], match, first, 100);
    expect(plan.received).toBe(2);
    expect(plan.routes.map((route) => route.message.topic)).toEqual(['b']);
    expect(match.topics).toEqual(['b']);
  });

  it('messages without an expiry are routed', () => {
    const plan = planPublish([message('a')], trie.match.bind(trie), first, Number.MAX_SAFE_INTEGER);
    expect(plan.routes).toHaveLength(1);
  });

  it("a '$' topic is routed but not counted as received: it is the broker's own", () => {
    const plan = planPublish([message('$SYS/broker/uptime'), message('a')], trie.match.bind(trie), first, 0);
    expect(plan.received).toBe(1);
    expect(plan.routes.map((route) => route.message.topic)).toEqual(['$SYS/broker/uptime', 'a']);
    // [MQTT-4.7.2-1] '#' does not reach the '$' topic.
    expect(plan.routes[0]!.deliveries.map((d) => d.session)).toEqual(['s2']);
  });

  it('keeps batch order and plans each message with planDeliveries', () => {
    const messages = [message('a', { qos: 2 }), message('b', { qos: 0 }), message('a', { qos: 0 })];
    const plan = planPublish(messages, trie.match.bind(trie), first, 0);
    expect(plan.routes.map((route) => route.message)).toEqual(messages);
    const a = plan.routes[0]!.deliveries;
    expect(a.map((d) => [d.session, d.qos]).sort()).toEqual([['s1', 1], ['s3', 2]]);
    expect(plan.routes[1]!.deliveries).toEqual([{ session: 's1', qos: 0, retain: false, filters: ['#'] }]);
  });

  it('[MQTT-3.3.1-10] an empty retained message is still routed to current subscribers', () => {
    const plan = planPublish([message('a', { retain: true, payload: new Uint8Array(0) })], trie.match.bind(trie), first, 0);
    expect(plan.routes[0]!.message.retain).toBe(true);
    expect(plan.routes[0]!.deliveries.map((d) => d.session).sort()).toEqual(['s1', 's3']);
  });

  it('[MQTT 5.0 §4.8.2] shared members are picked in batch order, one per message', () => {
    const shared = trieOf(['$share/g/t', 'm1', 1], ['$share/g/t', 'm2', 1]);
    const balancer = new SharedSubscriptionBalancer();
    const pick: PickMember = (filter, members) => balancer.pick(filter, members, 0);
    const plan = planPublish([message('t'), message('t'), message('t')], shared.match.bind(shared), pick, 0);
    expect(plan.routes.map((route) => route.deliveries.map((d) => d.session))).toEqual([['m1'], ['m2'], ['m1']]);
  });

  it('an empty batch plans nothing', () => {
    expect(planPublish([], trie.match.bind(trie), first, 0)).toEqual({ received: 0, routes: [] });
  });
});
