// planDeliveries: one copy per session, No Local, Retain As Published, Subscription Identifiers, shared groups.
import { describe, expect, it } from 'vitest';
import type { QoS } from '../../../core/codec/packets.js';
import { planDeliveries, type FanOutMessage, type PickMember } from '../../../core/routing/fan-out.js';
import { hasExpired } from '../../../core/routing/message.js';
import type { SubscriptionOptions } from '../../../core/routing/subscription.js';
import { SubscriptionTrie } from '../../../core/topic/trie.js';

function options(qos: QoS, extra: Partial<SubscriptionOptions> = {}): SubscriptionOptions {
  return { qos, noLocal: false, retainAsPublished: false, ...extra };
}

/** A trie holding [filter, session, options] triples. */
function trieOf(...subs: Array<[string, string, SubscriptionOptions]>): SubscriptionTrie<SubscriptionOptions> {
  const trie = new SubscriptionTrie<SubscriptionOptions>();
  for (const [filter, session, value] of subs) trie.add(filter, session, value);
  return trie;
}

const first: PickMember = (_filter, members) => members[0];
const message = (extra: Partial<FanOutMessage> = {}): FanOutMessage => ({ qos: 2, retain: false, ...extra });

describe('planDeliveries', () => {
  it('[MQTT-3.3.4-2 v5] one copy per session at the highest QoS of its matching subscriptions', () => {
    const trie = trieOf(['a/b', 's1', options(0)], ['a/+', 's1', options(1)], ['#', 's2', options(2)]);
    const plans = planDeliveries(trie.match('a/b'), message(), first);
    expect(plans).toHaveLength(2);
    const s1 = plans.find((p) => p.session === 's1')!;
    expect(s1.qos).toBe(1);
    expect(s1.filters.sort()).toEqual(['a/+', 'a/b']);
    expect(plans.find((p) => p.session === 's2')!.qos).toBe(2);
  });

  it('[MQTT-3.8.4-8 v5] the copy is never above the message QoS', () => {
    const trie = trieOf(['a', 's1', options(2)]);
    expect(planDeliveries(trie.match('a'), message({ qos: 1 }), first)[0]!.qos).toBe(1);
    expect(planDeliveries(trie.match('a'), message({ qos: 0 }), first)[0]!.qos).toBe(0);
  });

  it('[MQTT-3.8.3-3 v5] No Local: the publishing session gets nothing through that subscription', () => {
    const trie = trieOf(['a', 's1', options(1, { noLocal: true })], ['a', 's2', options(1, { noLocal: true })]);
    const plans = planDeliveries(trie.match('a'), message({ origin: 's1' }), first);
    expect(plans.map((p) => p.session)).toEqual(['s2']);
  });

  it('[MQTT-3.8.3-3 v5] No Local applies per subscription: an overlapping one without it still delivers', () => {
    const trie = trieOf(['a/b', 's1', options(2, { noLocal: true, subscriptionIdentifier: 1 })], ['a/+', 's1', options(1, { subscriptionIdentifier: 2 })]);
    const [plan, ...rest] = planDeliveries(trie.match('a/b'), message({ origin: 's1' }), first);
    expect(rest).toEqual([]);
    expect(plan).toEqual({ session: 's1', qos: 1, retain: false, filters: ['a/+'], subscriptionIdentifiers: [2] });
  });

  it('No Local without an origin (a broker-made message) delivers', () => {
    const trie = trieOf(['a', 's1', options(1, { noLocal: true })]);
    expect(planDeliveries(trie.match('a'), message(), first).map((p) => p.session)).toEqual(['s1']);
  });

  it('[MQTT-3.3.1-12 v5] RETAIN is 0 on live forwarding without Retain As Published', () => {
    const trie = trieOf(['a', 's1', options(1)]);
    expect(planDeliveries(trie.match('a'), message({ retain: true }), first)[0]!.retain).toBe(false);
  });

  it('[MQTT-3.3.1-13 v5] Retain As Published keeps the RETAIN flag, if any matching subscription has it', () => {
    const trie = trieOf(['a/b', 's1', options(1)], ['a/#', 's1', options(0, { retainAsPublished: true })]);
    expect(planDeliveries(trie.match('a/b'), message({ retain: true }), first)[0]!.retain).toBe(true);
    expect(planDeliveries(trie.match('a/b'), message({ retain: false }), first)[0]!.retain).toBe(false);
  });

  it('[MQTT-3.3.4-4 v5] a single copy carries the identifiers of every matching subscription that has one', () => {
    const trie = trieOf(
      ['a/b', 's1', options(1, { subscriptionIdentifier: 7 })],
      ['a/+', 's1', options(1, { subscriptionIdentifier: 9 })],
      ['#', 's1', options(1)],
    );
    const [plan] = planDeliveries(trie.match('a/b'), message(), first);
    expect(plan!.subscriptionIdentifiers!.sort()).toEqual([7, 9]);
  });

  it('[MQTT-3.3.4-3 v5] no identifiers field when no matching subscription has one', () => {
    const trie = trieOf(['a', 's1', options(1)]);
    expect(planDeliveries(trie.match('a'), message(), first)[0]).not.toHaveProperty('subscriptionIdentifiers');
  });

  it('[MQTT 5.0 §4.8.2] a shared subscription gets one copy, for the member the picker chose', () => {
    const trie = trieOf(['$share/g/a', 's1', options(1)], ['$share/g/a', 's2', options(2)], ['$share/g/a', 's3', options(0)]);
    const seen: Array<readonly string[]> = [];
    const plans = planDeliveries(trie.match('a'), message(), (filter, members) => {
      expect(filter).toBe('$share/g/a');
      seen.push(members);
      return 's2';
    });
    expect(seen).toEqual([['s1', 's2', 's3']]);
    expect(plans).toEqual([{ session: 's2', qos: 2, retain: false, filters: ['$share/g/a'], shareFilter: '$share/g/a' }]);
  });

  it('[MQTT-4.8.2-3 v5] the shared copy has the QoS granted to the member that receives it', () => {
    const trie = trieOf(['$share/g/a', 's1', options(0)], ['$share/g/a', 's2', options(2)]);
    expect(planDeliveries(trie.match('a'), message(), () => 's1')[0]!.qos).toBe(0);
    expect(planDeliveries(trie.match('a'), message(), () => 's2')[0]!.qos).toBe(2);
  });

  it('each shared subscription (group and filter) picks independently', () => {
    const trie = trieOf(['$share/g/a/+', 's1', options(1)], ['$share/h/a/+', 's1', options(1)], ['$share/g/a/#', 's2', options(1)]);
    const plans = planDeliveries(trie.match('a/b'), message(), first);
    expect(plans.map((p) => `${p.shareFilter} ${p.session}`).sort()).toEqual(['$share/g/a/# s2', '$share/g/a/+ s1', '$share/h/a/+ s1']);
  });

  it('a session with a shared and an ordinary subscription gets a separate shared copy only when picked', () => {
    const trie = trieOf(['a', 's1', options(0)], ['$share/g/a', 's1', options(2)], ['$share/g/a', 's2', options(2)]);
    const picked = planDeliveries(trie.match('a'), message(), () => 's1');
    expect(picked.map((p) => [p.session, p.filters, p.qos])).toEqual([
      ['s1', ['a'], 0],
      ['s1', ['$share/g/a'], 2],
    ]);
    const notPicked = planDeliveries(trie.match('a'), message(), () => 's2');
    expect(notPicked.map((p) => [p.session, p.filters])).toEqual([
      ['s1', ['a']],
      ['s2', ['$share/g/a']],
    ]);
  });

  it('[MQTT-3.8.3-4 v5] No Local is ignored on a shared subscription (the session refuses it anyway)', () => {
    const trie = trieOf(['$share/g/a', 's1', options(1, { noLocal: true })]);
    expect(planDeliveries(trie.match('a'), message({ origin: 's1' }), first).map((p) => p.session)).toEqual(['s1']);
  });

  it('Retain As Published and the identifier apply to the shared copy too', () => {
    const trie = trieOf(['$share/g/a', 's1', options(1, { retainAsPublished: true, subscriptionIdentifier: 3 })]);
    const [plan] = planDeliveries(trie.match('a'), message({ retain: true }), first);
    expect(plan).toMatchObject({ retain: true, subscriptionIdentifiers: [3] });
  });

  it('a picker that returns nothing (or a non-member) drops the shared copy', () => {
    const trie = trieOf(['$share/g/a', 's1', options(1)]);
    expect(planDeliveries(trie.match('a'), message(), () => undefined)).toEqual([]);
    expect(planDeliveries(trie.match('a'), message(), () => 'nobody')).toEqual([]);
  });
});

describe('hasExpired', () => {
  it('[MQTT-3.3.2-5 v5] a message expires at its expiry time, never without one', () => {
    expect(hasExpired({}, 1e15)).toBe(false);
    expect(hasExpired({ expiresAt: 1000 }, 999)).toBe(false);
    expect(hasExpired({ expiresAt: 1000 }, 1000)).toBe(true);
    expect(hasExpired({ expiresAt: 1000 }, 1001)).toBe(true);
  });
});
