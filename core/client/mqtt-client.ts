// The broker as an MQTT client: what a bridge (to another broker, and into its own tenant) and a rule (out of
// its tenant) speak over whatever carries their bytes. QoS 0 and 1 both ways (a bridge and a rule subscribe at
// QoS 1 at most; a QoS 2 delivery is still answered correctly). No I/O here: the caller gives a transport and
// feeds it the bytes that arrive.
//
// What makes a forward lossless is the order of acknowledgements: an incoming QoS 1 message is acknowledged
// (PUBACK) only once the handler's promise resolved, i.e. once the message was stored wherever it went. A
// handler that fails closes the connection without acknowledging, so the sender delivers it again after the
// reconnect [MQTT-4.4.0-1]. Acknowledgements leave in the order the messages arrived [MQTT-4.6.0-2], however
// the handlers' promises settle.
import { PacketFramer, decodePacket, encodePacket, type ConnackPacket, type Packet, type Properties, type PublishPacket, type QoS, type Subscription } from '../codec/index.js';
import { isFailureCode } from '../reason-codes.js';

export interface ByteTransport {
  send(bytes: Uint8Array): void;
  close(reason: string): void;
}

/** Timers, given by the caller: core has no platform (the keepalive's pings are the only use). */
export interface Timers {
  set(callback: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface ClientOptions {
  clientId: string;
  protocolVersion: 4 | 5;
  /** Clean Start (5.0) / Clean Session (3.1.1). A bridge keeps its sessions: false. */
  cleanStart: boolean;
  /** Seconds; 0 = none (the broker's own session link needs no pings). */
  keepAlive: number;
  username?: string;
  password?: Uint8Array;
  /** 5.0 Session Expiry Interval, seconds. */
  sessionExpiry?: number;
  /** 5.0 Receive Maximum we announce: QoS 1 messages the server may have unacknowledged towards us. */
  receiveMaximum?: number;
  /** Largest packet we accept (5.0 Maximum Packet Size; also the framer's bound for 3.1.1). */
  maximumPacketSize?: number;
}

export interface OutgoingMessage {
  topic: string;
  payload: Uint8Array;
  qos: 0 | 1;
  retain: boolean;
  properties?: Properties;
}

/** A message received; `handled` resolving is what lets its acknowledgement leave. */
export type MessageHandler = (message: PublishPacket) => Promise<void> | void;

/** A refused CONNECT, SUBSCRIBE or PUBLISH, with the server's reason code. */
export class RefusedError extends Error {
  constructor(
    message: string,
    readonly reasonCode: number,
  ) {
    super(message);
  }
}

const DEFAULT_MAX_PACKET = 1024 * 1024;

interface Pending<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

export class MqttClient {
  private readonly framer: PacketFramer;
  private connected = false;
  private closedWith: string | undefined;
  private connack: Pending<ConnackPacket> | undefined;
  private readonly awaiting = new Map<number, Pending<Packet>>();
  /** QoS 1 publishes waiting for the server's Receive Maximum to allow them. */
  private readonly waiting: Array<{ message: OutgoingMessage; pending: Pending<number> }> = [];
  private inflightOut = 0;
  private serverReceiveMaximum = 65_535;
  private serverMaximumPacketSize = Number.POSITIVE_INFINITY;
  private nextPacketId = 1;
  /** Acknowledgements leave in arrival order: each waits for the one before it. */
  private ackChain: Promise<void> = Promise.resolve();
  private lastSentAt = 0;
  private keepAliveTimer: unknown;
  private pingOutstandingSince: number | undefined;
  private readonly onClose: Array<(reason: string) => void> = [];

  constructor(
    private readonly transport: ByteTransport,
    private readonly options: ClientOptions,
    private readonly handler: MessageHandler,
    private readonly timers: Timers,
  ) {
    this.framer = new PacketFramer(options.maximumPacketSize ?? DEFAULT_MAX_PACKET);
  }

  get isConnected(): boolean {
    return this.connected && this.closedWith === undefined;
  }

  /** Why the connection ended, once it did. */
  get closeReason(): string | undefined {
    return this.closedWith;
  }

  whenClosed(listener: (reason: string) => void): void {
    if (this.closedWith !== undefined) listener(this.closedWith);
    else this.onClose.push(listener);
  }

  /** Sends CONNECT; resolves with the CONNACK, rejects with RefusedError when the server refuses. */
  connect(): Promise<ConnackPacket> {
    const { clientId, protocolVersion, cleanStart, keepAlive, username, password, sessionExpiry, receiveMaximum, maximumPacketSize } = this.options;
    const properties: Properties = {};
    if (protocolVersion === 5) {
      if (sessionExpiry !== undefined) properties.sessionExpiryInterval = sessionExpiry;
      if (receiveMaximum !== undefined) properties.receiveMaximum = receiveMaximum;
      properties.maximumPacketSize = maximumPacketSize ?? DEFAULT_MAX_PACKET;
    }
    return new Promise<ConnackPacket>((resolve, reject) => {
      this.connack = { resolve, reject };
      this.send({
        type: 'connect',
        protocolName: 'MQTT',
        protocolVersion,
        cleanSession: cleanStart,
        keepAlive,
        clientId,
        ...(username === undefined ? {} : { username }),
        ...(password === undefined ? {} : { password }),
        ...(protocolVersion === 5 ? { properties } : {}),
      });
    });
  }

  /** Resolves with the SUBACK's codes; rejects with RefusedError if any filter was refused. */
  async subscribe(subscriptions: Subscription[]): Promise<number[]> {
    const packetId = this.takePacketId();
    const suback = await this.request(packetId, { type: 'subscribe', packetId, subscriptions });
    if (suback.type !== 'suback') throw new Error(`expected SUBACK, got ${suback.type}`);
    const refused = suback.reasonCodes.findIndex((code) => isFailureCode(code));
    if (refused >= 0) throw new RefusedError(`subscription to "${subscriptions[refused]!.topicFilter}" refused`, suback.reasonCodes[refused]!);
    return suback.reasonCodes;
  }

  /**
   * Removes subscriptions (a bridge drops the filters an earlier configuration left in its persistent
   * session). Resolves at UNSUBACK; 5.0 0x11 No subscription existed is fine.
   */
  async unsubscribe(topicFilters: string[]): Promise<void> {
    const packetId = this.takePacketId();
    const unsuback = await this.request(packetId, { type: 'unsubscribe', packetId, topicFilters });
    if (unsuback.type !== 'unsuback') throw new Error(`expected UNSUBACK, got ${unsuback.type}`);
  }

  /**
   * QoS 0: sent, resolves at once. QoS 1: resolves when the server acknowledged it (PUBACK), with its reason
   * code (5.0 0x10 No matching subscribers is a success); rejects with RefusedError for a failure code, or
   * when the connection ends first (the caller keeps the message and sends it again).
   */
  publish(message: OutgoingMessage): Promise<number> {
    if (this.closedWith !== undefined) return Promise.reject(new Error(`connection closed: ${this.closedWith}`));
    if (message.qos === 0) {
      this.sendPublish(message, undefined);
      return Promise.resolve(0);
    }
    return new Promise<number>((resolve, reject) => {
      const pending = { resolve, reject };
      if (this.inflightOut < this.serverReceiveMaximum) this.startQos1(message, pending);
      else this.waiting.push({ message, pending });
    });
  }

  /** Unacknowledged QoS 1 publishes we sent, and those waiting for room. */
  get unacknowledged(): number {
    return this.inflightOut + this.waiting.length;
  }

  /** Feeds bytes the transport received. */
  receive(bytes: Uint8Array): void {
    if (this.closedWith !== undefined) return;
    let packets: Uint8Array[];
    try {
      packets = this.framer.push(bytes);
    } catch (error) {
      return this.fail(`framing: ${(error as Error).message}`);
    }
    for (const raw of packets) {
      let packet: Packet;
      try {
        packet = decodePacket(raw, this.options.protocolVersion);
      } catch (error) {
        return this.fail(`malformed packet: ${(error as Error).message}`);
      }
      this.dispatch(packet);
      if (this.closedWith !== undefined) return;
    }
  }

  /** Sends DISCONNECT (normal) and closes. */
  disconnect(reason = 'disconnect'): void {
    if (this.closedWith !== undefined) return;
    try {
      this.send({ type: 'disconnect' });
    } catch {
      // the transport is gone already
    }
    this.ended(reason, true);
  }

  /** The transport ended (closed by the peer, or broken). */
  transportClosed(reason: string): void {
    this.ended(reason, false);
  }

  private dispatch(packet: Packet): void {
    switch (packet.type) {
      case 'connack':
        return this.onConnack(packet);
      case 'publish':
        return this.onPublish(packet);
      case 'puback':
      case 'suback':
      case 'unsuback':
        return this.settle(packet.packetId, packet);
      case 'pubrel':
        // The QoS 2 delivery's second half: its message was handed over at PUBREC.
        return this.send({ type: 'pubcomp', packetId: packet.packetId });
      case 'pingresp':
        this.pingOutstandingSince = undefined;
        return;
      case 'disconnect':
        return this.fail(`server sent DISCONNECT${packet.reasonCode ? ` 0x${packet.reasonCode.toString(16)}` : ''}${packet.properties?.reasonString ? `: ${packet.properties.reasonString}` : ''}`);
      case 'pubrec':
      case 'pubcomp':
        // We never publish at QoS 2.
        return this.fail(`unexpected ${packet.type.toUpperCase()}`);
      default:
        return this.fail(`unexpected ${packet.type.toUpperCase()} from the server`);
    }
  }

  private onConnack(packet: ConnackPacket): void {
    const pending = this.connack;
    this.connack = undefined;
    if (!pending) return this.fail('CONNACK twice');
    if (packet.reasonCode !== 0) {
      pending.reject(new RefusedError(`CONNECT refused with 0x${packet.reasonCode.toString(16)}${packet.properties?.reasonString ? `: ${packet.properties.reasonString}` : ''}`, packet.reasonCode));
      return this.ended('CONNECT refused', false);
    }
    this.connected = true;
    this.serverReceiveMaximum = packet.properties?.receiveMaximum ?? 65_535;
    this.serverMaximumPacketSize = packet.properties?.maximumPacketSize ?? Number.POSITIVE_INFINITY;
    const keepAlive = packet.properties?.serverKeepAlive ?? this.options.keepAlive;
    if (keepAlive > 0) this.armKeepAlive(keepAlive * 1000);
    pending.resolve(packet);
  }

  private onPublish(packet: PublishPacket): void {
    let handled: Promise<void>;
    try {
      handled = Promise.resolve(this.handler(packet));
    } catch (error) {
      handled = Promise.reject(error as Error);
    }
    if (packet.qos === 0) {
      handled.catch(() => undefined);
      return;
    }
    const packetId = packet.packetId!;
    const ack: Packet = packet.qos === 1 ? { type: 'puback', packetId } : { type: 'pubrec', packetId };
    const previous = this.ackChain;
    this.ackChain = previous.then(
      () => handled,
    ).then(
      () => {
        if (this.closedWith === undefined) this.send(ack);
      },
      (error: unknown) => {
        // Not acknowledged: the server keeps it and sends it again after we reconnect.
        this.fail(`message on "${packet.topic}" not handed over: ${String((error as Error)?.message ?? error)}`);
        throw error;
      },
    );
    // Once one failed, the chain stays failed: nothing after it is acknowledged on this connection.
    this.ackChain.catch(() => undefined);
  }

  private startQos1(message: OutgoingMessage, pending: Pending<number>): void {
    const packetId = this.takePacketId();
    this.inflightOut++;
    this.awaiting.set(packetId, {
      resolve: (packet) => {
        this.inflightOut--;
        this.startWaiting();
        const code = (packet as { reasonCode?: number }).reasonCode ?? 0;
        if (isFailureCode(code)) pending.reject(new RefusedError(`publish to "${message.topic}" refused with 0x${code.toString(16)}`, code));
        else pending.resolve(code);
      },
      reject: (error) => {
        this.inflightOut--;
        pending.reject(error);
      },
    });
    try {
      this.sendPublish(message, packetId);
    } catch (error) {
      this.awaiting.delete(packetId);
      this.inflightOut--;
      pending.reject(error as Error);
    }
  }

  private startWaiting(): void {
    while (this.waiting.length > 0 && this.inflightOut < this.serverReceiveMaximum && this.closedWith === undefined) {
      const next = this.waiting.shift()!;
      this.startQos1(next.message, next.pending);
    }
  }

  private sendPublish(message: OutgoingMessage, packetId: number | undefined): void {
    const packet: PublishPacket = {
      type: 'publish',
      topic: message.topic,
      payload: message.payload,
      qos: message.qos,
      retain: message.retain,
      dup: false,
      ...(packetId === undefined ? {} : { packetId }),
      ...(message.properties && this.options.protocolVersion === 5 ? { properties: message.properties } : {}),
    };
    const bytes = encodePacket(packet, this.options.protocolVersion);
    if (bytes.length > this.serverMaximumPacketSize) {
      throw new RefusedError(`message of ${bytes.length} bytes exceeds the server's maximum packet size`, 0x95);
    }
    this.write(bytes);
  }

  private request(packetId: number, packet: Packet): Promise<Packet> {
    if (this.closedWith !== undefined) return Promise.reject(new Error(`connection closed: ${this.closedWith}`));
    return new Promise<Packet>((resolve, reject) => {
      this.awaiting.set(packetId, { resolve, reject });
      this.send(packet);
    });
  }

  private settle(packetId: number, packet: Packet): void {
    const pending = this.awaiting.get(packetId);
    if (!pending) return this.fail(`${packet.type.toUpperCase()} for unknown packet id ${packetId}`);
    this.awaiting.delete(packetId);
    pending.resolve(packet);
  }

  private takePacketId(): number {
    for (let tries = 0; tries < 65_535; tries++) {
      const id = this.nextPacketId;
      this.nextPacketId = id === 65_535 ? 1 : id + 1;
      if (!this.awaiting.has(id)) return id;
    }
    throw new Error('no free packet identifier');
  }

  /** PINGREQ after keepAlive of silence from us; no answer within another keepAlive ends the connection. */
  private armKeepAlive(keepAliveMs: number): void {
    const tick = () => {
      if (this.closedWith !== undefined) return;
      const now = Date.now();
      if (this.pingOutstandingSince !== undefined && now - this.pingOutstandingSince >= keepAliveMs) {
        return this.fail('no PINGRESP within the keepalive');
      }
      if (this.pingOutstandingSince === undefined && now - this.lastSentAt >= keepAliveMs * 0.75) {
        this.pingOutstandingSince = now;
        this.send({ type: 'pingreq' });
      }
      this.keepAliveTimer = this.timers.set(tick, Math.max(250, keepAliveMs / 4));
    };
    this.keepAliveTimer = this.timers.set(tick, Math.max(250, keepAliveMs / 4));
  }

  private send(packet: Packet): void {
    this.write(encodePacket(packet, packet.type === 'connect' ? packet.protocolVersion : this.options.protocolVersion));
  }

  private write(bytes: Uint8Array): void {
    this.lastSentAt = Date.now();
    this.transport.send(bytes);
  }

  private fail(reason: string): void {
    this.ended(reason, true);
  }

  private ended(reason: string, closeTransport: boolean): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = reason;
    this.connected = false;
    if (this.keepAliveTimer !== undefined) this.timers.clear(this.keepAliveTimer);
    if (closeTransport) {
      try {
        this.transport.close(reason);
      } catch {
        // already closed
      }
    }
    const error = new Error(`connection closed: ${reason}`);
    this.connack?.reject(error);
    this.connack = undefined;
    for (const pending of this.awaiting.values()) pending.reject(error);
    this.awaiting.clear();
    for (const { pending } of this.waiting.splice(0)) pending.reject(error);
    for (const listener of this.onClose.splice(0)) listener(reason);
  }
}

/** Subscription at QoS ≤ 1, as the broker's own clients take them. */
export function subscription(topicFilter: string, qos: QoS, noLocal: boolean): Subscription {
  return { topicFilter, qos, ...(noLocal ? { noLocal: true } : {}) };
}
