// Which sessions get a copy of one published message, at which QoS and with which flags: the shard's decision.
//
// The trie gives every subscription matching the topic; this turns them into deliveries. Message: QoS 2,
// RETAIN 1, published by s1.
//
//   a/+            s1 {qos 1, noLocal}      skipped: s1 published it                    [MQTT-3.8.3-3 v5]
//   a/#            s1 {qos 0, id 4}         ┐ s1: one copy, QoS 0, ids [4], RETAIN 0
//   a/b            s2 {qos 1, id 7}         ┐ s2: one copy at the highest QoS (2), ids [7, 9], RETAIN 1
//   +/b            s2 {qos 2, id 9, rap}    ┘   (Retain As Published on one of them)
//   $share/g/a/b   s1 {qos 1}, s3 {qos 2}   one member, picked by the caller: a copy of its own, filters
//                                           ['$share/g/a/b'], even if that member also got a copy above
//
// No Local does not apply to shared subscriptions: setting it there is a protocol error the session refuses
// [MQTT-3.8.3-4 v5].
//
// A batch from publishers goes through planPublish: per message in order, expired ones dropped, the rest
// planned as above. Batch [a (expired), $SYS/x, b] at t: received 2 (a, b), routes [$SYS/x, b].
import type { QoS } from '../codec/packets.js';
import type { TrieEntry } from '../topic/trie.js';
import { parseSharedSubscription } from '../topic/validate.js';
import { hasExpired } from './message.js';
import { deliveryQoS, type SubscriptionOptions } from './subscription.js';

/** The parts of a published message the decision looks at. */
export interface FanOutMessage {
  qos: QoS;
  retain: boolean;
  /** The publisher's session; absent for broker-made messages. */
  origin?: string;
  /** Absolute expiry, ms since the epoch; absent = never. */
  expiresAt?: number;
}

/** One copy of the message for one session. */
export interface PlannedDelivery {
  session: string;
  qos: QoS;
  retain: boolean;
  /** The matched filters of this session (for a shared copy: the one `$share/…` filter). */
  filters: string[];
  /** Identifiers of the matched subscriptions that have one; absent when none does. */
  subscriptionIdentifiers?: number[];
  /** Set on a shared subscription's copy: its full `$share/{group}/{filter}` filter. */
  shareFilter?: string;
}

/** Picks the one member of a shared subscription that gets this message (see SharedSubscriptionBalancer). */
export type PickMember = (shareFilter: string, members: readonly string[]) => string | undefined;

/**
 * The deliveries of one message: per session one copy for its ordinary subscriptions [MQTT-3.3.4-2 v5], and
 * per shared subscription one copy to one member [MQTT 5.0 §4.8.2]. Ordinary copies come first, in match order.
 */
export function planDeliveries(
  matches: Iterable<TrieEntry<SubscriptionOptions>>,
  message: FanOutMessage,
  pickMember: PickMember,
): PlannedDelivery[] {
  const direct = new Map<string, PlannedDelivery>();
  /** Full shared filter -> member -> options, members in match (= subscription) order. */
  const shared = new Map<string, Map<string, SubscriptionOptions>>();
  for (const { filter, key, value } of matches) {
    if (parseSharedSubscription(filter) !== undefined) {
      let members = shared.get(filter);
      if (members === undefined) shared.set(filter, (members = new Map()));
      members.set(key, value);
      continue;
    }
    // [MQTT-3.8.3-3 v5] not to the publisher's own session through a No Local subscription.
    if (value.noLocal && message.origin === key) continue;
    let delivery = direct.get(key);
    if (delivery === undefined) direct.set(key, (delivery = { session: key, qos: 0, retain: false, filters: [] }));
    delivery.filters.push(filter);
    addSubscription(delivery, value, message);
  }

  const out = [...direct.values()];
  for (const [shareFilter, members] of shared) {
    const session = pickMember(shareFilter, [...members.keys()]);
    const options = session === undefined ? undefined : members.get(session);
    if (session === undefined || options === undefined) continue;
    const delivery: PlannedDelivery = { session, qos: 0, retain: false, filters: [shareFilter], shareFilter };
    // [MQTT-4.8.2-3 v5] at the QoS granted to the member that receives it.
    addSubscription(delivery, options, message);
    out.push(delivery);
  }
  return out;
}

/** The subscriptions matching a topic name (SubscriptionTrie.match). */
export type MatchTopic = (topic: string) => Iterable<TrieEntry<SubscriptionOptions>>;

/** What a shard does with one batch of published messages. */
export interface PublishPlan<M> {
  /**
   * How many count as received in the statistics: all but `$` topics, expired ones included. Clients cannot
   * publish to `$` topics, so those are the broker's own ($SYS), which must not count themselves.
   */
  received: number;
  /** The unexpired messages in batch order, each with its copies. A retained one is also kept (decideRetained). */
  routes: Array<{ message: M; deliveries: PlannedDelivery[] }>;
}

/**
 * Plans a batch in order: an expired message is neither forwarded nor kept [MQTT-3.3.2-5 v5]; every other
 * one gets planDeliveries over the subscriptions matching its topic. `pickMember` is called in batch order.
 */
export function planPublish<M extends FanOutMessage & { topic: string }>(
  messages: readonly M[],
  match: MatchTopic,
  pickMember: PickMember,
  now: number,
): PublishPlan<M> {
  const plan: PublishPlan<M> = { received: 0, routes: [] };
  for (const message of messages) {
    if (!message.topic.startsWith('$')) plan.received++;
    // [MQTT-3.3.2-5 v5] an expired message is neither forwarded nor kept.
    if (hasExpired(message, now)) continue;
    plan.routes.push({ message, deliveries: planDeliveries(match(message.topic), message, pickMember) });
  }
  return plan;
}

/** Folds one matching subscription into a session's copy. */
function addSubscription(delivery: PlannedDelivery, options: SubscriptionOptions, message: FanOutMessage): void {
  // [MQTT-3.3.4-2 v5] one copy at the highest QoS of the matching subscriptions, never above the message's
  // [MQTT-3.8.4-8 v5]: max over subscriptions of min(message, granted).
  const qos = deliveryQoS(message.qos, options.qos);
  if (qos > delivery.qos) delivery.qos = qos;
  // [MQTT-3.3.1-12 v5] RETAIN 0 on live forwarding, unless Retain As Published [MQTT-3.3.1-13 v5].
  if (options.retainAsPublished && message.retain) delivery.retain = true;
  // [MQTT-3.3.4-3 v5] [MQTT-3.3.4-4 v5] every identifier of the matching subscriptions, in one copy.
  if (options.subscriptionIdentifier !== undefined) (delivery.subscriptionIdentifiers ??= []).push(options.subscriptionIdentifier);
}
