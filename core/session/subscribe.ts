// SUBSCRIBE and UNSUBSCRIBE decisions: which filters are granted at which QoS, and the SUBACK codes.
import type { QoS, SubscribePacket, Subscription } from '../codec/packets.js';
import { ReasonCode, subackFailureFor } from '../reason-codes.js';
import { isValidTopicFilter } from '../topic/validate.js';

export type FilterDecision =
  | { ok: true; subscription: Subscription; grantedQoS: QoS }
  | { ok: false; topicFilter: string; reasonCode: number };

/** The server's ceiling on granted QoS. */
export const MAXIMUM_QOS: QoS = 2;

/**
 * Decide each filter of a SUBSCRIBE independently [MQTT-3.8.4-4]: a valid filter is granted
 * min(requested, maximum) [MQTT-3.8.4-5]; an invalid one is refused with 0x80 / 0x8F in its SUBACK slot.
 */
export function decideSubscriptions(packet: SubscribePacket, protocolVersion: number, isAllowed: (filter: string) => boolean = () => true): FilterDecision[] {
  return packet.subscriptions.map((subscription): FilterDecision => {
    const { topicFilter } = subscription;
    if (!isValidTopicFilter(topicFilter)) {
      return { ok: false, topicFilter, reasonCode: subackFailureFor(ReasonCode.TopicFilterInvalid, protocolVersion) };
    }
    if (!isAllowed(topicFilter)) {
      return { ok: false, topicFilter, reasonCode: subackFailureFor(ReasonCode.NotAuthorized, protocolVersion) };
    }
    const grantedQoS = Math.min(subscription.qos, MAXIMUM_QOS) as QoS;
    return { ok: true, subscription: { ...subscription, qos: grantedQoS }, grantedQoS };
  });
}

/** SUBACK return codes in request order [MQTT-3.9.3-1]. */
export function subackCodes(decisions: readonly FilterDecision[]): number[] {
  return decisions.map((decision) => (decision.ok ? decision.grantedQoS : decision.reasonCode));
}

/** QoS of a forwarded copy: the lower of the message's and the subscription's [MQTT-3.8.4-6]. */
export function deliveryQoS(messageQoS: QoS, subscriptionQoS: QoS): QoS {
  return (messageQoS < subscriptionQoS ? messageQoS : subscriptionQoS) as QoS;
}
