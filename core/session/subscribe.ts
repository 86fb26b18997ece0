// SUBSCRIBE and UNSUBSCRIBE: which filters are granted at which QoS, the SUBACK codes, and what follows.
//
//   SUBSCRIBE ──▶ past MAX_FILTERS_PER_SUBSCRIBE? per filter: valid? allowed by the ACL? within the
//     subscription quota? ──▶ stored here
//     ──subscribeShards──▶ the shards register them and answer with a first page of retained messages
//     ──subscribed──▶ SUBACK, then the retained messages Retain Handling asks for, in rounds
//     (retained-replay.ts)
//   UNSUBSCRIBE ──▶ forgotten here and in the shards ──▶ UNSUBACK
import type { QoS, SubscribePacket, Subscription, UnsubscribePacket } from '../codec/packets.js';
import { maySubscribe } from '../acl/acl.js';
import { ReasonCode, subackFailureFor, type ReasonCodeValue } from '../reason-codes.js';
import { sessionName } from '../routing/message.js';
import { subscriptionOptions, type SubscribeOutcome } from '../routing/subscription.js';
import { isValidTopicFilter, parseSharedSubscription } from '../topic/validate.js';
import { aclIdentity } from './admission.js';
import type { Effects, SubscribeContinuation } from './effects.js';
import { endConnection } from './lifecycle.js';
import { deliver, queueRoom, replayNextRound } from './outbound.js';
import { endReplay, endReplays, takeRetained, type RetainedPlan } from './retained-replay.js';
import { ownerOf, type Connection, type SessionConfig, type State, type StoredSession } from './state.js';

export type FilterDecision =
  | { ok: true; subscription: Subscription; grantedQoS: QoS }
  | { ok: false; topicFilter: string; reasonCode: number };

/**
 * True when a filter can match the tenant's $SYS topics: subscribing to one starts its statistics rounds.
 * Filters starting with a wildcard cannot match them [MQTT-4.7.2-1].
 */
export function isSysFilter(filter: string): boolean {
  const inner = parseSharedSubscription(filter)?.filter ?? filter;
  return inner === '$SYS' || inner.startsWith('$SYS/');
}

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

export function onSubscribe(state: State, connection: Connection, packet: SubscribePacket, now: number, config: SessionConfig, out: Effects): void {
  const session = state.session;
  const record = session.record!;
  const v5 = connection.protocolVersion === 5;
  // [MQTT-3.8.3-4 v5] No Local on a shared subscription is a protocol error.
  if (v5 && packet.subscriptions.some((s) => s.noLocal && parseSharedSubscription(s.topicFilter))) {
    return endConnection(state, connection, { will: 'publish', reasonCode: ReasonCode.ProtocolError }, now, config, out);
  }
  const subscriptionIdentifier = v5 ? packet.properties?.subscriptionIdentifiers?.[0] : undefined;
  const token = record.token;
  const identity = aclIdentity(connection.clientId, token);
  // Filters past the per-SUBSCRIBE limit are refused unexamined: 20,000 filters cost no ACL walk.
  const examined = packet.subscriptions.slice(0, config.maximumFiltersPerSubscribe);
  const decisions = decideSubscriptions({ ...packet, subscriptions: examined }, connection.protocolVersion, (filter) => !token || maySubscribe(token.acl, identity, filter));
  const pastLimit = packet.subscriptions.slice(examined.length);
  for (const { topicFilter } of pastLimit) {
    decisions.push({ ok: false, topicFilter, reasonCode: subackFailureFor(ReasonCode.QuotaExceeded, connection.protocolVersion) });
  }
  if (pastLimit.length > 0) out.persist({ op: 'count', counter: 'limit_filters_per_subscribe', n: pastLimit.length });
  // The deployment's bound, or the token's if lower; anonymous sessions get the deployment's.
  const maxSubscriptions = Math.min(config.maximumSubscriptions, token?.limits.maxSubscriptions ?? Infinity);
  const refusedByQuota = applySubscriptionQuota(decisions, session, maxSubscriptions, connection.protocolVersion);
  if (refusedByQuota > 0) out.persist({ op: 'count', counter: 'limit_subscriptions', n: refusedByQuota });

  const then: SubscribeContinuation = { packetId: packet.packetId, reasonCodes: subackCodes(decisions), retained: [], added: [], epoch: state.routes.epoch };
  const forShards = [];
  for (const decision of decisions) {
    if (!decision.ok) continue;
    const { topicFilter: filter, qos, noLocal, retainAsPublished, retainHandling } = decision.subscription;
    const options = subscriptionOptions({ qos, noLocal, retainAsPublished, ...(subscriptionIdentifier === undefined ? {} : { subscriptionIdentifier }) });
    if (!session.subscriptions.has(filter)) then.added.push(filter);
    session.subscriptions.set(filter, options);
    out.persist({ op: 'putSubscription', filter, options });
    forShards.push({ filter, ...options });
    then.retained.push({ filter, qos, retainHandling: v5 ? (retainHandling ?? 0) : 0, ...(subscriptionIdentifier === undefined ? {} : { subscriptionIdentifier }) });
  }
  // A filter subscribed again starts its retained messages afresh.
  endReplays(connection, forShards.map(({ filter }) => filter), out);
  if (forShards.some(({ filter }) => isSysFilter(filter))) out.emit({ type: 'wantSys', tenant: record.tenant });
  if (forShards.length === 0) return onSubscribed(state, connection.id, then, new Map(), now, config, out);
  out.emit({
    type: 'subscribeShards',
    tenant: record.tenant,
    session: sessionName(record.tenant, record.clientId),
    connectionId: connection.id,
    subscriptions: forShards,
    then,
  });
}

/**
 * The shards registered a SUBSCRIBE's filters. Undefined: they could not be reached: no SUBACK, the
 * connection closes and the filters it added are forgotten (a resumed session must not claim subscriptions
 * no shard may hold); the client subscribes again after it reconnects.
 */
export function onSubscribed(
  state: State,
  connectionId: string,
  then: SubscribeContinuation,
  results: ReadonlyMap<string, SubscribeOutcome> | undefined,
  now: number,
  config: SessionConfig,
  out: Effects,
): void {
  const connection = state.connections.get(connectionId);
  if (then.replayRound !== undefined) return onReplayRound(state, connection, then, results, now, config, out);
  if (!results) {
    if (then.epoch === state.routes.epoch && then.added.length > 0) forgetSubscriptions(state, then.added, out);
    // Our failure, not the client's: no will (lifecycle.ts WillFate).
    if (connection) endConnection(state, connection, { will: 'discard', reasonCode: ReasonCode.UnspecifiedError }, now, config, out);
    return;
  }
  if (connection?.phase !== 'connected') return;
  // [MQTT-3.8.4-1] SUBACK with one code per filter, in order [MQTT-3.8.4-5].
  out.send(connection.id, { type: 'suback', packetId: then.packetId, reasonCodes: then.reasonCodes });

  // [MQTT-3.3.1-6] retained messages follow (again on a re-subscription [MQTT-3.8.4-3]), RETAIN=1
  // [MQTT-3.3.1-8]; 5.0 Retain Handling decides whether: 0 always [MQTT-3.3.1-9 v5], 1 only for a new
  // subscription [MQTT-3.3.1-10 v5], 2 never [MQTT-3.3.1-11 v5].
  const wanted = then.retained.filter((plan) => {
    const result = results.get(plan.filter);
    return result !== undefined && plan.retainHandling !== 2 && (plan.retainHandling !== 1 || result.isNew);
  });
  replayRetained(state, connection, wanted, results, now, config, out);
}

/** A further round of a retained replay answered (retained-replay.ts). */
function onReplayRound(
  state: State,
  connection: Connection | undefined,
  then: SubscribeContinuation,
  results: ReadonlyMap<string, SubscribeOutcome> | undefined,
  now: number,
  config: SessionConfig,
  out: Effects,
): void {
  const replay = connection?.replay;
  // The connection ended, or a SUBSCRIBE replaced a filter of this round: its answer is not used.
  if (!connection || !replay || replay.reading !== then.replayRound) return;
  replay.reading = undefined;
  if (!results) {
    // The shards could not be reached: the replay ends, counted; the subscriptions stay.
    endReplay(connection, out);
    out.persist({ op: 'count', counter: 'retained_replay_failed', n: 1 });
    return;
  }
  if (connection.phase !== 'connected') return;
  const held = then.retained.filter((plan) => replay.pending.has(plan.filter) && state.session.subscriptions.has(plan.filter));
  replayRetained(state, connection, held, results, now, config, out);
}

/** Delivers what the session has room for of the shards' pages; the rest waits for the next round. */
function replayRetained(
  state: State,
  connection: Connection,
  plans: readonly RetainedPlan[],
  results: ReadonlyMap<string, SubscribeOutcome>,
  now: number,
  config: SessionConfig,
  out: Effects,
): void {
  const room = queueRoom(state, connection, config);
  const retained = takeRetained(connection, plans, results, room, now, out);
  if (retained.length > 0) deliver(state, retained, now, config, out);
  replayNextRound(state, connection, config, out);
}

export function onUnsubscribe(state: State, connection: Connection, packet: UnsubscribePacket, out: Effects): void {
  const held = state.session.subscriptions;
  const reasonCodes = packet.topicFilters.map((filter) => (held.has(filter) ? ReasonCode.Success : ReasonCode.NoSubscriptionExisted));
  forgetSubscriptions(state, packet.topicFilters, out);
  endReplays(connection, packet.topicFilters, out);
  // [MQTT-3.10.4-4] UNSUBACK, even when nothing matched [MQTT-3.10.4-5].
  out.send(connection.id, { type: 'unsuback', packetId: packet.packetId, reasonCodes });
}

/** Forgets filters here and in their shards (all of them there: a shard may hold one this session lost). */
function forgetSubscriptions(state: State, filters: readonly string[], out: Effects): void {
  const { record, subscriptions } = state.session;
  for (const filter of filters) if (subscriptions.delete(filter)) out.persist({ op: 'deleteSubscription', filter });
  endReplays(ownerOf(state), filters, out);
  if (record && filters.length > 0) {
    out.emit({ type: 'unsubscribeShards', tenant: record.tenant, session: sessionName(record.tenant, record.clientId), filters: [...filters] });
  }
}

/**
 * Drops the stored subscriptions the session's token does not allow (any more): on a resume under another
 * token, and when a token's ACL changes [DESIGN §3].
 */
export function forgetUnauthorizedSubscriptions(state: State, out: Effects): void {
  const record = state.session.record;
  const token = record?.token;
  if (!record || !token) return;
  const identity = aclIdentity(record.clientId, token);
  const lost = [...state.session.subscriptions.keys()].filter((filter) => !maySubscribe(token.acl, identity, filter));
  if (lost.length > 0) forgetSubscriptions(state, lost, out);
}

/**
 * New filters past the session's bound (MAX_SUBSCRIPTIONS, or the token's maxSubscriptions if lower) are
 * refused: 0x97 Quota exceeded (5.0) / 0x80. A filter the session already holds is a re-subscription and
 * always allowed. Returns how many were refused.
 */
function applySubscriptionQuota(decisions: FilterDecision[], session: StoredSession, maxSubscriptions: number, protocolVersion: number): number {
  let held = session.subscriptions.size;
  let refused = 0;
  // A filter named twice in one SUBSCRIBE is one subscription, replaced [MQTT-3.8.4-4].
  const added = new Set<string>();
  decisions.forEach((decision, index) => {
    const filter = decision.ok ? decision.subscription.topicFilter : undefined;
    if (filter === undefined || session.subscriptions.has(filter) || added.has(filter)) return;
    if (held < maxSubscriptions) {
      held++;
      added.add(filter);
      return;
    }
    refused++;
    const reasonCode: ReasonCodeValue = ReasonCode.QuotaExceeded;
    decisions[index] = { ok: false, topicFilter: filter, reasonCode: subackFailureFor(reasonCode, protocolVersion) };
  });
  return refused;
}
