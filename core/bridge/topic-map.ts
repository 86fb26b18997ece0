// Which filters a bridge subscribes to on each side, and where a message that arrives on one side goes on
// the other: strip the prefix of the side it came from, put on the other side's prefix.
//
//   { pattern: "t/#", direction: "both", localPrefix: "here/", remotePrefix: "there/" }
//   local subscription  here/t/#    here/t/a  → there/t/a
//   remote subscription there/t/#   there/t/b → here/t/b
import type { Subscription } from '../codec/index.js';
import { topicMatchesFilter } from '../topic/match.js';
import type { TopicMapping } from './config.js';

export type Side = 'local' | 'remote';

const crossesFrom = (mapping: TopicMapping, side: Side) => mapping.direction === 'both' || mapping.direction === (side === 'local' ? 'out' : 'in');
const prefixOn = (mapping: TopicMapping, side: Side) => (side === 'local' ? mapping.localPrefix : mapping.remotePrefix);

/** The filters to hold on `side` (a filter named twice once, at the higher QoS), each with its QoS. */
export function filtersOn(topics: TopicMapping[], side: Side): Array<{ filter: string; qos: 0 | 1 }> {
  const filters = new Map<string, 0 | 1>();
  for (const mapping of topics) {
    if (!crossesFrom(mapping, side)) continue;
    const filter = prefixOn(mapping, side) + mapping.pattern;
    filters.set(filter, Math.max(filters.get(filter) ?? 0, mapping.qos) as 0 | 1);
  }
  return [...filters].map(([filter, qos]) => ({ filter, qos }));
}

/**
 * The subscriptions for `side`: No Local where the server speaks 5.0 [MQTT-3.8.3-3 v5], so what the bridge
 * publishes there does not come back to it; Retain As Published so a retained message stays retained on the
 * other side; Retain Handling 1 so a reconnect of the persistent session does not replay retained messages
 * it already bridged.
 */
export function subscriptionsOn(topics: TopicMapping[], side: Side, v5: boolean): Subscription[] {
  return filtersOn(topics, side).map(({ filter, qos }) => ({
    topicFilter: filter,
    qos,
    ...(v5 ? { noLocal: true, retainAsPublished: true, retainHandling: 1 as const } : {}),
  }));
}

/** The topic on the other side for a message that arrived on `from`, by the first mapping that covers it. */
export function mapTopic(topics: TopicMapping[], from: Side, topic: string): string | undefined {
  for (const mapping of topics) {
    if (!crossesFrom(mapping, from)) continue;
    const prefix = prefixOn(mapping, from);
    if (!topic.startsWith(prefix) || !topicMatchesFilter(prefix + mapping.pattern, topic)) continue;
    return prefixOn(mapping, from === 'local' ? 'remote' : 'local') + topic.slice(prefix.length);
  }
  return undefined;
}
