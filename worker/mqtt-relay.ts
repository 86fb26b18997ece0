// One client connection in the Worker: frames → whole packets, CONNECT routing, PINGREQ, keepalive, relay.
import { PacketFramer, decodePacket, encodePacket, peekConnectVersion } from '../core/codec/index.js';
import type { ConnectPacket, ProtocolVersion } from '../core/codec/packets.js';
import { MqttError } from '../core/errors.js';
import { ReasonCode, connackCodeFor, refusalClosesWithoutConnack } from '../core/reason-codes.js';
import { decideConnect, keepAliveDeadlineMs } from '../core/session/connect.js';
import { serverDisconnect } from '../core/session/server-disconnect.js';
import { sessionName, sessionStub } from '../durable-objects/addresses.js';
import { RelayCloseCode, encodeControl, relayHeaders } from '../durable-objects/relay-protocol.js';
import type { BrokerConfig } from '../durable-objects/config.js';
import type { Env } from '../durable-objects/env.js';
import { authenticate } from './authenticate.js';
import { logRefusal } from './refusal-log.js';
import { concatBytes } from '../core/codec/bytes.js';

const PINGREQ_BYTE = 0xc0;
const PINGRESP = new Uint8Array([0xd0, 0x00]);
const PACKET_TYPE_CONNECT = 1;
/** How long the Worker waits for the session to close after a keepalive timeout before it closes itself. */
const SESSION_CLOSE_GRACE_MS = 2000;
/** Bytes of client packets gathered into one message to the session at most (a larger packet goes alone). */
const COALESCE_BYTES = 256 * 1024;
/**
 * Messages to the session within one GATHER_WINDOW_MS past which the relay starts gathering (200/s): below
 * it every packet leaves at once. Gathering waits for a timer turn, and under load workerd runs timers late
 * (100 pairs at 10 msg/s each measured p50 1.9 → 15–30 ms with gathering always on), so only a client that
 * sends fast, whose packets queue anyway, has them gathered.
 */
const GATHER_AFTER = 20;
const GATHER_WINDOW_MS = 100;

type RelayState = 'awaitingConnect' | 'connecting' | 'relaying' | 'closed';

/** Counters a Worker isolate keeps for the relay (exposed for benchmarks). */
export const relayCounters = { framesRelayed: 0, pingsAnswered: 0, connections: 0 };

/**
 * Relays one client WebSocket to its session Durable Object. The Worker answers PINGREQ and enforces the
 * keepalive so that a session object sleeps (hibernates) between real packets.
 */
export class MqttRelay {
  private state: RelayState = 'awaitingConnect';
  private readonly framer: PacketFramer;
  private session: WebSocket | undefined;
  /** Packets that arrived after CONNECT while the session socket was being opened, and their bytes. */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private protocolVersion: ProtocolVersion = 4;
  /** The 5.0 client's Maximum Packet Size: a DISCONNECT we send it drops its Reason String to fit [MQTT-3.14.2-3 v5]. */
  private clientMaximumPacketSize: number | undefined;
  private keepAliveMs = 0;
  private lastPacketAt = Date.now();
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** When the packet still incomplete in the framer began (undefined: none), and its deadline's timer. */
  private partialSince: number | undefined;
  private partialTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * Packets for the session gathered while a send went out this turn (see sendToSession), and whether a
   * flush is scheduled: set while the relay is busy, clear after a quiet turn.
   */
  private gathered: Uint8Array[] = [];
  private gatheredBytes = 0;
  private flushing: ReturnType<typeof setTimeout> | undefined;
  /** Messages sent to the session in the current GATHER_WINDOW_MS, and when that window began. */
  private sentInWindow = 0;
  private windowStart = 0;

  constructor(
    private readonly client: WebSocket,
    private readonly env: Env,
    private readonly config: BrokerConfig,
    /** The client's address (CF-Connecting-IP), for the tenant's event log. */
    private readonly remoteAddress?: string,
    /** Keeps work the connection started (an event log write) alive after the socket closed. */
    private readonly waitUntil: (work: Promise<unknown>) => void = () => undefined,
  ) {
    this.framer = new PacketFramer(config.maximumPacketSize);
  }

  start(): void {
    relayCounters.connections++;
    this.client.addEventListener('message', (event) => this.onClientMessage(event.data));
    this.client.addEventListener('close', () => this.onClientGone());
    this.client.addEventListener('error', () => this.onClientGone());
    // No CONNECT within the timeout: close [MQTT-3.1.0-1 v5 / 3.1.4 "reasonable amount of time"].
    this.timer = setTimeout(() => {
      if (this.state === 'awaitingConnect') this.close('no CONNECT in time');
    }, this.config.connectTimeoutMs);
  }

  private onClientMessage(data: string | ArrayBuffer): void {
    if (this.state === 'closed') return;
    // [MQTT-6.0.0-1] MQTT control packets travel in binary frames only.
    if (typeof data === 'string') return this.close('text frame');
    let packets: Uint8Array[];
    try {
      packets = this.framer.push(new Uint8Array(data));
    } catch (error) {
      return this.failInFraming(error);
    }
    this.watchPartialPacket(packets.length > 0);
    if (packets.length === 0) return;
    this.lastPacketAt = Date.now();

    const forward: Uint8Array[] = [];
    for (const packet of packets) {
      if (this.state === 'awaitingConnect') {
        // [MQTT-3.1.0-1] the first packet must be CONNECT.
        if (packet[0]! >> 4 !== PACKET_TYPE_CONNECT) return this.close('first packet is not CONNECT');
        this.state = 'connecting';
        void this.connect(packet);
        continue;
      }
      if (packet[0] === PINGREQ_BYTE && packet.length === 2 && this.state === 'relaying') {
        // [MQTT-3.12.4-1] answered here so that the session object is not woken.
        relayCounters.pingsAnswered++;
        this.client.send(PINGRESP);
        continue;
      }
      forward.push(packet);
    }
    if (forward.length === 0) return;
    // Several packets of one frame travel as one message: one billed message instead of many.
    const message = forward.length === 1 ? forward[0]! : concatBytes(forward);
    if (this.state === 'relaying' && this.session) return this.sendToSession(message);
    // Held while the CONNECT is checked: bounded, as everything a client can make us hold is.
    this.pendingBytes += message.length;
    if (this.pendingBytes > 2 * this.config.maximumPacketSize) return this.close('too much data before CONNACK');
    this.pending.push(message);
  }

  private async connect(bytes: Uint8Array): Promise<void> {
    let packet: ConnectPacket;
    try {
      packet = decodePacket(bytes, 4) as ConnectPacket;
    } catch (error) {
      if (error instanceof MqttError && error.reasonCode === ReasonCode.UnsupportedProtocolVersion) {
        // [MQTT-3.1.2-2] unsupported level: CONNACK 0x01 (0x84 for a 5.0 client) and close.
        const level = peekConnectVersion(bytes);
        const version: ProtocolVersion = level === 5 ? 5 : 4;
        return this.refuse(version, ReasonCode.UnsupportedProtocolVersion, 'unsupported protocol version');
      }
      return this.close(`malformed CONNECT: ${(error as Error).message}`);
    }
    this.protocolVersion = packet.protocolVersion;
    this.clientMaximumPacketSize = packet.properties?.maximumPacketSize;

    const decision = decideConnect(packet, { maximumKeepAlive: this.config.maximumKeepAlive }, () => crypto.randomUUID());
    if (!decision.ok) return this.refuse(packet.protocolVersion, decision.reasonCode, decision.reason);

    // Authenticate before any session object wakes (worker/authenticate.ts: no tenant-wide object asked). The
    // whole CONNECT phase, authentication and session upgrade, ends by CONNECT_TIMEOUT: a client waiting on
    // an overloaded object is told so (busy) instead of being left to its own timeout.
    const deadline = Date.now() + this.config.connectTimeoutMs;
    let auth: Awaited<ReturnType<typeof authenticate>>;
    try {
      auth = await beforeDeadline(authenticate(packet, decision.clientId, decision.clientIdAssigned, this.config, this.env), deadline);
    } catch (error) {
      console.warn('authentication failed', String(error));
      return this.refuseUnavailable(packet.protocolVersion, error, 'authentication unavailable');
    }
    if (!auth.ok) {
      if (auth.log) this.waitUntil(logRefusal(this.env, auth.log, decision.clientId, auth.reasonCode, auth.reason, this.remoteAddress));
      return this.refuse(packet.protocolVersion, auth.reasonCode, auth.reason);
    }
    // The client may have gone while we awaited the tenant.
    if ((this.state as RelayState) === 'closed') return;

    this.keepAliveMs = keepAliveDeadlineMs(decision.keepAlive);
    const headers = relayHeaders({
      tenant: auth.tenant,
      clientId: decision.clientId,
      clientIdAssigned: decision.clientIdAssigned,
      keepAlive: decision.keepAlive,
      ...(decision.serverKeepAlive === undefined ? {} : { serverKeepAlive: decision.serverKeepAlive }),
      ...(auth.token ? { token: auth.token } : {}),
      ...(this.remoteAddress ? { remoteAddress: this.remoteAddress } : {}),
    });

    let socket: WebSocket | null;
    const upgrade = sessionStub(this.env, sessionName(auth.tenant, decision.clientId)).fetch('https://session.internal/connect', { headers });
    try {
      socket = (await beforeDeadline(upgrade, deadline)).webSocket;
    } catch (error) {
      console.warn('session connect failed', { tenant: auth.tenant, error: String(error) });
      // An upgrade that completes after the deadline is closed at once: its client was told to come back.
      void upgrade.then(
        (late) => {
          late.webSocket?.accept();
          late.webSocket?.close(RelayCloseCode.ended, 'CONNECT timed out');
        },
        () => undefined,
      );
      return this.refuseUnavailable(packet.protocolVersion, error, 'session unavailable');
    }
    if (!socket) return this.refuse(packet.protocolVersion, ReasonCode.ServerUnavailable, 'session unavailable');
    socket.accept();
    // Without this, binary frames arrive as Blobs and awaiting them reorders packets (DESIGN §6).
    socket.binaryType = 'arraybuffer';
    if (this.state === 'closed') {
      socket.close(RelayCloseCode.ended, 'client gone');
      return;
    }
    this.session = socket;
    socket.addEventListener('message', (event) => this.onSessionMessage(event.data));
    socket.addEventListener('close', () => this.close('session closed'));
    socket.addEventListener('error', () => this.close('session error'));
    this.sendToSession(bytes);
    for (const message of this.pending) this.sendToSession(message);
    this.pending = [];
    this.pendingBytes = 0;
    this.state = 'relaying';
    this.armKeepAlive();
  }

  private onSessionMessage(data: string | ArrayBuffer): void {
    if (this.state === 'closed' || typeof data === 'string') return;
    try {
      this.client.send(data);
    } catch {
      this.onClientGone();
    }
  }

  /**
   * A session object pays per WebSocket message (an event, a billed 1/20 request). A client sending fast
   * (past GATHER_AFTER messages in GATHER_WINDOW_MS) has the packets that arrive while a flush is pending
   * gathered, and they leave together one timer turn later: one message per turn instead of one per frame
   * (fan-in QoS 0 measured 14–17 k → 27–30 k msg/s). Below that rate every packet leaves at once.
   */
  private sendToSession(message: Uint8Array): void {
    if (this.flushing === undefined) {
      const now = Date.now();
      if (now - this.windowStart >= GATHER_WINDOW_MS) {
        this.windowStart = now;
        this.sentInWindow = 0;
      }
      this.deliverToSession(message);
      if (++this.sentInWindow >= GATHER_AFTER) this.flushing = setTimeout(() => this.flushGathered(), 0);
      return;
    }
    this.gathered.push(message);
    this.gatheredBytes += message.length;
    if (this.gatheredBytes >= COALESCE_BYTES) this.sendGathered();
  }

  /** The gathered packets leave; the relay stays in gathering mode for one more turn if there were any. */
  private flushGathered(): void {
    this.flushing = undefined;
    if (this.gathered.length === 0) return;
    this.sendGathered();
    this.flushing = setTimeout(() => this.flushGathered(), 0);
  }

  private sendGathered(): void {
    if (this.gathered.length === 0) return;
    const message = this.gathered.length === 1 ? this.gathered[0]! : concatBytes(this.gathered);
    this.gathered = [];
    this.gatheredBytes = 0;
    this.deliverToSession(message);
  }

  private deliverToSession(message: Uint8Array): void {
    relayCounters.framesRelayed++;
    try {
      this.session?.send(message);
    } catch {
      this.close('session send failed');
    }
  }

  /** One timer per connection, re-armed lazily: a packet only stamps `lastPacketAt`. */
  private armKeepAlive(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.keepAliveMs === 0) return;
    const wait = this.lastPacketAt + this.keepAliveMs - Date.now();
    this.timer = setTimeout(() => {
      if (this.state !== 'relaying') return;
      if (Date.now() - this.lastPacketAt >= this.keepAliveMs) this.keepAliveExpired();
      else this.armKeepAlive();
    }, Math.max(wait, 0));
  }

  /** [MQTT-3.1.2-24] no packet within 1.5 × keepalive: the session publishes the will and closes. */
  private keepAliveExpired(): void {
    this.sendGathered(); // packets first, in their order
    try {
      this.session?.send(encodeControl({ type: 'keepalive-timeout' }));
    } catch {
      return this.close('keepalive timeout');
    }
    this.timer = setTimeout(() => this.close('keepalive timeout'), SESSION_CLOSE_GRACE_MS);
  }

  /**
   * A packet must arrive whole within PACKET_TIMEOUT of its first byte. The keepalive only counts whole
   * packets, and with keepalive 0 there is none: without this, a client could hold half of a 1 MiB packet
   * in this Worker forever. `completed` says the chunk just read finished a packet, so what is left over
   * (if anything) is a new one.
   */
  private watchPartialPacket(completed: boolean): void {
    if (this.framer.buffered === 0) {
      this.partialSince = undefined;
      if (this.partialTimer) clearTimeout(this.partialTimer);
      this.partialTimer = undefined;
      return;
    }
    if (this.partialSince !== undefined && !completed) return;
    this.partialSince = Date.now();
    if (this.partialTimer) clearTimeout(this.partialTimer);
    this.partialTimer = setTimeout(() => {
      if (this.partialSince !== undefined && this.framer.buffered > 0) this.close('packet incomplete after PACKET_TIMEOUT');
    }, this.config.packetTimeoutMs);
  }

  private failInFraming(error: unknown): void {
    if (error instanceof MqttError && this.protocolVersion === 5 && this.state === 'relaying') {
      // [MQTT-4.13.1-1 v5] tell a 5.0 client why before closing (0x95 packet too large, 0x81 malformed).
      this.client.send(encodePacket(serverDisconnect(error.reasonCode, undefined, this.clientMaximumPacketSize), 5));
    }
    this.close(`framing: ${(error as Error).message}`);
  }

  private refuse(version: ProtocolVersion, reasonCode: number, reason: string): void {
    // 3.1.1 has no CONNACK code for a malformed or violating CONNECT: close without one [MQTT-4.8.0-1].
    if (refusalClosesWithoutConnack(reasonCode, version)) return this.close(`refused: ${reason}`);
    const connack = encodePacket({ type: 'connack', sessionPresent: false, reasonCode: connackCodeFor(reasonCode, version) }, version);
    try {
      this.client.send(connack);
    } catch {
      // the client is already gone
    }
    this.close(`refused: ${reason}`);
  }

  /**
   * The CONNECT could not be served now. An overloaded object or the CONNECT phase's deadline: 5.0 0x89
   * Server busy; anything else 0x88 Server unavailable (3.1.1: 0x03 for both). Clients should retry with a
   * jittered back-off (README, "Reconnect storms").
   */
  private refuseUnavailable(version: ProtocolVersion, error: unknown, reason: string): void {
    const busy = error instanceof ConnectPhaseTimeout || (error as { overloaded?: boolean } | null)?.overloaded === true;
    this.refuse(version, busy ? ReasonCode.ServerBusy : ReasonCode.ServerUnavailable, busy ? `${reason}: busy` : reason);
  }

  private onClientGone(): void {
    this.close('client closed');
  }

  /**
   * Ends both sockets once; the session object sees the close and decides about the will. Every reason here is
   * the client's going (or the session's own close), hence RelayCloseCode.ended: only a close the platform
   * makes carries another code, and holds the will for the grace (durable-objects/relay-protocol.ts).
   */
  private close(reason: string): void {
    if (this.state === 'closed') return;
    // What the client sent before it went (its DISCONNECT, last publishes) reaches the session first.
    this.sendGathered();
    clearTimeout(this.flushing);
    this.state = 'closed';
    if (this.timer) clearTimeout(this.timer);
    if (this.partialTimer) clearTimeout(this.partialTimer);
    for (const socket of [this.session, this.client]) {
      try {
        socket?.close(RelayCloseCode.ended, reason.slice(0, 120));
      } catch {
        // already closed
      }
    }
  }
}

class ConnectPhaseTimeout extends Error {}

/** Settles as `promise` does, or rejects with ConnectPhaseTimeout at `deadline` (ms since the epoch). */
function beforeDeadline<T>(promise: Promise<T>, deadline: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ConnectPhaseTimeout('CONNECT phase timed out')), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
