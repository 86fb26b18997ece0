// sharedCopy and planSharedRedelivery: a shared copy refused as stale goes to another member not yet tried.
import { describe, expect, it } from 'vitest';
import type { QoS } from '../../../core/codec/packets.js';
import type { MatchTopic, PickMember, PlannedDelivery } from '../../../core/routing/fan-out.js';
import type { RoutedMessage } from '../../../core/routing/message.js';
import { planSharedRedelivery, sharedCopy, type SharedCopy } from '../../../core/routing/shared-redelivery.js';
import type { SubscriptionOptions } from '../../../core/routing/subscription.js';
import { SubscriptionTrie } from '../../../core/topic/trie.js';

const G = '$share/g/a';

function trieOf(...subs: Array<[filter: string, session: string, qos: QoS]>): SubscriptionTrie<SubscriptionOptions> {
  const trie = new SubscriptionTrie<SubscriptionOptions>();
  for (const [filter, session, qos] of subs) trie.add(filter, session, { qos });
  return trie;
}

/** Picks the first member offered and records every offer. */
function recordingPick(): PickMember & { offers: Array<[string, string[]]> } {
  const offers: Array<[string, string[]]> = [];
  return Object.assign((filter: string, members: readonly string[]) => (offers.push([filter, [...members]]), members[0]), { offers });
}

const message = (extra: Partial<RoutedMessage> = {}): RoutedMessage => ({
  topic: 'a',
  payload: new Uint8Array([1]),
  qos: 2,
  retain: false,
  ...extra,
});
const copy = (tried: string[], extra: Partial<RoutedMessage> = {}): SharedCopy<RoutedMessage> => ({
  filter: G,
  message: message(extra),
  tried,
});

describe('sharedCopy', () => {
  const shared: PlannedDelivery = { session: 's2', qos: 1, retain: false, filters: [G], shareFilter: G };

  it('records the shared filter and the members tried, the planned one last', () => {
    const m = message();
    expect(sharedCopy(shared, m)).toEqual({ filter: G, message: m, tried: ['s2'] });
    expect(sharedCopy(shared, m, ['s1'])).toEqual({ filter: G, message: m, tried: ['s1', 's2'] });
  });

  it('does not change the earlier list', () => {
    const tried = ['s1'];
    sharedCopy(shared, message(), tried);
    expect(tried).toEqual(['s1']);
  });

  it('is undefined for an ordinary copy', () => {
    expect(sharedCopy({ session: 's1', qos: 1, retain: false, filters: ['a'] }, message())).toBeUndefined();
  });
});

describe('planSharedRedelivery', () => {
  const trie = trieOf([G, 's1', 1], [G, 's2', 2], [G, 's3', 0], ['$share/h/a', 's4', 1], ['a', 's5', 1], ['$share/g/+', 's6', 1]);
  const match: MatchTopic = (topic) => trie.match(topic);

  it('[MQTT 5.0 §4.8.2] offers only the members of the same shared filter not yet tried', () => {
    const pick = recordingPick();
    const plan = planSharedRedelivery(copy(['s1']), match, pick, 0);
    expect(pick.offers).toEqual([[G, ['s2', 's3']]]);
    expect(plan).toEqual({ session: 's2', qos: 2, retain: false, filters: [G], shareFilter: G });
  });

  it('[MQTT-4.8.2-3 v5] the copy goes at the QoS granted to the new member', () => {
    const plan = planSharedRedelivery(copy(['s1', 's2']), match, recordingPick(), 0);
    expect(plan?.session).toBe('s3');
    expect(plan?.qos).toBe(0);
  });

  it('follows the pick among the remaining members', () => {
    const last: PickMember = (_filter, members) => members[members.length - 1];
    expect(planSharedRedelivery(copy(['s1']), match, last, 0)?.session).toBe('s3');
  });

  it('is undefined once every member has been tried', () => {
    const pick = recordingPick();
    expect(planSharedRedelivery(copy(['s1', 's2', 's3']), match, pick, 0)).toBeUndefined();
    expect(pick.offers).toEqual([]);
  });

  it('is undefined when the group has no members left here', () => {
    expect(planSharedRedelivery(copy(['s1']), () => [], recordingPick(), 0)).toBeUndefined();
  });

  it('[MQTT-3.3.2-5 v5] an expired message is dropped: nothing matched, nobody picked', () => {
    const pick = recordingPick();
    let matched = 0;
    const counting: MatchTopic = (topic) => (matched++, trie.match(topic));
    expect(planSharedRedelivery(copy(['s1'], { expiresAt: 100 }), counting, pick, 100)).toBeUndefined();
    expect(matched).toBe(0);
    expect(pick.offers).toEqual([]);
    expect(planSharedRedelivery(copy(['s1'], { expiresAt: 101 }), counting, pick, 100)?.session).toBe('s2');
  });

  it('chained with sharedCopy, reaches each member once and then stops', () => {
    const pick = recordingPick();
    let current = copy(['s1']);
    const reached: string[] = [];
    for (let plan = planSharedRedelivery(current, match, pick, 0); plan; plan = planSharedRedelivery(current, match, pick, 0)) {
      reached.push(plan.session);
      current = sharedCopy(plan, current.message, current.tried)!;
    }
    expect(reached).toEqual(['s2', 's3']);
    expect(current.tried).toEqual(['s1', 's2', 's3']);
  });
});
