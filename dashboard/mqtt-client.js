// A small MQTT 5.0 / 3.1.1 client over WebSocket for the dashboard's web client (no dependencies).
//
//   const client = new MqttClient({ url: 'wss://host/mqtt', clientId: 'board-1', username: token,
//                                   will: { topic: 'board/gone', payload: 'bye', qos: 1, retain: false } });
//   client.addEventListener('message', (e) => show(e.detail.topic, e.detail.payload, e.detail.properties));
//   client.addEventListener('close', (e) => e.detail.byServer && warn(e.detail.reason));
//   await client.connect();                        // resolves on a successful CONNACK, rejects with the refusal
//   await client.subscribe('demo/#', 2);           // { reasonCode: 2 } (granted QoS) or a failure ≥ 0x80
//   await client.publish('demo/hello', 'hi', { qos: 2, userProperties: [['k', 'v']] });
//                                                  // { reasonCode } of PUBACK / PUBREC: ≥ 0x80 is a refusal
//   client.disconnect();
//
// Outbound QoS 2 runs PUBLISH → PUBREC → PUBREL → PUBCOMP; inbound QoS 2 is delivered on PUBLISH and its id
// held until PUBREL, so that a resend before PUBREL is not delivered twice.
import { CONNACK, DISCONNECT, Framer, PINGRESP, PUBACK, PUBCOMP, PUBLISH, PUBREC, PUBREL, SUBACK, UNSUBACK, decodePacket, encode } from './mqtt-codec.js';
import { describeConnackV3, describeReason, isFailure } from './reason-codes.js';

const encoder = new TextEncoder();

/** The ack each kind of request waits for next. */
const AWAITS = { publish1: PUBACK, publish2: PUBREC, release: PUBCOMP, subscribe: SUBACK, unsubscribe: UNSUBACK };
const PACKET_NAMES = { [PUBACK]: 'PUBACK', [PUBREC]: 'PUBREC', [PUBCOMP]: 'PUBCOMP', [SUBACK]: 'SUBACK', [UNSUBACK]: 'UNSUBACK' };

/**
 * Events (CustomEvent, details in brackets):
 *   'state'   { state: 'connecting' | 'connected' | 'closed' }
 *   'message' { topic, payload: Uint8Array, qos, retain, dup, properties }
 *   'close'   { byServer: boolean, reason: string, code: number, wsReason: string,
 *               disconnect?: { reasonCode, reasonString?, serverReference? } }   (disconnect: a 5.0 DISCONNECT)
 */
export class MqttClient extends EventTarget {
  /**
   * @param {{ url: string, clientId: string, protocolVersion?: 4 | 5, username?: string, password?: string,
   *           keepalive?: number, clean?: boolean, sessionExpiryInterval?: number,
   *           will?: { topic: string, payload: string | Uint8Array, qos: 0 | 1 | 2, retain: boolean },
   *           connectTimeoutMs?: number, WebSocket?: typeof WebSocket }} options
   */
  constructor(options) {
    super();
    this.options = { protocolVersion: 5, keepalive: 30, clean: true, connectTimeoutMs: 10_000, ...options };
    this.version = this.options.protocolVersion === 4 ? 4 : 5;
    /** 'idle' → 'connecting' → 'connected' → 'closed'; one field, so no impossible combinations. */
    this.state = 'idle';
    this.ws = undefined;
    this.framer = new Framer();
    this.nextId = 1;
    /** packetId → { kind, resolve, reject, ack? }: requests waiting for the server's answer. */
    this.pending = new Map();
    /** Inbound QoS 2 ids between PUBREC and PUBREL (delivered once). */
    this.inboundQos2 = new Set();
    /** What the CONNACK said the server allows (5.0 section 3.2.2.3); 3.1.1 servers say nothing. */
    this.server = { receiveMaximum: 65_535, maximumQoS: 2, retainAvailable: true, keepalive: this.options.keepalive };
    this.pingTimer = undefined;
    this.pingDeadline = undefined;
    /** Set once the end is decided (ours, a refusal, or the server's DISCONNECT): the socket close only confirms it. */
    this.ending = undefined;
  }

  /** Opens the WebSocket and sends CONNECT; resolves with { sessionPresent, reasonCode, properties } on success. */
  connect() {
    if (this.state !== 'idle') return Promise.reject(new Error('a client connects once; make a new one'));
    const WS = this.options.WebSocket ?? globalThis.WebSocket;
    this.#setState('connecting');
    return new Promise((resolve, reject) => {
      this.connackWaiter = { resolve, reject };
      this.connackTimer = setTimeout(() => this.#fail('no CONNACK within the connect timeout'), this.options.connectTimeoutMs);
      let ws;
      try {
        ws = new WS(this.options.url, 'mqtt'); // [MQTT-6.0.0-3] subprotocol "mqtt"
      } catch (error) {
        this.#fail(`cannot open WebSocket: ${error.message}`);
        return;
      }
      this.ws = ws;
      ws.binaryType = 'arraybuffer';
      ws.onopen = () => this.#send(encode.connect(this.#connectFields()));
      ws.onmessage = (event) => this.#receive(event.data);
      ws.onerror = () => {
        if (this.state === 'connecting') this.#fail('cannot open the WebSocket connection');
      };
      ws.onclose = (event) => this.#closed(event.code, event.reason);
    });
  }

  /** Subscribes one filter; resolves with { reasonCode, reasonString? }: the granted QoS, or a failure ≥ 0x80. */
  subscribe(filter, qos = 0) {
    const packetId = this.#allocateId();
    return this.#request(packetId, 'subscribe', encode.subscribe(packetId, [{ filter, qos }], this.version)).then(({ ack }) => this.#outcome(ack, ack.reasonCodes[0]));
  }

  /** Resolves with { reasonCode, reasonString? } (5.0 UNSUBACK; 3.1.1 has no code: 0). */
  unsubscribe(filter) {
    const packetId = this.#allocateId();
    return this.#request(packetId, 'unsubscribe', encode.unsubscribe(packetId, [filter], this.version)).then(({ ack }) => this.#outcome(ack, ack.reasonCodes[0] ?? 0));
  }

  /**
   * Publishes. QoS 0 resolves with undefined once sent (nothing is acknowledged); QoS 1 on PUBACK, QoS 2 on
   * PUBCOMP, or on a PUBREC ≥ 0x80 that ends the exchange, with { reasonCode, reasonString? }. A code ≥ 0x80
   * is the server's refusal (5.0); 3.1.1 servers cannot refuse and answer 0.
   */
  publish(topic, payload, { qos = 0, retain = false, userProperties = [] } = {}) {
    if (this.state !== 'connected') return Promise.reject(new Error('not connected'));
    if (![0, 1, 2].includes(qos)) return Promise.reject(new Error(`QoS ${qos} does not exist`));
    // What the server's CONNACK ruled out is not sent (5.0 section 3.2.2.3.4 Maximum QoS, 3.2.2.3.5 Retain Available).
    if (qos > this.server.maximumQoS) return Promise.reject(new Error(`the server accepts QoS ${this.server.maximumQoS} at most`));
    if (retain && !this.server.retainAvailable) return Promise.reject(new Error('the server does not keep retained messages'));
    const message = {
      topic,
      payload: typeof payload === 'string' ? encoder.encode(payload) : payload,
      qos,
      retain,
      dup: false,
      properties: userProperties.length > 0 && this.version === 5 ? { userProperties } : undefined,
    };
    if (qos === 0) {
      this.#send(encode.publish(message, this.version));
      return Promise.resolve(undefined);
    }
    // [MQTT-3.3.4-7 v5] no more unacknowledged QoS 1 and 2 publishes than the server's Receive Maximum.
    const inflight = [...this.pending.values()].filter((p) => p.kind !== 'subscribe' && p.kind !== 'unsubscribe').length;
    if (inflight >= this.server.receiveMaximum) return Promise.reject(new Error(`the server's Receive Maximum (${this.server.receiveMaximum}) is reached`));
    const packetId = this.#allocateId();
    return this.#request(packetId, qos === 1 ? 'publish1' : 'publish2', encode.publish({ ...message, packetId }, this.version)).then(({ ack, received }) => this.#outcome(received ?? ack, (received ?? ack).reasonCode));
  }

  /** Sends DISCONNECT (normal disconnection, so the will is not published) and closes the socket. */
  disconnect() {
    if (this.state === 'closed' || this.state === 'idle') return;
    if (this.state === 'connected') this.#send(encode.disconnect());
    this.#end({ byServer: false, reason: 'client disconnect' });
  }

  // ---- internals ----

  #connectFields() {
    const { clientId, username, password, keepalive, clean, will, sessionExpiryInterval } = this.options;
    const properties = this.version === 5 && sessionExpiryInterval ? { sessionExpiryInterval } : {};
    return { protocolVersion: this.version, clientId, username, password, keepalive, clean, properties, ...(will ? { will } : {}) };
  }

  #outcome(ack, reasonCode) {
    const reasonString = ack.properties?.reasonString;
    return reasonString === undefined ? { reasonCode } : { reasonCode, reasonString };
  }

  #setState(state) {
    this.state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: { state } }));
  }

  #allocateId() {
    for (let tries = 0; tries < 65535; tries++) {
      const id = this.nextId;
      this.nextId = id === 65535 ? 1 : id + 1; // ids are 1..65535 [MQTT-2.3.1-1]
      if (!this.pending.has(id)) return id;
    }
    throw new Error('no free packet identifier');
  }

  #request(packetId, kind, bytes) {
    if (this.state !== 'connected') return Promise.reject(new Error('not connected'));
    return new Promise((resolve, reject) => {
      this.pending.set(packetId, { kind, resolve, reject });
      this.#send(bytes);
    });
  }

  #send(bytes) {
    if (this.ws?.readyState !== 1) return;
    this.ws.send(bytes);
    this.#armPing();
  }

  /** PINGREQ after `keepalive` seconds without sending [MQTT-3.1.2-23]; no PINGRESP in time → close. */
  #armPing() {
    const keepalive = this.server.keepalive;
    if (!keepalive || this.state === 'closed') return;
    clearTimeout(this.pingTimer);
    this.pingTimer = setTimeout(() => {
      if (this.state !== 'connected') return;
      this.#send(encode.pingreq());
      this.pingDeadline ??= setTimeout(() => this.#fail('no PINGRESP from the server'), Math.max(5, keepalive / 2) * 1000);
    }, keepalive * 1000);
  }

  #receive(data) {
    if (typeof data === 'string') return this.#fail('the server sent a text frame; MQTT uses binary frames');
    try {
      for (const raw of this.framer.push(new Uint8Array(data))) {
        if (this.state === 'closed') break;
        this.#handle(decodePacket(raw, this.version));
      }
    } catch (error) {
      this.#fail(`protocol error: ${error.message}`);
    }
  }

  #handle(p) {
    switch (p.type) {
      case CONNACK:
        return this.#onConnack(p);
      case PUBLISH:
        return this.#onPublish(p);
      case PUBREL: {
        // [MQTT-4.3.3-11 v5] PUBREL gets PUBCOMP; an id we do not hold is 0x92 Packet Identifier not found.
        const known = this.inboundQos2.delete(p.packetId);
        this.#send(encode.ack(PUBCOMP, p.packetId, this.version, known ? 0 : 0x92));
        return;
      }
      case PUBACK:
      case PUBREC:
      case PUBCOMP:
      case SUBACK:
      case UNSUBACK:
        return this.#onAck(p);
      case PINGRESP:
        clearTimeout(this.pingDeadline);
        this.pingDeadline = undefined;
        return;
      case DISCONNECT:
        return this.#onDisconnect(p);
      default:
        throw new Error(`unexpected packet type ${p.type}`);
    }
  }

  #onConnack(p) {
    if (this.state !== 'connecting') throw new Error('unexpected CONNACK');
    clearTimeout(this.connackTimer);
    if (p.reasonCode !== 0) {
      // 5.0: a reason code ≥ 0x80 and the connection is closed [MQTT-3.2.2-7 v5]; 3.1.1: a return code 1–5.
      const words = this.version === 5 ? describeReason(p.reasonCode, 'connack') : describeConnackV3(p.reasonCode);
      const why = p.properties.reasonString ? `${words}: ${p.properties.reasonString}` : words;
      return this.#fail(`connection refused: ${why}`, p.reasonCode);
    }
    const { receiveMaximum, maximumQoS, retainAvailable, serverKeepAlive } = p.properties;
    if (receiveMaximum !== undefined) this.server.receiveMaximum = receiveMaximum;
    if (maximumQoS !== undefined) this.server.maximumQoS = maximumQoS;
    if (retainAvailable !== undefined) this.server.retainAvailable = retainAvailable === 1;
    // [MQTT-3.2.2-21 v5] a Server Keep Alive replaces the keepalive we asked for.
    if (serverKeepAlive !== undefined) this.server.keepalive = serverKeepAlive;
    this.#setState('connected');
    this.#armPing();
    this.connackWaiter?.resolve({ sessionPresent: p.sessionPresent, reasonCode: p.reasonCode, properties: p.properties });
    this.connackWaiter = undefined;
  }

  #onPublish(p) {
    if (p.qos === 1) this.#send(encode.ack(PUBACK, p.packetId, this.version));
    if (p.qos === 2) {
      this.#send(encode.ack(PUBREC, p.packetId, this.version));
      // [MQTT-4.3.3-2] [MQTT-4.3.3-10 v5] a resend before PUBREL was delivered already.
      if (this.inboundQos2.has(p.packetId)) return;
      this.inboundQos2.add(p.packetId);
    }
    const { topic, payload, qos, retain, dup, properties } = p;
    this.dispatchEvent(new CustomEvent('message', { detail: { topic, payload, qos, retain, dup, properties } }));
  }

  #onAck(p) {
    const waiter = this.pending.get(p.packetId);
    if (!waiter) return; // a late answer to a request already settled: nothing waits for it
    if (AWAITS[waiter.kind] !== p.type) throw new Error(`${PACKET_NAMES[p.type]} for packet ${p.packetId}, which awaits ${PACKET_NAMES[AWAITS[waiter.kind]]}`);
    if (p.type === PUBREC && !isFailure(p.reasonCode)) {
      // [MQTT-4.3.3-4 v5] PUBREC below 0x80: release with PUBREL, then wait for PUBCOMP (the id stays taken).
      waiter.kind = 'release';
      waiter.received = p;
      this.#send(encode.ack(PUBREL, p.packetId, this.version));
      return;
    }
    // A PUBREC ≥ 0x80 ends the exchange there: no PUBREL follows (5.0 section 4.3.3).
    this.pending.delete(p.packetId);
    // PUBCOMP reports the PUBREC's outcome unless it failed itself (0x92 Packet Identifier not found).
    const received = p.type === PUBCOMP && !isFailure(p.reasonCode) ? waiter.received : undefined;
    waiter.resolve({ ack: p, received });
  }

  #onDisconnect(p) {
    // [MQTT-3.14.2-1 v5] the server says why it ends the connection; it closes the socket next.
    const { reasonString, serverReference } = p.properties;
    const disconnect = { reasonCode: p.reasonCode, ...(reasonString === undefined ? {} : { reasonString }), ...(serverReference === undefined ? {} : { serverReference }) };
    const words = describeReason(p.reasonCode, 'disconnect');
    this.#end({ byServer: true, reason: `connection closed by the server: ${words}${reasonString ? ` (${reasonString})` : ''}`, disconnect });
  }

  /** Ends the connection because of a problem seen on our side (or a refused CONNECT). */
  #fail(reason, reasonCode) {
    this.#end({ byServer: false, reason, ...(reasonCode === undefined ? {} : { reasonCode }) });
  }

  /** Decides how the connection ends, closes the socket and reports; the socket's own close then changes nothing. */
  #end(ending) {
    if (this.state === 'closed' || this.ending) return;
    this.ending = ending;
    try {
      this.ws?.close(1000, ending.byServer ? undefined : 'client disconnect');
    } catch {
      // already closing
    }
    // Browsers report the close asynchronously; the client is done now.
    this.#closed(1000, '');
  }

  #closed(code, wsReason) {
    if (this.state === 'closed') return;
    // No DISCONNECT and nothing decided on our side: the server (or the network) closed the socket.
    const { byServer, reason, disconnect, reasonCode } = this.ending ?? { byServer: true, reason: 'connection closed by the server' };
    const wasConnecting = this.state === 'connecting';
    clearTimeout(this.pingTimer);
    clearTimeout(this.pingDeadline);
    clearTimeout(this.connackTimer);
    this.#setState('closed');
    const error = Object.assign(new Error(reason), reasonCode === undefined ? {} : { reasonCode });
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
    if (wasConnecting) this.connackWaiter?.reject(error);
    this.connackWaiter = undefined;
    if (this.ws) this.ws.onmessage = this.ws.onclose = this.ws.onerror = this.ws.onopen = null;
    this.dispatchEvent(new CustomEvent('close', { detail: { byServer, reason, code, wsReason, ...(disconnect ? { disconnect } : {}) } }));
  }
}
