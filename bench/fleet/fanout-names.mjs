// The FanoutDO relays and hot-topic combiners a tenant's topic may use, for trees that have them.
//
// Relays are named in durable-objects/fanout-do.ts (fanoutStub: `${shard name}\0fanout\0${slot}`), a file that
// imports cloudflare:workers and so cannot be loaded here: the name is copied, and checked by the counters
// (a relay that never ran reads as all zeros). Combiners come from addresses.ts (combinerStub).
import { wranglerVar } from './broker.mjs';
import { addressOf } from './objects.mjs';

/** The topic's owning shard as a fresh router sees it (base layout): its index. */
function ownerIndex(modules, topic, shardCount) {
  const { shardOf } = modules.routing;
  return typeof shardOf === 'function' ? shardOf(topic, shardCount) : 0;
}

/** Relay slots 0..ceil(subscribers / FANOUT_THRESHOLD) of the topic's shard; none when the tree has no relays. */
export function fanoutAddressesOf(fleet, tenant, topic, subscribers) {
  const { broker, modules } = fleet;
  if (!broker.bindings.has('FANOUT')) return [];
  const shard = addressOf(modules.addresses.shardStub, tenant, ownerIndex(modules, topic, fleet.shardCount));
  if (!shard) return [];
  const threshold = Number(wranglerVar(broker.root, 'FANOUT_THRESHOLD') ?? 1000);
  const slots = Math.ceil(Math.max(1, subscribers) / threshold);
  return Array.from({ length: slots }, (_, slot) => ({ binding: 'FANOUT', name: `${shard.name}\u0000fanout\u0000${slot}` }));
}

/** Every combiner slot of the topic's shard (HOT_TOPIC_COMBINERS); none when the tree has no combiners. */
export function combinerAddressesOf(fleet, tenant, topic) {
  const { broker, modules } = fleet;
  if (!broker.bindings.has('COMBINER') || typeof modules.addresses.combinerStub !== 'function') return [];
  const slots = Number(wranglerVar(broker.root, 'HOT_TOPIC_COMBINERS') ?? 16);
  const index = ownerIndex(modules, topic, fleet.shardCount);
  return Array.from({ length: slots }, (_, slot) => addressOf(modules.addresses.combinerStub, tenant, index, slot)).filter(Boolean);
}
