// A shared subscription's copy whose member no longer holds the subscription goes to another member instead.
//
// The session answers deliver() with the filters it no longer holds (a lost unsubscribe, a session that just
// ended). For `$share/g/a` with members s1, s2, s3 and a message m:
//
//   m planned for s1          copy { filter '$share/g/a', tried [s1] }
//   s1: stale '$share/g/a'    → a member not yet tried, picked as usual: s2; tried [s1, s2]
//   s2: stale too             → s3; tried [s1, s2, s3]
//   s3: stale too             → no member left to try: dropped
//   m expired meanwhile       → dropped, nobody picked                                [MQTT-3.3.2-5 v5]
//
// So the group still gets the message once [MQTT 5.0 §4.8.2], and a group that has emptied ends the chain.
import { planDeliveries, type FanOutMessage, type MatchTopic, type PickMember, type PlannedDelivery } from './fan-out.js';
import { hasExpired } from './message.js';

/** What a shard keeps of a shared subscription's copy while it is in flight, to redeliver it. */
export interface SharedCopy<M> {
  /** The full `$share/{group}/{filter}` filter. */
  filter: string;
  message: M;
  /** Members this copy was planned for so far, the current one last. */
  tried: string[];
}

/** The shared copy record of a planned delivery (undefined for an ordinary one); `tried` are earlier members. */
export function sharedCopy<M>(plan: PlannedDelivery, message: M, tried: readonly string[] = []): SharedCopy<M> | undefined {
  if (plan.shareFilter === undefined) return undefined;
  return { filter: plan.shareFilter, message, tried: [...tried, plan.session] };
}

/**
 * Where a shared copy goes after its member reported the filter stale: a member of the same shared
 * subscription not yet tried, picked by `pickMember`; undefined when the message has expired (nothing is
 * matched or picked then) or no member is left.
 */
export function planSharedRedelivery<M extends FanOutMessage & { topic: string }>(
  copy: SharedCopy<M>,
  match: MatchTopic,
  pickMember: PickMember,
  now: number,
): PlannedDelivery | undefined {
  // [MQTT-3.3.2-5 v5] an expired message is not forwarded.
  if (hasExpired(copy.message, now)) return undefined;
  const members = [...match(copy.message.topic)].filter((entry) => entry.filter === copy.filter && !copy.tried.includes(entry.key));
  return planDeliveries(members, copy.message, pickMember)[0];
}
