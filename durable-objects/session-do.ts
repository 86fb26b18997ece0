// SessionDO: one MQTT session (tenant, client id). Wake → decode → core decision → apply effects → persist.
import { PacketFramer, decodePacket, encodePacket } from '../core/codec/index.js';
import type {
  ConnectPacket,
  DisconnectPacket,
  Packet,
  Properties,
  ProtocolVersion,
  PublishPacket,
  SubscribePacket,
  UnsubscribePacket,
  Will,
} from '../core/codec/packets.js';
import { assertNever } from '../core/codec/packets.js';
import { isWellFormedUtf8 } from '../core/codec/utf8.js';
import { mayPublish, maySubscribe, type AclIdentity } from '../core/acl/acl.js';
import { RateBucket } from '../core/tenancy/limits.js';
import type { ConnectionToken } from '../worker/authenticate.js';
import { MqttError } from '../core/errors.js';
import { ReasonCode } from '../core/reason-codes.js';
import { gateClientPacket, type ConnectionState } from '../core/session/connection-state.js';
import {
  hasExpired,
  messageExpiresAt,
  remainingExpirySeconds,
  sessionExpiresAt,
  sessionExpiryInterval,
  willPublishAt,
} from '../core/session/expiry.js';
import { overflowCount } from '../core/session/offline-queue.js';
import { nextPacketId } from '../core/session/packet-ids.js';
import { decideSubscriptions, deliveryQoS, subackCodes } from '../core/session/subscribe.js';
import { OutboundTopicAliases, resolveInboundTopic } from '../core/session/topic-alias.js';
import { isValidTopicName, parseSharedSubscription } from '../core/topic/validate.js';
import { brokerConfig, type BrokerConfig } from '../worker/config.js';
import type { Env } from '../worker/env.js';
import { concatBytes } from '../worker/bytes.js';
import { sessionName, tenantStub } from './addresses.js';
import { CountedObject } from './counted-object.js';
import { RelayHeader, decodeControl } from './relay-protocol.js';
import type { DeliverResult, Delivery, RoutedMessage, ShardSubscription } from './routed-message.js';
import { ShardRouter } from './shard-router.js';
import { OutboundState, SessionStore, type OutboundMessage, type SessionRecord, type StoredSubscription } from './session-store.js';
import { isSysFilter } from './sys-topics.js';
import type { SessionState } from './tenant-do.js';

/** Topic aliases a client may define towards us (announced in CONNACK). */
const TOPIC_ALIAS_MAXIMUM = 32;
/** Largest Receive Maximum a 5.0 client may announce; also the 3.1.1 default (no limit of its own). */
const UNLIMITED_RECEIVE = 65535;

/** Per-socket facts that must survive hibernation (serializeAttachment, well under 2 KiB). */
interface SocketAttachment {
  v: 1;
  connectionId: string;
  tenant: string;
  clientId: string;
  clientIdAssigned: boolean;
  serverKeepAlive?: number;
  protocolVersion: ProtocolVersion;
  state: ConnectionState;
  /** The client's Receive Maximum: our outbound window is the smaller of this and MAX_INFLIGHT. */
  receiveMaximum: number;
  /** The client's Maximum Packet Size: we never send it a larger packet [MQTT-3.1.2-24 v5]. */
  maximumPacketSize?: number;
  /** The client's Topic Alias Maximum for packets we send it. */
  topicAliasMaximum: number;
  /** The token this connection authenticated with (ACL, limits); absent = anonymous, full access. */
  token?: ConnectionToken;
}

/** Session state loaded lazily on wake: small and bounded (the offline queue stays in SQLite). */
interface LoadedSession {
  record: SessionRecord | undefined;
  subscriptions: Map<string, StoredSubscription>;
  /** Outbound messages sent and not completed, by packet id. */
  inflight: Map<number, OutboundMessage>;
  /** Inbound QoS 2 packet ids received and not yet released [MQTT-4.3.3-2]. */
  inboundQos2: Set<number>;
  /** Topic aliases the current connection defined [MQTT-3.3.2-7 v5]. */
  inboundAliases: Map<number, string>;
  queued: number;
  /** Sequence number of the last queued message moved into the window (where the next drain starts). */
  drainedSeq: number;
  /** Sequence number for the next stored outbound message; only grows while the object is awake. */
  nextSeq: number;
  lastPacketId: number;
}

/** Why the server ends a connection, with what it tells a 5.0 client. */
interface Ending {
  publishWill: boolean;
  reasonCode?: number;
}

export class SessionDO extends CountedObject {
  private readonly store: SessionStore;
  private readonly config: BrokerConfig;
  private session: LoadedSession | undefined;
  private router: ShardRouter | undefined;
  /** Packets of this object are processed strictly in arrival order (CONNECT before what follows it). */
  private serial: Promise<unknown> = Promise.resolve();
  /** Acknowledgements leave in the order their PUBLISH packets arrived [MQTT-4.6.0-2]. */
  private ackChain: Promise<unknown> = Promise.resolve();
  /**
   * Inbound QoS 1/2 publishes of the current connection not yet acknowledged (5.0 Receive Maximum, our
   * side): QoS 1 until PUBACK, QoS 2 until PUBCOMP or an error PUBREC [MQTT-3.3.4-7 v5] (§4.9).
   */
  private inboundUnacknowledged = 0;
  /** QoS 2 packet ids counted in `inboundUnacknowledged` on this connection (released at PUBCOMP). */
  private countedQos2 = new Set<number>();
  /** Our aliases towards the current connection; lost on hibernation, which is safe (see core). */
  private outboundAliases: { connectionId: string; aliases: OutboundTopicAliases } | undefined;
  /** The token's publish rate limit for the current connection (in memory: a wake starts a full bucket). */
  private publishBucket: { connectionId: string; bucket: RateBucket } | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new SessionStore(this.sql);
    this.config = brokerConfig(env);
  }

  // ── Platform entry points ────────────────────────────────────────────────────────────────────────

  /** The Worker opens the relay socket here; the CONNECT itself arrives as the first message. */
  override async fetch(request: Request): Promise<Response> {
    this.invocations.fetch++;
    if (request.headers.get('Upgrade') !== 'websocket') return new Response('expected a WebSocket upgrade', { status: 426 });
    const pair = new WebSocketPair();
    const client = pair[0];
    const server = pair[1];
    this.ctx.acceptWebSocket(server);
    const serverKeepAlive = request.headers.get(RelayHeader.serverKeepAlive);
    const token = request.headers.get(RelayHeader.token);
    const attachment: SocketAttachment = {
      v: 1,
      connectionId: crypto.randomUUID(),
      tenant: request.headers.get(RelayHeader.tenant) ?? '',
      clientId: decodeURIComponent(request.headers.get(RelayHeader.clientId) ?? ''),
      clientIdAssigned: request.headers.get(RelayHeader.clientIdAssigned) === '1',
      protocolVersion: 4,
      state: 'awaitingConnect',
      receiveMaximum: UNLIMITED_RECEIVE,
      topicAliasMaximum: 0,
      ...(serverKeepAlive ? { serverKeepAlive: Number(serverKeepAlive) } : {}),
      ...(token ? { token: JSON.parse(decodeURIComponent(token)) as ConnectionToken } : {}),
    };
    server.serializeAttachment(attachment);
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    this.invocations.webSocketMessage++;
    const ordered = this.serial.then(() => this.onMessage(ws, message));
    this.serial = ordered.catch(() => undefined);
    try {
      // Publishes return the promise of their routing; awaiting it keeps the object awake until done.
      const { background } = await ordered;
      await background;
    } catch (error) {
      // The runtime drops exceptions from this handler silently: log them and end the connection.
      console.error('session failed on a packet', { error: String(error), stack: (error as Error).stack });
      await this.enqueue(() => this.endConnection(ws, attachmentOf(ws), { publishWill: true, reasonCode: ReasonCode.UnspecifiedError }));
    }
  }

  override async webSocketClose(ws: WebSocket): Promise<void> {
    this.invocations.webSocketClose++;
    await this.enqueue(() => this.endConnection(ws, attachmentOf(ws), { publishWill: true }));
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.invocations.webSocketClose++;
    await this.enqueue(() => this.endConnection(ws, attachmentOf(ws), { publishWill: true }));
  }

  /** The one alarm multiplexes the session's timers: a delayed will and the session's expiry. */
  override async alarm(): Promise<void> {
    this.invocations.alarm++;
    await this.enqueue(() => this.runTimers(Date.now()));
  }

  // ── RPC from topic shards ────────────────────────────────────────────────────────────────────────

  /**
   * Messages matched by this session's subscriptions, batched by the shard. Returns the filters this
   * session no longer holds so that the shard forgets them (self-healing after a lost unsubscribe).
   */
  async deliver(deliveries: Delivery[]): Promise<DeliverResult> {
    this.invocations.rpc++;
    const session = this.load();
    const stale = new Set<string>();
    const wanted: Delivery[] = [];
    for (const delivery of deliveries) {
      const held = session.record ? delivery.filters.filter((filter) => session.subscriptions.has(filter)) : [];
      for (const filter of delivery.filters) if (!held.includes(filter)) stale.add(filter);
      if (held.length > 0) wanted.push(delivery);
    }
    let socket = this.liveSocket();
    if (!socket && session.record?.connectionId) {
      await this.enqueue(() => this.recoverLostConnection());
      socket = this.liveSocket();
    }
    if (wanted.length > 0) this.sendDeliveries(socket, wanted);
    return { stale: [...stale], online: socket !== undefined };
  }

  /**
   * The tenant changed or removed a token: its connections are closed (5.0: DISCONNECT 0x98 Administrative
   * action) when it is gone, disabled or expired; otherwise they get the new ACL and limits, and
   * subscriptions the new ACL no longer allows are removed.
   */
  async tokenChanged(tokenId: string, token: { acl: ConnectionToken['acl']; limits: ConnectionToken['limits']; enabled: boolean; expiresAt: number | null } | null): Promise<void> {
    this.invocations.rpc++;
    await this.enqueue(async () => {
      for (const ws of this.ctx.getWebSockets()) {
        const connection = attachmentOf(ws);
        if (connection.token?.id !== tokenId || connection.state !== 'connected') continue;
        const revoked = !token || !token.enabled || (token.expiresAt !== null && token.expiresAt <= Date.now());
        if (revoked) {
          await this.endConnection(ws, connection, { publishWill: true, reasonCode: ReasonCode.AdministrativeAction });
          continue;
        }
        connection.token = { id: tokenId, acl: token.acl, limits: token.limits };
        ws.serializeAttachment(connection);
        this.publishBucket = undefined;
        const identity = identityOf(connection);
        const lost = [...this.load().subscriptions.keys()].filter((filter) => !maySubscribe(token.acl, identity, filter));
        if (lost.length > 0) await this.removeSubscriptions(connection, lost);
      }
    });
  }

  /** What the sessions API shows: subscriptions, queue depth, inflight count, whether connected. */
  async describe(): Promise<{ connected: boolean; subscriptions: Array<{ filter: string; qos: number }>; queued: number; inflight: number } | undefined> {
    this.invocations.rpc++;
    const session = this.load();
    if (!session.record) return undefined;
    return {
      connected: this.liveSocket() !== undefined,
      subscriptions: [...session.subscriptions].map(([filter, subscription]) => ({ filter, qos: subscription.qos })),
      queued: session.queued,
      inflight: session.inflight.size,
    };
  }

  /** An administrator disconnects this session's client (5.0: DISCONNECT 0x98); the will is published. */
  async kick(): Promise<boolean> {
    this.invocations.rpc++;
    return this.enqueue(async () => {
      const ws = this.liveSocket();
      if (!ws) return false;
      await this.endConnection(ws, attachmentOf(ws), { publishWill: true, reasonCode: ReasonCode.AdministrativeAction });
      return true;
    });
  }

  // ── Inbound packets ──────────────────────────────────────────────────────────────────────────────

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.serial.then(task);
    this.serial = run.catch(() => undefined);
    return run;
  }

  /** Handles one relay message; returns (wrapped, so it is not awaited here) the routing still in flight. */
  private async onMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<{ background: Promise<unknown> }> {
    const done = { background: Promise.resolve() as Promise<unknown> };
    const connection = attachmentOf(ws);
    if (typeof message === 'string') {
      if (decodeControl(message)?.type === 'keepalive-timeout') {
        await this.endConnection(ws, connection, { publishWill: true, reasonCode: ReasonCode.KeepAliveTimeout });
      }
      return done;
    }
    let packets: Uint8Array[];
    try {
      // The Worker relays whole packets only; a leftover fragment would be a relay fault.
      const framer = new PacketFramer(this.config.maximumPacketSize);
      packets = framer.push(new Uint8Array(message));
      if (framer.buffered > 0) throw new MqttError(ReasonCode.MalformedPacket, 'partial packet from relay');
    } catch (error) {
      await this.protocolViolation(ws, connection, error);
      return done;
    }
    const background: Promise<unknown>[] = [];
    for (const bytes of packets) {
      if (connection.state === 'closed') break;
      let packet: Packet;
      try {
        packet = decodePacket(bytes, connection.protocolVersion, { maximumPacketSize: this.config.maximumPacketSize });
      } catch (error) {
        await this.protocolViolation(ws, connection, error);
        break;
      }
      const gate = gateClientPacket(connection.state, packet.type, connection.protocolVersion);
      if (!gate.ok) {
        await this.protocolViolation(ws, connection, new MqttError(gate.reasonCode as never, gate.reason));
        break;
      }
      await this.handlePacket(ws, connection, packet, background);
    }
    return { background: Promise.allSettled(background) };
  }

  /** Ordered work is awaited; acknowledgements that wait on routing are pushed to `background`. */
  private async handlePacket(ws: WebSocket, connection: SocketAttachment, packet: Packet, background: Promise<unknown>[]): Promise<void> {
    switch (packet.type) {
      case 'connect':
        return this.handleConnect(ws, connection, packet);
      case 'publish': {
        this.invocations.messagesIn++;
        const routed = this.handlePublish(ws, connection, packet);
        if (routed) background.push(routed);
        return;
      }
      case 'puback':
        return this.completeOutbound(ws, connection, packet.packetId, 1);
      case 'pubrec':
        return this.handlePubrec(ws, connection, packet.packetId, packet.reasonCode);
      case 'pubcomp':
        return this.completeOutbound(ws, connection, packet.packetId, 2);
      case 'pubrel':
        background.push(this.handlePubrel(ws, connection, packet.packetId));
        return;
      case 'subscribe':
        return this.handleSubscribe(ws, connection, packet);
      case 'unsubscribe':
        return this.handleUnsubscribe(ws, connection, packet);
      case 'pingreq':
        // Normally answered by the Worker; one that reaches us is answered the same [MQTT-3.12.4-1].
        return this.send(ws, connection, { type: 'pingresp' });
      case 'disconnect':
        return this.handleDisconnect(ws, connection, packet);
      case 'auth':
        // Enhanced authentication is not offered: no method was accepted in CONNECT [MQTT-4.12.0-1 v5].
        return this.endConnection(ws, connection, { publishWill: true, reasonCode: ReasonCode.ProtocolError });
      case 'connack':
      case 'suback':
      case 'unsuback':
      case 'pingresp':
        return; // refused by the gate
      default:
        return assertNever(packet);
    }
  }

  /**
   * CONNECT, step by step: take over a live connection, discard or resume state, store the session and
   * will, CONNACK, then resend what was in flight and drain what was queued.
   */
  private async handleConnect(ws: WebSocket, connection: SocketAttachment, packet: ConnectPacket): Promise<void> {
    const now = Date.now();
    connection.protocolVersion = packet.protocolVersion;
    const v5 = packet.protocolVersion === 5;
    if (v5) {
      connection.receiveMaximum = packet.properties?.receiveMaximum ?? UNLIMITED_RECEIVE;
      connection.topicAliasMaximum = packet.properties?.topicAliasMaximum ?? 0;
      if (packet.properties?.maximumPacketSize !== undefined) connection.maximumPacketSize = packet.properties.maximumPacketSize;
    }

    // Step 1: take-over. [MQTT-3.1.4-2] an existing connection with this client id is closed, with its will;
    // one lost in a reset without a close event is released the same way.
    await this.takeOver(ws);
    await this.recoverLostConnection();

    // Step 2: a reconnect in time cancels a delayed will [MQTT-3.1.3-9 v5]; an expired session is gone.
    const previous = this.load().record;
    const expired = previous?.expiresAt != null && previous.expiresAt <= now;
    const hasState = previous !== undefined && previous.sessionExpiryInterval !== 0 && !expired;
    if (packet.cleanSession || !hasState) await this.discardState();
    // [MQTT-3.2.2-1] [MQTT-3.2.2-2] session present only when resuming stored state.
    const sessionPresent = !packet.cleanSession && hasState;

    // Step 3: store the session and its will [MQTT-3.1.2-8]; aliases start empty [MQTT-3.3.2-7 v5].
    const record: SessionRecord = {
      tenant: connection.tenant,
      clientId: connection.clientId,
      protocolVersion: packet.protocolVersion,
      sessionExpiryInterval: sessionExpiryInterval(packet),
      connectionId: connection.connectionId,
      will: packet.will ?? null,
      expiresAt: null,
      willAt: null,
      maxQueued: connection.token?.limits.maxQueued ?? null,
    };
    this.store.writeSession(record);
    this.store.clearInboundAliases();
    const session = this.load();
    session.record = record;
    session.inboundAliases.clear();
    this.inboundUnacknowledged = 0;
    this.countedQos2.clear();
    connection.state = 'connected';
    ws.serializeAttachment(connection);
    await this.ctx.storage.deleteAlarm();

    // Step 4: CONNACK [MQTT-3.2.0-1] with what this server supports (5.0 §3.2.2.3).
    const properties: Properties = {};
    if (v5) {
      if (connection.clientIdAssigned) properties.assignedClientIdentifier = connection.clientId;
      if (connection.serverKeepAlive !== undefined) properties.serverKeepAlive = connection.serverKeepAlive;
      properties.receiveMaximum = this.config.receiveMaximum;
      properties.maximumPacketSize = this.config.maximumPacketSize;
      properties.topicAliasMaximum = TOPIC_ALIAS_MAXIMUM;
      properties.retainAvailable = 1;
      properties.wildcardSubscriptionAvailable = 1;
      properties.subscriptionIdentifierAvailable = 1;
      properties.sharedSubscriptionAvailable = 1;
      if (packet.properties?.requestResponseInformation === 1) {
        // (5.0 §3.1.2.11.7, §4.10) a topic prefix this client may use for responses.
        properties.responseInformation = `response/${connection.clientId}`;
      }
    }
    this.send(ws, connection, { type: 'connack', sessionPresent, reasonCode: ReasonCode.Success, properties });

    // Step 5: resend unacknowledged messages with DUP [MQTT-4.4.0-1], then the offline queue in order.
    this.resendInflight(ws, connection);
    this.drainQueue(ws, connection);

    this.ctx.waitUntil(this.reportPresence('connected', connection));
  }

  /** Closes every other connection of this session; the one that owned it publishes its will. */
  private async takeOver(current: WebSocket): Promise<void> {
    for (const other of this.ctx.getWebSockets()) {
      if (other === current) continue;
      const attachment = attachmentOf(other);
      if (attachment.state === 'closed') continue;
      await this.endConnection(other, attachment, { publishWill: true, reasonCode: ReasonCode.SessionTakenOver });
    }
  }

  /** Returns the promise of routing and acknowledgement (or of ending the connection) to run in the background. */
  private handlePublish(ws: WebSocket, connection: SocketAttachment, packet: PublishPacket): Promise<unknown> | void {
    const session = this.load();
    const v5 = connection.protocolVersion === 5;
    const packetId = packet.packetId ?? 0;

    // Topic aliases resolve first (5.0); the resulting topic must be a valid name [MQTT-3.3.2-2] [MQTT-4.7.3-1].
    const resolved = v5 ? resolveInboundTopic(packet, session.inboundAliases, TOPIC_ALIAS_MAXIMUM) : { ok: true as const, topic: packet.topic };
    if (!resolved.ok) return this.endConnection(ws, connection, { publishWill: true, reasonCode: resolved.reasonCode });
    if ('define' in resolved && resolved.define) {
      session.inboundAliases.set(resolved.define.alias, resolved.define.topic);
      this.store.putInboundAlias(resolved.define.alias, resolved.define.topic);
    }
    const topic = resolved.topic;
    if (!isValidTopicName(topic)) {
      return this.endConnection(ws, connection, { publishWill: true, reasonCode: ReasonCode.TopicNameInvalid });
    }
    // [MQTT-3.3.4-7 v5] more unacknowledged QoS 1/2 publishes than our Receive Maximum.
    const isNew = packet.qos > 0 && !session.inboundQos2.has(packetId);
    if (v5 && isNew && this.inboundUnacknowledged >= this.config.receiveMaximum) {
      return this.endConnection(ws, connection, { publishWill: true, reasonCode: ReasonCode.ReceiveMaximumExceeded });
    }
    if (isNew) {
      this.inboundUnacknowledged++;
      if (packet.qos === 2) this.countedQos2.add(packetId);
    }
    // [MQTT-3.3.2-4 v5] a payload declared UTF-8 must be UTF-8: refused with 0x99.
    let refusal: number | undefined;
    if (v5 && packet.properties?.payloadFormatIndicator === 1 && !isWellFormedUtf8(packet.payload)) {
      if (packet.qos === 0) return this.endConnection(ws, connection, { publishWill: true, reasonCode: ReasonCode.PayloadFormatInvalid });
      refusal = ReasonCode.PayloadFormatInvalid;
    }
    // `$` topics ($SYS) are the broker's: clients may not publish to them (3.1.1: acknowledged and dropped);
    // neither may a token publish outside its ACL [DESIGN §5].
    if (topic.startsWith('$')) refusal ??= ReasonCode.NotAuthorized;
    const token = connection.token;
    if (token && !mayPublish(token.acl, identityOf(connection), topic)) refusal ??= ReasonCode.NotAuthorized;
    if (token?.limits.maxMessageSize !== undefined && packet.payload.length > token.limits.maxMessageSize) {
      this.store.addCounter('limit_message_size', 1);
      refusal ??= ReasonCode.QuotaExceeded;
    }
    if (token?.limits.publishRate !== undefined && !this.publishAllowed(connection, token.limits.publishRate)) {
      // (5.0 reason 0x96 Message rate too high) past the token's rate: the connection ends (3.1.1 has no other answer).
      this.store.addCounter('limit_publish_rate', 1);
      return this.endConnection(ws, connection, { publishWill: true, reasonCode: ReasonCode.MessageRateTooHigh });
    }

    const message = routedMessage({ ...packet, topic }, sessionName(connection.tenant, connection.clientId), Date.now());
    if (packet.retain && token?.maxRetained !== undefined) message.retainedLimit = Math.ceil(token.maxRetained / this.config.shardCount);
    // Routing starts only where the packet is accepted (never for a QoS 2 duplicate).
    const route = () => (refusal === undefined ? this.routesFor(connection.tenant).publish(message) : Promise.resolve());
    const reason = refusal !== undefined && v5 ? { reasonCode: refusal } : {};

    switch (packet.qos) {
      case 0:
        return refusal === undefined ? route().catch((error: unknown) => console.error('routing failed', { topic, error: String(error) })) : undefined;
      case 1:
        // [MQTT-4.3.2-2] PUBACK only once the message is stored at every subscriber.
        return this.acknowledgeInOrder(ws, connection, route(), { type: 'puback', packetId, ...reason });
      case 2: {
        // [MQTT-4.3.3-2] method B: route on first receipt, remember the id until PUBREL, never route it twice.
        if (session.inboundQos2.has(packetId)) {
          return this.acknowledgeInOrder(ws, connection, Promise.resolve(), { type: 'pubrec', packetId });
        }
        if (refusal !== undefined && v5) {
          // A refused QoS 2 ends at PUBREC with an error code: no PUBREL follows (5.0 §4.3.3).
          return this.acknowledgeInOrder(ws, connection, Promise.resolve(), { type: 'pubrec', packetId, ...reason });
        }
        session.inboundQos2.add(packetId);
        const stored = route().then(
          () => this.store.addInboundQos2(packetId),
          (error: unknown) => {
            session.inboundQos2.delete(packetId);
            throw error;
          },
        );
        return this.acknowledgeInOrder(ws, connection, stored, { type: 'pubrec', packetId });
      }
      default:
        return assertNever(packet.qos);
    }
  }

  private handlePubrel(ws: WebSocket, connection: SocketAttachment, packetId: number): Promise<unknown> {
    const session = this.load();
    const known = session.inboundQos2.delete(packetId);
    if (known) this.store.deleteInboundQos2(packetId);
    // 5.0 answers an unknown id with 0x92 (5.0 §3.7.2.1); 3.1.1 answers PUBCOMP regardless.
    const reasonCode = known || connection.protocolVersion !== 5 ? undefined : ReasonCode.PacketIdentifierNotFound;
    return this.acknowledgeInOrder(ws, connection, Promise.resolve(), {
      type: 'pubcomp',
      packetId,
      ...(reasonCode === undefined ? {} : { reasonCode }),
    });
  }

  /** A counted inbound publish is acknowledged for good: its slot under Receive Maximum frees. */
  private releaseInbound(ack: Packet): void {
    const { packetId = 0, reasonCode = 0 } = ack as { packetId?: number; reasonCode?: number };
    const errorCode = reasonCode >= 0x80;
    const ends = ack.type === 'puback' || ack.type === 'pubcomp' || (ack.type === 'pubrec' && errorCode);
    if (!ends) return;
    if (ack.type !== 'puback' && !this.countedQos2.delete(packetId)) return; // counted on an earlier connection
    this.inboundUnacknowledged = Math.max(0, this.inboundUnacknowledged - 1);
  }

  /** Sends `ack` after `routed` settles and after every earlier acknowledgement. */
  private acknowledgeInOrder(ws: WebSocket, connection: SocketAttachment, routed: Promise<unknown>, ack: Packet): Promise<unknown> {
    const previous = this.ackChain;
    const done = Promise.all([previous, routed]).then(
      () => {
        this.releaseInbound(ack);
        if (connection.state === 'connected') this.send(ws, connection, ack);
      },
      async (error: unknown) => {
        this.releaseInbound(ack);
        // Not acknowledged: the client will resend after it reconnects. Closing is the honest answer.
        console.error('routing failed; closing without acknowledgement', { clientId: connection.clientId, error: String(error) });
        await this.enqueue(() => this.endConnection(ws, connection, { publishWill: true, reasonCode: ReasonCode.UnspecifiedError }));
      },
    );
    this.ackChain = done.catch(() => undefined);
    return done;
  }

  private async handleSubscribe(ws: WebSocket, connection: SocketAttachment, packet: SubscribePacket): Promise<void> {
    const session = this.load();
    const v5 = connection.protocolVersion === 5;
    const subscriptionIdentifier = v5 ? packet.properties?.subscriptionIdentifiers?.[0] : undefined;
    // [MQTT-3.8.3-4 v5] No Local on a shared subscription is a protocol error.
    if (v5 && packet.subscriptions.some((s) => s.noLocal && parseSharedSubscription(s.topicFilter))) {
      return this.endConnection(ws, connection, { publishWill: true, reasonCode: ReasonCode.ProtocolError });
    }
    const token = connection.token;
    const identity = identityOf(connection);
    const decisions = decideSubscriptions(packet, connection.protocolVersion, (filter) => !token || maySubscribe(token.acl, identity, filter));
    const maxSubscriptions = token?.limits.maxSubscriptions;
    if (maxSubscriptions !== undefined) {
      // New filters past the token's limit are refused: 0x97 Quota exceeded (5.0) / 0x80.
      let held = session.subscriptions.size;
      decisions.forEach((decision, index) => {
        if (!decision.ok || session.subscriptions.has(decision.subscription.topicFilter)) return;
        if (held >= maxSubscriptions) {
          this.store.addCounter('limit_subscriptions', 1);
          decisions[index] = { ok: false, topicFilter: decision.subscription.topicFilter, reasonCode: v5 ? ReasonCode.QuotaExceeded : 0x80 };
        } else held++;
      });
    }
    const granted = decisions.flatMap((decision) => (decision.ok ? [decision] : []));
    const forShards: ShardSubscription[] = [];
    for (const { subscription } of granted) {
      const stored: StoredSubscription = { qos: subscription.qos };
      if (subscription.noLocal) stored.noLocal = true;
      if (subscription.retainAsPublished) stored.retainAsPublished = true;
      if (subscriptionIdentifier !== undefined) stored.subscriptionIdentifier = subscriptionIdentifier;
      this.store.putSubscription(subscription.topicFilter, stored);
      session.subscriptions.set(subscription.topicFilter, stored);
      forShards.push({ filter: subscription.topicFilter, ...stored });
    }
    const name = sessionName(connection.tenant, connection.clientId);
    const results = await this.routesFor(connection.tenant).subscribe(name, forShards);
    // [MQTT-3.8.4-1] SUBACK with one code per filter, in order [MQTT-3.8.4-5].
    this.send(ws, connection, { type: 'suback', packetId: packet.packetId, reasonCodes: subackCodes(decisions) });

    // [MQTT-3.8.4-3] retained messages follow, RETAIN=1 [MQTT-3.3.1-8]; 5.0 Retain Handling decides
    // whether: 0 always, 1 only for a new subscription, 2 never [MQTT-3.3.1-9 v5] [MQTT-3.3.1-10 v5].
    const now = Date.now();
    const retained: Delivery[] = [];
    for (const { subscription } of granted) {
      const result = results.get(subscription.topicFilter);
      const handling = v5 ? (subscription.retainHandling ?? 0) : 0;
      if (!result || handling === 2 || (handling === 1 && !result.isNew)) continue;
      for (const message of result.retained) {
        if (hasExpired(message, now)) continue;
        retained.push({
          topic: message.topic,
          payload: message.payload,
          qos: deliveryQoS(message.qos, subscription.qos),
          retain: true,
          filters: [subscription.topicFilter],
          ...(message.properties ? { properties: message.properties } : {}),
          ...(message.expiresAt !== undefined ? { expiresAt: message.expiresAt } : {}),
          ...(subscriptionIdentifier !== undefined ? { subscriptionIdentifiers: [subscriptionIdentifier] } : {}),
        });
      }
    }
    if (retained.length > 0) this.sendDeliveries(ws, retained);
    if (granted.some(({ subscription }) => isSysFilter(subscription.topicFilter))) {
      this.ctx.waitUntil(tenantStub(this.env, connection.tenant).wantSys(connection.tenant).catch((e: unknown) => console.error('wantSys failed', String(e))));
    }
  }

  private async handleUnsubscribe(ws: WebSocket, connection: SocketAttachment, packet: UnsubscribePacket): Promise<void> {
    const held = this.load().subscriptions;
    const reasonCodes = packet.topicFilters.map((filter) => (held.has(filter) ? ReasonCode.Success : ReasonCode.NoSubscriptionExisted));
    await this.removeSubscriptions(connection, packet.topicFilters);
    // [MQTT-3.10.4-4] UNSUBACK, even when nothing matched [MQTT-3.10.4-5].
    this.send(ws, connection, { type: 'unsuback', packetId: packet.packetId, reasonCodes });
  }

  /** Forgets filters here and in their shards. */
  private async removeSubscriptions(connection: SocketAttachment, filters: readonly string[]): Promise<void> {
    const session = this.load();
    for (const filter of filters) if (session.subscriptions.delete(filter)) this.store.deleteSubscription(filter);
    await this.routesFor(connection.tenant).unsubscribe(sessionName(connection.tenant, connection.clientId), filters);
  }

  private publishAllowed(connection: SocketAttachment, rate: number): boolean {
    const now = Date.now();
    if (this.publishBucket?.connectionId !== connection.connectionId) {
      this.publishBucket = { connectionId: connection.connectionId, bucket: new RateBucket(rate, now) };
    }
    return this.publishBucket.bucket.take(now);
  }

  private async handleDisconnect(ws: WebSocket, connection: SocketAttachment, packet: DisconnectPacket): Promise<void> {
    const record = this.load().record;
    const newExpiry = packet.properties?.sessionExpiryInterval;
    if (newExpiry !== undefined && record && record.connectionId === connection.connectionId) {
      // [MQTT-3.14.2-2 v5] a session that was to end with its connection cannot be extended at DISCONNECT.
      if (record.sessionExpiryInterval === 0 && newExpiry !== 0) {
        return this.endConnection(ws, connection, { publishWill: true, reasonCode: ReasonCode.ProtocolError });
      }
      record.sessionExpiryInterval = newExpiry;
    }
    // [MQTT-3.14.4-3] a DISCONNECT discards the will; 5.0 reason 0x04 asks for it to be published.
    const publishWill = packet.reasonCode === ReasonCode.DisconnectWithWill;
    await this.endConnection(ws, connection, { publishWill });
  }

  private async protocolViolation(ws: WebSocket, connection: SocketAttachment, error: unknown): Promise<void> {
    const reasonCode = error instanceof MqttError ? error.reasonCode : ReasonCode.UnspecifiedError;
    console.warn('closing connection', { clientId: connection.clientId, reasonCode, error: String(error) });
    // [MQTT-4.8.0-1] protocol violation: close the network connection (the will is published).
    await this.endConnection(ws, connection, { publishWill: true, reasonCode });
  }

  // ── Outbound messages ────────────────────────────────────────────────────────────────────────────

  /**
   * Sends or stores deliveries: QoS 0 goes out only while connected and never touches SQLite; QoS 1/2 is
   * written before it is sent and queued (bounded) while offline or while the inflight window is full.
   * Expired messages are dropped [MQTT-3.3.2-5 v5]; one larger than the client accepts is discarded
   * [MQTT-3.1.2-25 v5].
   */
  private sendDeliveries(ws: WebSocket | undefined, deliveries: readonly Delivery[]): void {
    const session = this.load();
    const connection = ws ? attachmentOf(ws) : undefined;
    const now = Date.now();
    const frames: Uint8Array[] = [];
    let queuedNow = 0;
    for (const delivery of deliveries) {
      if (hasExpired(delivery, now)) continue;
      const message = outboundFields(delivery);
      if (delivery.qos === 0) {
        if (ws && connection) this.pushPublish(frames, connection, message, undefined, false, now);
        continue;
      }
      const canSend = ws && connection && session.queued === 0 && session.inflight.size < this.window(connection);
      if (canSend) {
        const packetId = this.allocatePacketId();
        if (!this.pushPublish(frames, connection, message, packetId, false, now)) continue;
        const stored = { packetId, state: OutboundState.Published, ...message };
        const seq = session.nextSeq++;
        this.store.insertOutbound(seq, stored);
        session.inflight.set(packetId, { seq, ...stored });
      } else {
        this.store.insertOutbound(session.nextSeq++, { packetId: null, state: OutboundState.Queued, ...message });
        session.queued++;
        queuedNow++;
      }
    }
    if (queuedNow > 0) {
      // The queue's bound: the oldest messages go first, and are counted [DESIGN §3].
      const bound = Math.min(this.config.maximumQueued, session.record?.maxQueued ?? Infinity);
      const overflow = overflowCount(session.queued, 0, bound);
      if (overflow > 0) {
        this.store.dropOldestQueued(overflow);
        this.store.addCounter('queue_dropped', overflow);
        session.queued -= overflow;
      }
    }
    if (ws && connection && frames.length > 0) this.sendFrames(ws, frames);
    if (ws && connection && queuedNow > 0) this.drainQueue(ws, connection);
  }

  /** Moves queued messages into the inflight window, oldest first, and sends them. */
  private drainQueue(ws: WebSocket, connection: SocketAttachment): void {
    const session = this.load();
    const window = this.window(connection);
    const now = Date.now();
    const frames: Uint8Array[] = [];
    while (session.queued > 0 && session.inflight.size < window) {
      const batch = this.store.readQueued(window - session.inflight.size, session.drainedSeq);
      if (batch.length === 0) {
        session.queued = 0;
        break;
      }
      for (const message of batch) {
        session.queued--;
        session.drainedSeq = message.seq;
        const packetId = hasExpired(message, now) ? undefined : this.allocatePacketId();
        if (packetId === undefined || !this.pushPublish(frames, connection, message, packetId, false, now)) {
          this.store.deleteOutbound(message.seq);
          continue;
        }
        this.store.markSent(message.seq, packetId);
        session.inflight.set(packetId, { ...message, packetId, state: OutboundState.Published });
      }
    }
    if (frames.length > 0) this.sendFrames(ws, frames);
  }

  /** On resume: PUBLISH again with DUP=1, or PUBREL again, in the original order [MQTT-4.4.0-1]. */
  private resendInflight(ws: WebSocket, connection: SocketAttachment): void {
    const session = this.load();
    const now = Date.now();
    const frames: Uint8Array[] = [];
    for (const message of [...session.inflight.values()].sort((a, b) => a.seq - b.seq)) {
      const packetId = message.packetId!;
      if (message.state === OutboundState.Released) frames.push(encodePacket({ type: 'pubrel', packetId }, connection.protocolVersion));
      else this.pushPublish(frames, connection, message, packetId, true, now);
    }
    if (frames.length > 0) this.sendFrames(ws, frames);
  }

  private handlePubrec(ws: WebSocket, connection: SocketAttachment, packetId: number, reasonCode: number | undefined): void {
    const session = this.load();
    const message = session.inflight.get(packetId);
    if (message && (reasonCode ?? 0) >= 0x80) {
      // (5.0 §4.3.3) a PUBREC with an error ends the exchange: no PUBREL, the message is done.
      this.store.deleteOutbound(message.seq);
      session.inflight.delete(packetId);
      this.drainQueue(ws, connection);
      return;
    }
    if (message && message.qos === 2 && message.state === OutboundState.Published) {
      // [MQTT-4.3.3-1] after PUBREC the message is released: PUBREL, and the publish is never resent.
      this.store.markReleased(message.seq);
      message.state = OutboundState.Released;
    }
    const notFound = message || connection.protocolVersion !== 5 ? undefined : ReasonCode.PacketIdentifierNotFound;
    this.send(ws, connection, { type: 'pubrel', packetId, ...(notFound === undefined ? {} : { reasonCode: notFound }) });
  }

  /** PUBACK (QoS 1) or PUBCOMP (QoS 2) ends an outbound message and frees its slot in the window. */
  private completeOutbound(ws: WebSocket, connection: SocketAttachment, packetId: number, qos: 1 | 2): void {
    const session = this.load();
    const message = session.inflight.get(packetId);
    if (!message || message.qos !== qos) return;
    if (qos === 2 && message.state !== OutboundState.Released) return;
    this.store.deleteOutbound(message.seq);
    session.inflight.delete(packetId);
    this.drainQueue(ws, connection);
  }

  /** The outbound window: our MAX_INFLIGHT, or less if the client's Receive Maximum is lower [MQTT-3.3.4-9 v5]. */
  private window(connection: SocketAttachment): number {
    return Math.min(this.config.maximumInflight, connection.receiveMaximum);
  }

  /**
   * Encodes a PUBLISH for this connection (remaining expiry, topic alias) and appends it to `frames`.
   * Returns false when it cannot be sent: expired, or over the client's Maximum Packet Size.
   */
  private pushPublish(
    frames: Uint8Array[],
    connection: SocketAttachment,
    message: Omit<OutboundMessage, 'seq' | 'packetId' | 'state'>,
    packetId: number | undefined,
    dup: boolean,
    now: number,
  ): boolean {
    let properties = message.properties;
    if (message.expiresAt !== undefined) {
      const remaining = remainingExpirySeconds(message.expiresAt, now);
      if (remaining === undefined && !dup) return false;
      // [MQTT-3.3.2-6 v5] forward the time that is left.
      properties = { ...properties, messageExpiryInterval: remaining ?? 1 };
    }
    let topic = message.topic;
    if (connection.protocolVersion === 5 && connection.topicAliasMaximum > 0 && !dup) {
      const alias = this.aliasesFor(connection).aliasFor(topic);
      if (alias) {
        properties = { ...properties, topicAlias: alias.alias };
        if (!alias.sendTopic) topic = '';
      }
    }
    const packet: PublishPacket = {
      type: 'publish',
      topic,
      payload: message.payload,
      qos: message.qos,
      retain: message.retain,
      dup,
      ...(packetId === undefined ? {} : { packetId }),
      ...(properties ? { properties } : {}),
    };
    const bytes = encodePacket(packet, connection.protocolVersion);
    if (connection.maximumPacketSize !== undefined && bytes.length > connection.maximumPacketSize) {
      // [MQTT-3.1.2-25 v5] discard, as if delivered; counted.
      this.store.addCounter('oversize_dropped', 1);
      return false;
    }
    this.invocations.messagesOut++;
    frames.push(bytes);
    return true;
  }

  private aliasesFor(connection: SocketAttachment): OutboundTopicAliases {
    if (this.outboundAliases?.connectionId !== connection.connectionId) {
      this.outboundAliases = { connectionId: connection.connectionId, aliases: new OutboundTopicAliases(connection.topicAliasMaximum) };
    }
    return this.outboundAliases.aliases;
  }

  private allocatePacketId(): number {
    const session = this.load();
    const id = nextPacketId(session.lastPacketId, session.inflight);
    if (id === undefined) throw new MqttError(ReasonCode.QuotaExceeded, 'no free packet identifier');
    session.lastPacketId = id;
    return id;
  }

  // ── Connection end and session lifetime ──────────────────────────────────────────────────────────

  /**
   * Ends a connection once: tells a 5.0 client why, closes the socket, then releases the session
   * (will, expiry) if this connection still owned it.
   */
  private async endConnection(ws: WebSocket, connection: SocketAttachment, ending: Ending): Promise<void> {
    if (connection.state === 'closed') return;
    const wasConnected = connection.state === 'connected';
    connection.state = 'closed';
    try {
      ws.serializeAttachment(connection);
      if (wasConnected && connection.protocolVersion === 5 && ending.reasonCode !== undefined) {
        // [MQTT-4.13.2-1 v5] the server says why before it closes.
        this.send(ws, connection, { type: 'disconnect', reasonCode: ending.reasonCode });
      }
      ws.close(1000, 'session ended');
    } catch {
      // the socket is already gone
    }
    if (!wasConnected) return;
    await this.releaseSession(connection.connectionId, ending.publishWill);
    this.ctx.waitUntil(this.reportPresence(this.load().record ? 'offline' : 'ended', connection));
  }

  /**
   * The connection that owned the session is gone. The will is published now, later (5.0 Will Delay
   * Interval) or not at all (DISCONNECT) [MQTT-3.1.2-8] [MQTT-3.14.4-3]; the session ends now (expiry 0)
   * [MQTT-3.1.2-6] or when its Session Expiry Interval runs out. Nothing happens if another connection
   * already took the session over.
   */
  private async releaseSession(connectionId: string, publishWill: boolean): Promise<void> {
    const record = this.load().record;
    if (!record || record.connectionId !== connectionId) return;
    const now = Date.now();
    const will = publishWill ? record.will : null;
    const willDelay = will?.properties?.willDelayInterval ?? 0;
    record.connectionId = null;
    record.will = null;
    if (record.sessionExpiryInterval === 0) {
      const { tenant, clientId } = record;
      await this.discardState();
      if (will) await this.publishWill(tenant, clientId, will);
      return;
    }
    record.expiresAt = sessionExpiresAt(now, record.sessionExpiryInterval);
    if (will && willDelay > 0) {
      // Kept until the delay passes; a reconnect in time cancels it [MQTT-3.1.3-9 v5].
      record.will = will;
      record.willAt = willPublishAt(now, willDelay, record.sessionExpiryInterval);
    }
    this.store.writeSession(record);
    await this.scheduleAlarm(record);
    if (will && willDelay === 0) await this.publishWill(record.tenant, record.clientId, will);
  }

  /** Fires the session's due timers: a delayed will, then the session's expiry. */
  private async runTimers(now: number): Promise<void> {
    const record = this.load().record;
    if (!record || record.connectionId) return;
    if (record.will && record.willAt !== null && record.willAt <= now) {
      const will = record.will;
      record.will = null;
      record.willAt = null;
      this.store.writeSession(record);
      await this.publishWill(record.tenant, record.clientId, will);
    }
    if (record.expiresAt !== null && record.expiresAt <= now) {
      // [MQTT-4.1.0-2 v5] the session state is discarded when the Session Expiry Interval has passed.
      const { tenant, clientId, will } = record;
      await this.discardState();
      if (will) await this.publishWill(tenant, clientId, will);
      this.ctx.waitUntil(this.reportPresence('ended', undefined, { tenant, clientId }));
      return;
    }
    await this.scheduleAlarm(record);
  }

  /** One alarm per object: the earliest of the delayed will and the session expiry. */
  private async scheduleAlarm(record: SessionRecord): Promise<void> {
    const times = [record.willAt, record.expiresAt].filter((t): t is number => t !== null);
    if (times.length === 0) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(Math.min(...times));
  }

  private async publishWill(tenant: string, clientId: string, will: NonNullable<SessionRecord['will']>): Promise<void> {
    const message = routedMessage(will, sessionName(tenant, clientId), Date.now());
    await this.routesFor(tenant)
      .publish(message)
      .catch((error: unknown) => console.error('will routing failed', { topic: will.topic, error: String(error) }));
  }

  /**
   * A reset drops every socket and may skip webSocketClose (DESIGN §3). If the stored owner of the session
   * has no socket any more, treat it as lost now: will published, session released. Checked lazily when
   * the object wakes, so idle sessions cost nothing.
   */
  private async recoverLostConnection(): Promise<void> {
    const connectionId = this.load().record?.connectionId;
    if (!connectionId) return;
    const alive = this.ctx.getWebSockets().some((ws) => {
      const attachment = attachmentOf(ws);
      return attachment.connectionId === connectionId && attachment.state !== 'closed';
    });
    if (alive) return;
    console.warn('session owner lost without close; releasing', { connectionId });
    const { tenant, clientId } = this.load().record!;
    await this.releaseSession(connectionId, true);
    this.ctx.waitUntil(this.reportPresence(this.load().record ? 'offline' : 'ended', undefined, { tenant, clientId }));
  }

  /** Forgets subscriptions (here and in the shards), outbound, inbound and alias state, and the alarm. */
  private async discardState(): Promise<void> {
    const session = this.load();
    const record = session.record;
    const filters = [...session.subscriptions.keys()];
    this.store.deleteAll();
    this.session = emptySession();
    await this.ctx.storage.deleteAlarm();
    if (record && filters.length > 0) {
      await this.routesFor(record.tenant)
        .unsubscribe(sessionName(record.tenant, record.clientId), filters)
        .catch((error: unknown) => console.error('unsubscribe on discard failed', String(error)));
    }
  }

  /** Tells the tenant object this session's state (its sessions list, connection counts, revocation). */
  private async reportPresence(state: SessionState, connection?: SocketAttachment, who?: { tenant: string; clientId: string }): Promise<void> {
    const tenant = connection?.tenant ?? who?.tenant;
    const clientId = connection?.clientId ?? who?.clientId;
    if (!tenant || clientId === undefined) return;
    try {
      await tenantStub(this.env, tenant).sessionPresence(tenant, clientId, state, connection?.token?.id);
    } catch (error) {
      console.error('presence report failed', String(error));
    }
  }

  // ── Helpers ──────────────────────────────────────────────────────────────────────────────────────

  private load(): LoadedSession {
    if (!this.session) {
      const record = this.store.readSession();
      const inflight = new Map<number, OutboundMessage>();
      let lastPacketId = 0;
      if (record) {
        for (const message of this.store.readInflight()) {
          inflight.set(message.packetId!, message);
          lastPacketId = message.packetId!;
        }
      }
      this.session = record
        ? {
            record,
            subscriptions: this.store.readSubscriptions(),
            inflight,
            inboundQos2: this.store.readInboundQos2(),
            inboundAliases: this.store.readInboundAliases(),
            queued: this.store.countQueued(),
            drainedSeq: 0,
            nextSeq: this.store.maxSeq() + 1,
            lastPacketId,
          }
        : emptySession();
    }
    return this.session;
  }

  /** The socket of the connection that owns the session, if it is connected. */
  private liveSocket(): WebSocket | undefined {
    const connectionId = this.load().record?.connectionId;
    if (!connectionId) return undefined;
    return this.ctx.getWebSockets().find((ws) => {
      const attachment = attachmentOf(ws);
      return attachment.connectionId === connectionId && attachment.state === 'connected';
    });
  }

  private routesFor(tenant: string): ShardRouter {
    this.router ??= new ShardRouter(this.env, tenant, this.config.shardCount);
    return this.router;
  }

  private send(ws: WebSocket, connection: SocketAttachment, packet: Packet): void {
    this.sendFrames(ws, [encodePacket(packet, connection.protocolVersion)]);
  }

  /** Several packets in one WebSocket message: legal, and far cheaper than one message each. */
  private sendFrames(ws: WebSocket, frames: Uint8Array[]): void {
    try {
      ws.send(frames.length === 1 ? frames[0]! : concatBytes(frames));
    } catch (error) {
      console.warn('send to relay failed', String(error));
    }
  }
}

/** %c is the client id; %u the token id (the username's public part: the secret never reaches a topic). */
function identityOf(connection: SocketAttachment): AclIdentity {
  return { clientId: connection.clientId, username: connection.token?.id ?? '' };
}

function attachmentOf(ws: WebSocket): SocketAttachment {
  return ws.deserializeAttachment() as SocketAttachment;
}

function emptySession(): LoadedSession {
  return {
    record: undefined,
    subscriptions: new Map(),
    inflight: new Map(),
    inboundQos2: new Set(),
    inboundAliases: new Map(),
    queued: 0,
    drainedSeq: 0,
    nextSeq: 1,
    lastPacketId: 0,
  };
}

/** What an outbound row stores of a delivery: subscription identifiers travel inside its properties. */
function outboundFields(delivery: Delivery): Omit<OutboundMessage, 'seq' | 'packetId' | 'state'> {
  let properties = delivery.properties;
  if (delivery.subscriptionIdentifiers && delivery.subscriptionIdentifiers.length > 0) {
    // [MQTT-3.3.4-3 v5] the identifiers of every matching subscription go with the message.
    properties = { ...properties, subscriptionIdentifiers: delivery.subscriptionIdentifiers };
  }
  return {
    topic: delivery.topic,
    payload: delivery.payload,
    qos: delivery.qos,
    retain: delivery.retain,
    ...(properties ? { properties } : {}),
    ...(delivery.expiresAt !== undefined ? { expiresAt: delivery.expiresAt } : {}),
  };
}

/**
 * An application message (a client's PUBLISH or a will) as it goes to its shard: forwardable properties,
 * and the Message Expiry Interval turned into an absolute time.
 */
function routedMessage(source: Will, origin: string, now: number): RoutedMessage {
  const message: RoutedMessage = { topic: source.topic, payload: source.payload, qos: source.qos, retain: source.retain, origin };
  const properties = source.properties ? forwardableProperties(source.properties) : undefined;
  if (properties) message.properties = properties;
  const expiresAt = messageExpiresAt(now, source.properties?.messageExpiryInterval);
  if (expiresAt !== undefined) message.expiresAt = expiresAt;
  return message;
}

/**
 * 5.0 properties that travel with an application message to its subscribers unchanged (5.0 §3.3.2.3):
 * payload format, content type, response topic, correlation data, user properties. The expiry travels as
 * an absolute time and is re-computed per delivery; topic aliases are per connection.
 */
function forwardableProperties(properties: Properties): Properties | undefined {
  const forwarded: Properties = {};
  if (properties.payloadFormatIndicator !== undefined) forwarded.payloadFormatIndicator = properties.payloadFormatIndicator;
  if (properties.contentType !== undefined) forwarded.contentType = properties.contentType;
  if (properties.responseTopic !== undefined) forwarded.responseTopic = properties.responseTopic;
  if (properties.correlationData !== undefined) forwarded.correlationData = properties.correlationData;
  if (properties.userProperties !== undefined) forwarded.userProperties = properties.userProperties;
  return Object.keys(forwarded).length > 0 ? forwarded : undefined;
}

