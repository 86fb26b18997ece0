// Connection end, will and session lifetime: what happens when a connection goes, and the one alarm.
//
//   connection ends ──▶ owner? ──▶ will: now, after its Will Delay Interval, or never (DISCONNECT)
//                                 session: discarded now (expiry 0), or kept until its expiry (the alarm)
//   alarm ──▶ a delayed will that is due, then the session's expiry
//   a reset lost the owner's socket without a close event ──▶ treated as lost when noticed (DESIGN §3)
import type { Will } from '../codec/packets.js';
import type { ReasonCodeValue } from '../reason-codes.js';
import { sessionName } from '../routing/message.js';
import type { ConnectionToken } from '../tenancy/token.js';
import { aclIdentity, admitPublish, messageToRoute } from './admission.js';
import type { Effects, PresenceState } from './effects.js';
import { sessionExpiresAt, willPublishAt } from './expiry.js';
import { endReplay } from './retained-replay.js';
import { emptySession, recordOf, type Connection, type SessionConfig, type SessionRecord, type State } from './state.js';

/** Why a connection ends, and what a 5.0 client is told. */
export interface Ending {
  publishWill: boolean;
  reasonCode?: ReasonCodeValue;
}

/**
 * Ends a connection once: tells a 5.0 client why, closes the socket, then releases the session (will,
 * expiry) if this connection owned it.
 */
export function endConnection(state: State, connection: Connection, ending: Ending, now: number, config: SessionConfig, out: Effects): void {
  if (connection.phase === 'closed') return;
  const wasConnected = connection.phase === 'connected';
  connection.phase = 'closed';
  connection.pendingAcks = [];
  // Its retained replay ends with it, and the replay's row.
  endReplay(connection, out);
  out.emit({ type: 'saveConnection', connection: recordOf(connection) });
  if (wasConnected && connection.protocolVersion === 5 && ending.reasonCode !== undefined) {
    // [MQTT-4.13.2-1 v5] the server says why before it closes.
    out.send(connection.id, { type: 'disconnect', reasonCode: ending.reasonCode });
  }
  out.close(connection.id);
  if (wasConnected) releaseSession(state, connection.id, ending.publishWill, now, config, out);
}

/**
 * The connection that owned the session is gone. The will is published now, later (5.0 Will Delay Interval)
 * or not at all (DISCONNECT) [MQTT-3.1.2-8] [MQTT-3.14.4-3]; the session ends now (expiry 0) [MQTT-3.1.2-6]
 * or when its Session Expiry Interval runs out. Nothing happens if another connection already took it over.
 */
function releaseSession(state: State, connectionId: string, publishWill: boolean, now: number, config: SessionConfig, out: Effects): void {
  const record = state.session.record;
  if (!record || record.connectionId !== connectionId) return;
  const will = publishWill ? record.will : null;
  const willDelay = will?.properties?.willDelayInterval ?? 0;
  record.connectionId = null;
  record.will = null;
  if (record.sessionExpiryInterval === 0) {
    discardSession(state, out);
    if (will) publishWillOf(record, will, now, config, out);
    reportPresence(record, 'ended', out);
    return;
  }
  record.expiresAt = sessionExpiresAt(now, record.sessionExpiryInterval);
  if (will && willDelay > 0) {
    // Kept until the delay passes; a reconnect in time cancels it [MQTT-3.1.3-9 v5].
    record.will = will;
    record.willAt = willPublishAt(now, willDelay, record.sessionExpiryInterval);
  }
  out.persist({ op: 'writeSession', record: { ...record } });
  scheduleAlarm(record, out);
  if (will && willDelay === 0) publishWillOf(record, will, now, config, out);
  reportPresence(record, 'offline', out);
}

/** The alarm: the timers that are due, then the alarm for the next of them. */
export function onAlarm(state: State, now: number, config: SessionConfig, out: Effects): void {
  runDueTimers(state, now, config, out);
  const record = state.session.record;
  if (record && !record.connectionId) scheduleAlarm(record, out);
}

/** An offline session's timers that are due: a delayed will, then the session's expiry. */
export function runDueTimers(state: State, now: number, config: SessionConfig, out: Effects): void {
  const record = state.session.record;
  if (!record || record.connectionId) return;
  if (record.will && record.willAt !== null && record.willAt <= now) {
    const will = record.will;
    record.will = null;
    record.willAt = null;
    out.persist({ op: 'writeSession', record: { ...record } });
    publishWillOf(record, will, now, config, out);
  }
  if (record.expiresAt !== null && record.expiresAt <= now) {
    // [MQTT-4.1.0-2 v5] the session state is discarded when the Session Expiry Interval has passed.
    discardSession(state, out);
    if (record.will) publishWillOf(record, record.will, now, config, out);
    reportPresence(record, 'ended', out);
  }
}

/**
 * A reset drops every socket and may skip the close event (DESIGN §3). If the stored owner of the session
 * has no open connection here any more, it is treated as lost now: will published, session released.
 * Checked when the object wakes for a CONNECT or a delivery, so idle sessions cost nothing.
 */
export function recoverLostOwner(state: State, now: number, config: SessionConfig, out: Effects): void {
  const connectionId = state.session.record?.connectionId;
  if (!connectionId) return;
  const owner = state.connections.get(connectionId);
  if (owner && owner.phase !== 'closed') return;
  releaseSession(state, connectionId, true, now, config, out);
}

/** Forgets subscriptions (here and in the shards), outbound, inbound and alias state, and the alarm. */
export function discardSession(state: State, out: Effects): void {
  const { record, subscriptions } = state.session;
  out.persist({ op: 'deleteAll' });
  out.emit({ type: 'setAlarm', at: null });
  state.routes.epoch++;
  state.routes.inboundQos2.clear();
  if (record && subscriptions.size > 0) {
    out.emit({ type: 'unsubscribeShards', tenant: record.tenant, session: sessionName(record.tenant, record.clientId), filters: [...subscriptions.keys()] });
  }
  state.session = emptySession();
}

/** One alarm per object: the earliest of the delayed will and the session's expiry. */
export function scheduleAlarm(record: SessionRecord, out: Effects): void {
  const times = [record.willAt, record.expiresAt].filter((t): t is number => t !== null);
  out.emit({ type: 'setAlarm', at: times.length === 0 ? null : Math.min(...times) });
}

/**
 * A will is published with the rights of the token that set it, checked again now (the token's ACL may
 * have changed since CONNECT) [DESIGN §3]; refused, it is dropped and counted.
 */
function publishWillOf(who: { tenant: string; clientId: string; token: ConnectionToken | null }, will: Will, now: number, config: SessionConfig, out: Effects): void {
  const admission = admitPublish(will, who.token, aclIdentity(who.clientId, who.token));
  if (!admission.ok) {
    out.persist({ op: 'count', counter: 'will_refused', n: 1 });
    return;
  }
  const message = messageToRoute(will, sessionName(who.tenant, who.clientId), who.token?.maxRetained, now, config.shardCount);
  out.emit({ type: 'route', tenant: who.tenant, message });
}

/** Tells the tenant object this session's state (its sessions list, connection counts, revocation). */
export function reportPresence(record: SessionRecord, presence: PresenceState, out: Effects): void {
  out.emit({
    type: 'presence',
    tenant: record.tenant,
    clientId: record.clientId,
    state: presence,
    ...(record.token ? { tokenId: record.token.id } : {}),
  });
}
