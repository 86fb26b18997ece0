// Big fan-outs through relay objects: which copies of one message a shard sends itself and which it hands
// to relays, a chunk of at most `threshold` sessions per relay, the message once per chunk (DESIGN §7).
//
// Threshold 5, a message matching 12 sessions s1…s12 and a shared subscription ($share/g/t → s3):
//
//   12 ordinary copies > 5       → ceil(12 / 5) = 3 slots; each session's slot is fanoutSlot(session, 3),
//                                  or the next slot with room: every chunk holds ≤ 5
//   the $share/g/t copy for s3   → direct, always: the shard redelivers it if s3 no longer holds the filter
//   shard calls                  → 3 relays + 1 session, instead of 13 sessions
//
// A session keeps its slot while the number of slots stays the same (a consistent hash: when it grows from
// S to S + 1, about 1/(S + 1) of the sessions move), so the same relay keeps serving the same subscribers,
// whatever the topic. Order across paths is DeliveryLanes' business (delivery-lanes.ts).
import type { PlannedDelivery } from './fan-out.js';
import type { ApplicationMessage, Delivery } from './message.js';

/** A planned copy as a relay gets it: a shared subscription's copy never goes through a relay. */
export type RelayCopy = Omit<PlannedDelivery, 'shareFilter'>;

/** One message and the copies of one chunk: what a shard hands a relay (the message once, not per copy). */
export interface RelayItem {
  message: ApplicationMessage;
  copies: RelayCopy[];
}

/** A session of a relayed chunk that answered something other than "online, every filter held". */
export interface SessionAnswer {
  session: string;
  /** Filters the session no longer holds: the shard forgets them. */
  stale: string[];
  online: boolean;
}

/**
 * A relay's answer per item: every copy accepted (sessions not listed are online and hold their filters),
 * or failed: then the publish fails and no acknowledgement leaves [DESIGN §3].
 */
export type RelayAnswer = { ok: true; sessions: SessionAnswer[] } | { ok: false; overloaded: boolean; error: string };

/** The copies a shard sends itself, and the chunks it hands to relays by slot. */
export interface FanoutPlan {
  direct: PlannedDelivery[];
  chunks: Array<{ slot: number; copies: RelayCopy[] }>;
}

/**
 * Splits one message's copies: all direct while the ordinary copies are at most `threshold`; past it, the
 * ordinary copies go in ceil(n / threshold) chunks of at most `threshold` sessions each, and shared
 * subscriptions' copies (at most one per group) stay direct. Chunks come in slot order, empty ones left out.
 */
export function planFanout(deliveries: readonly PlannedDelivery[], threshold: number): FanoutPlan {
  const limit = Math.max(1, threshold);
  let ordinary = 0;
  for (const delivery of deliveries) if (delivery.shareFilter === undefined) ordinary++;
  if (ordinary <= limit) return { direct: [...deliveries], chunks: [] };
  const slots = Math.ceil(ordinary / limit);
  const chunks: RelayCopy[][] = Array.from({ length: slots }, () => []);
  const direct: PlannedDelivery[] = [];
  for (const delivery of deliveries) {
    if (delivery.shareFilter !== undefined) {
      direct.push(delivery);
      continue;
    }
    // slots × limit ≥ ordinary, so a slot with room is always found.
    let slot = fanoutSlot(delivery.session, slots);
    while (chunks[slot]!.length >= limit) slot = (slot + 1) % slots;
    chunks[slot]!.push(delivery);
  }
  return { direct, chunks: chunks.flatMap((copies, slot) => (copies.length > 0 ? [{ slot, copies }] : [])) };
}

/**
 * A session's preferred slot among `slots`: a jump consistent hash (Lamping and Veach) of its name, so
 * adding a slot moves only the sessions the new slot takes.
 */
export function fanoutSlot(session: string, slots: number): number {
  let state = fnv1a(session) || 1;
  let slot = 0;
  let next = 0;
  while (next < slots) {
    slot = next;
    // xorshift32: the pseudo-random sequence seeded by the name; r in (0, 1).
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    next = Math.floor((slot + 1) / (state / 0x1_0000_0000));
  }
  return slot;
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/** The copy a session gets of a message, as planned (planDeliveries). */
export function deliveryFor(plan: RelayCopy, message: ApplicationMessage): Delivery {
  return {
    topic: message.topic,
    payload: message.payload,
    qos: plan.qos,
    retain: plan.retain,
    filters: plan.filters,
    ...(message.properties ? { properties: message.properties } : {}),
    ...(plan.subscriptionIdentifiers ? { subscriptionIdentifiers: plan.subscriptionIdentifiers } : {}),
    ...(message.expiresAt !== undefined ? { expiresAt: message.expiresAt } : {}),
    // Only a copy delivered at QoS 2 promises exactly once; at QoS 0/1 a duplicate is allowed.
    ...(message.exactlyOnceKey !== undefined && plan.qos === 2 ? { exactlyOnceKey: message.exactlyOnceKey } : {}),
  };
}

/** The application-message fields a relay needs (a routed message's origin and limits stay behind). */
export function relayedMessage(message: ApplicationMessage): ApplicationMessage {
  const relayed: ApplicationMessage = { topic: message.topic, payload: message.payload, qos: message.qos, retain: message.retain };
  if (message.properties) relayed.properties = message.properties;
  if (message.expiresAt !== undefined) relayed.expiresAt = message.expiresAt;
  if (message.exactlyOnceKey !== undefined) relayed.exactlyOnceKey = message.exactlyOnceKey;
  return relayed;
}

/**
 * The bytes an outbox counts for a message or copy: payload and topic (properties are bounded by the packet
 * size and left out). The payload is shared by every copy in memory, but each call carries it again.
 */
export function messageBytes(message: { topic: string; payload: Uint8Array }): number {
  return message.payload.byteLength + message.topic.length;
}

/** A relay item's bytes: the message once, and each copy's session and filters. */
export function relayItemBytes(item: RelayItem): number {
  let bytes = messageBytes(item.message);
  for (const copy of item.copies) {
    bytes += COPY_OVERHEAD + copy.session.length;
    for (const filter of copy.filters) bytes += filter.length;
  }
  return bytes;
}

/** Bytes a copy's fixed fields take in a call, roughly. */
const COPY_OVERHEAD = 32;
