// SessionDO: one MQTT session (tenant, client id). Wake → decode → core decision → apply effects → persist.
import { PacketFramer, decodePacket, encodePacket } from '../core/codec/index.js';
import type {
  ConnectPacket,
  DisconnectPacket,
  Packet,
  Properties,
  ProtocolVersion,
  PublishPacket,
  QoS,
  SubscribePacket,
  UnsubscribePacket,
} from '../core/codec/packets.js';
import { assertNever } from '../core/codec/packets.js';
import { MqttError } from '../core/errors.js';
import { ReasonCode } from '../core/reason-codes.js';
import { gateClientPacket, type ConnectionState } from '../core/session/connection-state.js';
import { overflowCount } from '../core/session/offline-queue.js';
import { nextPacketId } from '../core/session/packet-ids.js';
import { decideSubscriptions, deliveryQoS, subackCodes } from '../core/session/subscribe.js';
import { isValidTopicName } from '../core/topic/validate.js';
import { brokerConfig, type BrokerConfig } from '../worker/config.js';
import type { Env } from '../worker/env.js';
import { concatBytes } from '../worker/bytes.js';
import { sessionName, tenantStub } from './addresses.js';
import { RelayHeader, decodeControl } from './relay-protocol.js';
import type { DeliverResult, Delivery, RoutedMessage } from './routed-message.js';
import { ShardRouter } from './shard-router.js';
import { OutboundState, SessionStore, type OutboundMessage, type SessionRecord } from './session-store.js';
import { isSysFilter } from './sys-topics.js';
import { CountedObject } from './counted-object.js';

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
}

/** Session state loaded lazily on wake: small and bounded (the offline queue stays in SQLite). */
interface LoadedSession {
  record: SessionRecord | undefined;
  subscriptions: Map<string, QoS>;
  /** Outbound messages sent and not completed, by packet id. */
  inflight: Map<number, OutboundMessage>;
  /** Inbound QoS 2 packet ids received and not yet released [MQTT-4.3.3-2]. */
  inboundQos2: Set<number>;
  queued: number;
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
    const attachment: SocketAttachment = {
      v: 1,
      connectionId: crypto.randomUUID(),
      tenant: request.headers.get(RelayHeader.tenant) ?? '',
      clientId: decodeURIComponent(request.headers.get(RelayHeader.clientId) ?? ''),
      clientIdAssigned: request.headers.get(RelayHeader.clientIdAssigned) === '1',
      protocolVersion: 4,
      state: 'awaitingConnect',
      ...(serverKeepAlive ? { serverKeepAlive: Number(serverKeepAlive) } : {}),
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
        return this.handlePubrec(ws, connection, packet.packetId);
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
    connection.protocolVersion = packet.protocolVersion;

    // Step 1: take-over. [MQTT-3.1.4-2] an existing connection with this client id is closed, with its will;
    // one lost in a reset without a close event is released the same way.
    await this.takeOver(ws);
    await this.recoverLostConnection();

    // Step 2: clean start discards state; so does resuming a session whose last connection was clean.
    const previous = this.load().record;
    const hasPersistentState = previous !== undefined && !previous.cleanSession;
    if (packet.cleanSession || !hasPersistentState) await this.discardState();
    // [MQTT-3.2.2-1] [MQTT-3.2.2-2] session present only when resuming stored state.
    const sessionPresent = !packet.cleanSession && hasPersistentState;

    // Step 3: store the session and its will [MQTT-3.1.2-8].
    const record: SessionRecord = {
      tenant: connection.tenant,
      clientId: connection.clientId,
      protocolVersion: packet.protocolVersion,
      cleanSession: packet.cleanSession,
      connectionId: connection.connectionId,
      will: packet.will ?? null,
    };
    this.store.writeSession(record);
    this.load().record = record;
    connection.state = 'connected';
    ws.serializeAttachment(connection);

    // Step 4: CONNACK [MQTT-3.2.0-1].
    const properties: Properties = {};
    if (packet.protocolVersion === 5) {
      if (connection.clientIdAssigned) properties.assignedClientIdentifier = connection.clientId;
      if (connection.serverKeepAlive !== undefined) properties.serverKeepAlive = connection.serverKeepAlive;
      properties.receiveMaximum = this.config.maximumInflight;
      properties.maximumPacketSize = this.config.maximumPacketSize;
      properties.topicAliasMaximum = 0;
      properties.sharedSubscriptionAvailable = 0;
      properties.subscriptionIdentifierAvailable = 0;
    }
    this.send(ws, connection, { type: 'connack', sessionPresent, reasonCode: ReasonCode.Success, properties });

    // Step 5: resend unacknowledged messages with DUP [MQTT-4.4.0-1], then the offline queue in order.
    this.resendInflight(ws, connection);
    this.drainQueue(ws, connection);

    this.ctx.waitUntil(this.reportPresence(true));
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

  private handlePublish(ws: WebSocket, connection: SocketAttachment, packet: PublishPacket): Promise<unknown> | void {
    // [MQTT-3.3.2-2] a topic name must not contain wildcards; [MQTT-4.7.3-1] nor be empty.
    if (!isValidTopicName(packet.topic)) {
      return this.endConnection(ws, connection, { publishWill: true, reasonCode: ReasonCode.TopicNameInvalid });
    }
    const session = this.load();
    // `$` topics ($SYS) are the broker's: clients may not publish to them (acknowledged, then dropped).
    const routable = !packet.topic.startsWith('$');
    const message: RoutedMessage = {
      topic: packet.topic,
      payload: packet.payload,
      qos: packet.qos,
      retain: packet.retain,
      origin: sessionName(connection.tenant, connection.clientId),
    };
    if (packet.properties) message.properties = forwardableProperties(packet.properties);
    const packetId = packet.packetId ?? 0;

    switch (packet.qos) {
      case 0:
        return routable ? this.routeLogged(connection.tenant, message) : undefined;
      case 1:
        // [MQTT-4.3.2-2] PUBACK only once the message is stored at every subscriber.
        return this.acknowledgeInOrder(ws, connection, routable ? this.routesFor(connection.tenant).publish(message) : Promise.resolve(), {
          type: 'puback',
          packetId,
        });
      case 2: {
        // [MQTT-4.3.3-2] method B: route on first receipt, remember the id until PUBREL, never route it twice.
        if (session.inboundQos2.has(packetId)) {
          return this.acknowledgeInOrder(ws, connection, Promise.resolve(), { type: 'pubrec', packetId });
        }
        session.inboundQos2.add(packetId);
        const routed = (routable ? this.routesFor(connection.tenant).publish(message) : Promise.resolve()).then(
          () => this.store.addInboundQos2(packetId),
          (error: unknown) => {
            session.inboundQos2.delete(packetId);
            throw error;
          },
        );
        return this.acknowledgeInOrder(ws, connection, routed, { type: 'pubrec', packetId });
      }
      default:
        return assertNever(packet.qos);
    }
  }

  private handlePubrel(ws: WebSocket, connection: SocketAttachment, packetId: number): Promise<unknown> {
    const session = this.load();
    const known = session.inboundQos2.delete(packetId);
    if (known) this.store.deleteInboundQos2(packetId);
    // [MQTT-4.3.3-? v5] an unknown id is answered with 0x92 in 5.0; 3.1.1 answers PUBCOMP regardless.
    const reasonCode = known || connection.protocolVersion !== 5 ? undefined : ReasonCode.PacketIdentifierNotFound;
    return this.acknowledgeInOrder(ws, connection, Promise.resolve(), {
      type: 'pubcomp',
      packetId,
      ...(reasonCode === undefined ? {} : { reasonCode }),
    });
  }

  /** Sends `ack` after `routed` settles and after every earlier acknowledgement. */
  private acknowledgeInOrder(ws: WebSocket, connection: SocketAttachment, routed: Promise<unknown>, ack: Packet): Promise<unknown> {
    const previous = this.ackChain;
    const done = Promise.all([previous, routed]).then(
      () => {
        if (connection.state === 'connected') this.send(ws, connection, ack);
      },
      async (error: unknown) => {
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
    const decisions = decideSubscriptions(packet, connection.protocolVersion);
    const granted = decisions.flatMap((decision) => (decision.ok ? [decision] : []));
    for (const { subscription } of granted) {
      this.store.putSubscription(subscription.topicFilter, subscription.qos);
      session.subscriptions.set(subscription.topicFilter, subscription.qos);
    }
    const name = sessionName(connection.tenant, connection.clientId);
    const results = await this.routesFor(connection.tenant).subscribe(
      name,
      granted.map(({ subscription }) => ({ filter: subscription.topicFilter, qos: subscription.qos })),
    );
    // [MQTT-3.8.4-1] SUBACK with one code per filter, in order [MQTT-3.8.4-5].
    this.send(ws, connection, { type: 'suback', packetId: packet.packetId, reasonCodes: subackCodes(decisions) });

    // [MQTT-3.8.4-3] retained messages matching each filter follow, RETAIN=1 [MQTT-3.3.1-8], also on re-subscribe.
    const retained: Delivery[] = [];
    for (const { subscription } of granted) {
      for (const message of results.get(subscription.topicFilter)?.retained ?? []) {
        retained.push({
          topic: message.topic,
          payload: message.payload,
          qos: deliveryQoS(message.qos, subscription.qos),
          retain: true,
          filters: [subscription.topicFilter],
          ...(message.properties ? { properties: message.properties } : {}),
        });
      }
    }
    if (retained.length > 0) this.sendDeliveries(ws, retained);
    if (granted.some(({ subscription }) => isSysFilter(subscription.topicFilter))) {
      this.ctx.waitUntil(tenantStub(this.env, connection.tenant).wantSys(connection.tenant).catch((e: unknown) => console.error('wantSys failed', String(e))));
    }
  }

  private async handleUnsubscribe(ws: WebSocket, connection: SocketAttachment, packet: UnsubscribePacket): Promise<void> {
    const session = this.load();
    const reasonCodes = packet.topicFilters.map((filter) => {
      const existed = session.subscriptions.delete(filter);
      if (existed) this.store.deleteSubscription(filter);
      return existed ? ReasonCode.Success : ReasonCode.NoSubscriptionExisted;
    });
    await this.routesFor(connection.tenant).unsubscribe(sessionName(connection.tenant, connection.clientId), packet.topicFilters);
    // [MQTT-3.10.4-4] UNSUBACK, even when nothing matched [MQTT-3.10.4-5].
    this.send(ws, connection, { type: 'unsuback', packetId: packet.packetId, reasonCodes });
  }

  private async handleDisconnect(ws: WebSocket, connection: SocketAttachment, packet: DisconnectPacket): Promise<void> {
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
   */
  private sendDeliveries(ws: WebSocket | undefined, deliveries: readonly Delivery[]): void {
    const session = this.load();
    const connection = ws ? attachmentOf(ws) : undefined;
    const frames: Uint8Array[] = [];
    let queuedNow = 0;
    for (const delivery of deliveries) {
      if (delivery.qos === 0) {
        if (ws && connection) frames.push(this.encodePublish(connection, delivery, undefined, false));
        continue;
      }
      const canSend = ws && connection && session.queued === 0 && session.inflight.size < this.config.maximumInflight;
      if (canSend) {
        const packetId = this.allocatePacketId();
        const stored = { packetId, state: OutboundState.Published, ...messageFields(delivery) };
        const seq = this.store.insertOutbound(stored);
        session.inflight.set(packetId, { seq, ...stored });
        frames.push(this.encodePublish(connection, delivery, packetId, false));
      } else {
        this.store.insertOutbound({ packetId: null, state: OutboundState.Queued, ...messageFields(delivery) });
        session.queued++;
        queuedNow++;
      }
    }
    if (queuedNow > 0) {
      // The queue's bound: the oldest messages go first, and are counted [DESIGN §3].
      const overflow = overflowCount(session.queued, 0, this.config.maximumQueued);
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
    const frames: Uint8Array[] = [];
    while (session.queued > 0 && session.inflight.size < this.config.maximumInflight) {
      const batch = this.store.readQueued(this.config.maximumInflight - session.inflight.size);
      if (batch.length === 0) {
        session.queued = 0;
        break;
      }
      for (const message of batch) {
        const packetId = this.allocatePacketId();
        this.store.markSent(message.seq, packetId);
        session.inflight.set(packetId, { ...message, packetId, state: OutboundState.Published });
        frames.push(this.encodePublish(connection, message, packetId, false));
        session.queued--;
      }
    }
    if (frames.length > 0) this.sendFrames(ws, frames);
  }

  /** On resume: PUBLISH again with DUP=1, or PUBREL again, in the original order [MQTT-4.4.0-1]. */
  private resendInflight(ws: WebSocket, connection: SocketAttachment): void {
    const session = this.load();
    const frames: Uint8Array[] = [];
    for (const message of [...session.inflight.values()].sort((a, b) => a.seq - b.seq)) {
      const packetId = message.packetId!;
      if (message.state === OutboundState.Released) frames.push(encodePacket({ type: 'pubrel', packetId }, connection.protocolVersion));
      else frames.push(this.encodePublish(connection, message, packetId, true));
    }
    if (frames.length > 0) this.sendFrames(ws, frames);
  }

  private handlePubrec(ws: WebSocket, connection: SocketAttachment, packetId: number): void {
    const message = this.load().inflight.get(packetId);
    if (message && message.qos === 2 && message.state === OutboundState.Published) {
      // [MQTT-4.3.3-1] after PUBREC the message is released: PUBREL, and the publish is never resent.
      this.store.markReleased(message.seq);
      message.state = OutboundState.Released;
    }
    const reasonCode = message || connection.protocolVersion !== 5 ? undefined : ReasonCode.PacketIdentifierNotFound;
    this.send(ws, connection, { type: 'pubrel', packetId, ...(reasonCode === undefined ? {} : { reasonCode }) });
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

  private encodePublish(connection: SocketAttachment, message: Omit<Delivery, 'filters'>, packetId: number | undefined, dup: boolean): Uint8Array {
    this.invocations.messagesOut++;
    const packet: PublishPacket = {
      type: 'publish',
      topic: message.topic,
      payload: message.payload,
      qos: message.qos,
      retain: message.retain,
      dup,
      ...(packetId === undefined ? {} : { packetId }),
      ...(message.properties ? { properties: message.properties } : {}),
    };
    return encodePacket(packet, connection.protocolVersion);
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
   * Ends a connection once: tells a 5.0 client why, closes the socket, publishes the will unless the
   * client said DISCONNECT [MQTT-3.1.2-8] [MQTT-3.14.4-3], and ends a clean session [MQTT-3.1.2-6].
   */
  private async endConnection(ws: WebSocket, connection: SocketAttachment, ending: Ending): Promise<void> {
    if (connection.state === 'closed') return;
    const wasConnected = connection.state === 'connected';
    connection.state = 'closed';
    try {
      ws.serializeAttachment(connection);
      if (wasConnected && connection.protocolVersion === 5 && ending.reasonCode !== undefined) {
        this.send(ws, connection, { type: 'disconnect', reasonCode: ending.reasonCode });
      }
      ws.close(1000, 'session ended');
    } catch {
      // the socket is already gone
    }
    if (!wasConnected) return;
    await this.releaseSession(connection.connectionId, ending.publishWill);
    this.ctx.waitUntil(this.reportPresence(false, connection));
  }

  /**
   * The connection that owned the session is gone: forget it, end a clean session [MQTT-3.1.2-6], and
   * publish the will if asked. Does nothing if another connection already took the session over.
   */
  private async releaseSession(connectionId: string, publishWill: boolean): Promise<void> {
    const record = this.load().record;
    if (!record || record.connectionId !== connectionId) return;
    const { will, tenant, clientId } = record;
    record.connectionId = null;
    record.will = null;
    if (record.cleanSession) await this.discardState();
    else this.store.writeSession(record);
    if (publishWill && will) {
      await this.routeLogged(tenant, {
        topic: will.topic,
        payload: will.payload,
        qos: will.qos,
        retain: will.retain,
        origin: sessionName(tenant, clientId),
        ...(will.properties ? { properties: forwardableProperties(will.properties) } : {}),
      });
    }
  }

  /**
   * A reset drops every socket and may skip webSocketClose (DESIGN §3). If the stored owner of the session
   * has no socket any more, treat it as lost now: will published, clean session ended. Checked lazily when
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
    await this.releaseSession(connectionId, true);
    const record = this.load().record;
    if (record) this.ctx.waitUntil(this.reportPresence(false));
  }

  /** Forgets subscriptions (here and in the shards), inflight, queued and inbound state. */
  private async discardState(): Promise<void> {
    const session = this.load();
    const record = session.record;
    const filters = [...session.subscriptions.keys()];
    this.store.deleteAll();
    this.session = emptySession();
    if (record && filters.length > 0) {
      await this.routesFor(record.tenant)
        .unsubscribe(sessionName(record.tenant, record.clientId), filters)
        .catch((error: unknown) => console.error('unsubscribe on discard failed', String(error)));
    }
  }

  private async reportPresence(connected: boolean, connection?: SocketAttachment): Promise<void> {
    const record = this.session?.record;
    const tenant = connection?.tenant ?? record?.tenant;
    const clientId = connection?.clientId ?? record?.clientId;
    if (!tenant || clientId === undefined) return;
    try {
      await tenantStub(this.env, tenant).sessionPresence(tenant, clientId, connected);
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
            queued: this.store.countQueued(),
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

  private routeLogged(tenant: string, message: RoutedMessage): Promise<void> {
    return this.routesFor(tenant)
      .publish(message)
      .catch((error: unknown) => console.error('routing failed', { topic: message.topic, error: String(error) }));
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

function attachmentOf(ws: WebSocket): SocketAttachment {
  return ws.deserializeAttachment() as SocketAttachment;
}

function emptySession(): LoadedSession {
  return { record: undefined, subscriptions: new Map(), inflight: new Map(), inboundQos2: new Set(), queued: 0, lastPacketId: 0 };
}

function messageFields(message: Omit<Delivery, 'filters'>) {
  return {
    topic: message.topic,
    payload: message.payload,
    qos: message.qos,
    retain: message.retain,
    ...(message.properties ? { properties: message.properties } : {}),
  };
}

/** 5.0 properties that travel with an application message to its subscribers [MQTT-3.3.2-? v5]. */
function forwardableProperties(properties: Properties): Properties | undefined {
  const forwarded: Properties = {};
  if (properties.payloadFormatIndicator !== undefined) forwarded.payloadFormatIndicator = properties.payloadFormatIndicator;
  if (properties.messageExpiryInterval !== undefined) forwarded.messageExpiryInterval = properties.messageExpiryInterval;
  if (properties.contentType !== undefined) forwarded.contentType = properties.contentType;
  if (properties.responseTopic !== undefined) forwarded.responseTopic = properties.responseTopic;
  if (properties.correlationData !== undefined) forwarded.correlationData = properties.correlationData;
  if (properties.userProperties !== undefined) forwarded.userProperties = properties.userProperties;
  return Object.keys(forwarded).length > 0 ? forwarded : undefined;
}
