// Connection end, will and session lifetime: what happens when a connection goes, and the one alarm.
//
//   connection ends ──▶ owner? ──▶ will: now, after its Will Delay Interval, or never (DISCONNECT, our failure)
//                                 session: discarded now (expiry 0), or kept until its expiry (the alarm)
//   the platform lost it ──▶ will: after max(Will Delay Interval, the grace); a reconnect in time cancels it
//   alarm ──▶ a delayed will that is due, then the session's expiry
//   a reset lost the owner's socket without a close event ──▶ a platform loss, when noticed (DESIGN §3)
import type { Will } from '../codec/packets.js';
import type { ReasonCodeValue } from '../reason-codes.js';
import { sessionName } from '../routing/message.js';
import type { ConnectionToken } from '../tenancy/token.js';
import { aclIdentity, admitPublish, messageToRoute } from './admission.js';
import type { Effects, PresenceState } from './effects.js';
import { sessionExpiresAt, willPublishAt } from './expiry.js';
import { disconnectEvent, type EndCause } from './log-events.js';
import { endReplay } from './retained-replay.js';
import { serverDisconnect } from './server-disconnect.js';
import { emptySession, recordOf, type Connection, type SessionConfig, type SessionRecord, type State } from './state.js';

/**
 * What becomes of the will when a connection ends (5.0 §3.1.2.5):
 *   publish     the client failed, or asked for it: now, or after its Will Delay Interval [MQTT-3.1.2-8]
 *   discard     DISCONNECT 0x00 [MQTT-3.14.4-3], a removed token, or a failure on our side (the client is
 *               alive and resends after it reconnects: its will would announce a death that did not happen)
 *   afterGrace  the platform, not the client, lost the connection (a deploy, an eviction, a runtime update drop
 *               every socket at once): held until max(Will Delay Interval, platformLossGrace), so a client that
 *               reconnects in time cancels it [MQTT-3.1.3-9 v5] and one that really went still gets it
 */
export type WillFate = 'publish' | 'discard' | 'afterGrace';

/** Why a connection ends, and what a 5.0 client is told. */
export interface Ending {
  will: WillFate;
  reasonCode?: ReasonCodeValue;
  /** Who ended it, for the event log, when not the server on `reasonCode` alone. */
  cause?: EndCause;
  /** The reason code of the client's own DISCONNECT (cause "client"). */
  clientReasonCode?: number;
  /** The DISCONNECT's Reason String when the code's default (server-disconnect.ts) says too little. */
  reasonString?: string;
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
    // [MQTT-4.13.2-1 v5] the server says why before it closes, in words too.
    out.send(connection.id, serverDisconnect(ending.reasonCode, ending.reasonString, connection.maximumPacketSize));
  }
  out.close(connection.id);
  if (!wasConnected) return;
  const owned = state.session.record?.connectionId === connection.id ? state.session.record : undefined;
  out.emit({ type: 'log', tenant: connection.tenant, event: disconnectEvent(connection, ending, owned ?? state.session.record, now) });
  releaseSession(state, connection.id, ending.will, now, config, out);
}

/**
 * The connection that owned the session is gone. The will is published now, later (5.0 Will Delay Interval,
 * or the grace after a platform loss) or not at all (DISCONNECT) [MQTT-3.1.2-8] [MQTT-3.14.4-3]; the session
 * ends now (expiry 0) [MQTT-3.1.2-6] or when its Session Expiry Interval runs out. Nothing happens if another
 * connection already took it over.
 */
function releaseSession(state: State, connectionId: string, fate: WillFate, now: number, config: SessionConfig, out: Effects): void {
  const record = state.session.record;
  if (!record || record.connectionId !== connectionId) return;
  const will = fate === 'discard' ? null : record.will;
  const willDelay = will?.properties?.willDelayInterval ?? 0;
  record.connectionId = null;
  record.will = null;
  if (will && fate === 'afterGrace' && config.platformLossGrace > 0) return holdWill(state, record, will, now, config, out);
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

/**
 * The platform lost the owner's connection, not the client. 5.0 §3.1.2.5 lets a server defer wills over its own
 * shutdown or failure: the will becomes a delayed will due at the later of its own time and the grace, so the
 * clients that reconnect in time publish none [MQTT-3.1.3-9 v5] and one that really went gets it from the
 * alarm. A session that ends before then ends as it would, all but its will (keepOnlyWill).
 */
function holdWill(state: State, record: SessionRecord, will: Will, now: number, config: SessionConfig, out: Effects): void {
  const ownTime = willPublishAt(now, will.properties?.willDelayInterval ?? 0, record.sessionExpiryInterval);
  record.will = will;
  record.willAt = Math.max(ownTime, now + config.platformLossGrace * 1000);
  record.expiresAt = sessionExpiresAt(now, record.sessionExpiryInterval);
  // A session with expiry 0 ends now; a longer one that ends before the will is due ends then (runDueTimers).
  if (record.expiresAt !== null && record.expiresAt <= now) keepOnlyWill(state, record, out);
  else out.persist({ op: 'writeSession', record: { ...record } });
  scheduleAlarm(state.session.record ?? record, out);
  reportPresence(record, 'offline', out);
}

/**
 * The session ends while its will still waits (held past a platform loss): its state goes as it would
 * [MQTT-4.1.0-2 v5], and a record holding only the will stays until the will is due, then ends too. A
 * reconnect before that resumes nothing (expiry 0) and cancels the will.
 */
function keepOnlyWill(state: State, record: SessionRecord, out: Effects): void {
  discardSession(state, out);
  const holder: SessionRecord = { ...record, sessionExpiryInterval: 0, connectionId: null, expiresAt: record.willAt };
  state.session.record = holder;
  out.persist({ op: 'writeSession', record: { ...holder } });
}

/** The alarm: a lost owner first (a platform loss), the timers that are due, then the alarm for the next of them. */
export function onAlarm(state: State, now: number, config: SessionConfig, out: Effects): void {
  recoverLostOwner(state, 'wake', now, config, out);
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
    // A will held past a platform loss is not published before its time, even when its session ends first.
    if (record.will && record.willAt !== null && record.willAt > now) return keepOnlyWill(state, record, out);
    // [MQTT-4.1.0-2 v5] the session state is discarded when the Session Expiry Interval has passed.
    discardSession(state, out);
    if (record.will) publishWillOf(record, record.will, now, config, out);
    reportPresence(record, 'ended', out);
  }
}

/**
 * A reset drops every socket and may skip the close event (DESIGN §3): the stored owner of the session has no
 * open connection here any more. That is the platform's loss, not the client's. Noticed at the client's own
 * CONNECT, the will is discarded: the client is back, as within a Will Delay Interval [MQTT-3.1.3-9 v5].
 * Noticed on any other wake (a delivery, the alarm), the will waits for the grace (`afterGrace`). Checked only
 * when the object wakes, so idle sessions cost nothing.
 */
export function recoverLostOwner(state: State, noticedAt: 'connect' | 'wake', now: number, config: SessionConfig, out: Effects): void {
  const connectionId = state.session.record?.connectionId;
  if (!connectionId) return;
  const owner = state.connections.get(connectionId);
  if (owner && owner.phase !== 'closed') return;
  releaseSession(state, connectionId, noticedAt === 'connect' ? 'discard' : 'afterGrace', now, config, out);
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
  const message = messageToRoute(will, sessionName(who.tenant, who.clientId), who.token?.maxRetained, now, config.shardCount, who.token?.id);
  out.emit({ type: 'route', tenant: who.tenant, message });
}

/**
 * Tells this session's presence bucket its state (sessions list, counts, revocation, the tenant's session
 * limit) and, for a token with maxConnections, the token's own object (its connection count).
 */
export function reportPresence(record: SessionRecord, presence: PresenceState, out: Effects, keepAlive?: number): void {
  const { protocolVersion, sessionExpiryInterval, expiresAt } = record;
  out.emit({
    type: 'presence',
    tenant: record.tenant,
    clientId: record.clientId,
    state: presence,
    ...(record.token ? { tokenId: record.token.id } : {}),
    ...(record.token?.limits.maxConnections !== undefined ? { countsConnections: true } : {}),
    // The sessions page's columns, kept by the bucket (an ended session leaves the list).
    ...(presence === 'ended' ? {} : { details: { protocolVersion, sessionExpiryInterval, expiresAt, ...(keepAlive === undefined ? {} : { keepAlive }) } }),
  });
}
