// A small MQTT 3.1.1 client over WebSocket for the dashboard's web client (no dependencies).
//
//   const client = new MqttClient({ url: 'wss://host/mqtt', clientId: 'board-1', username: token });
//   client.addEventListener('message', (e) => show(e.detail.topic, e.detail.payload));
//   client.addEventListener('close', (e) => e.detail.byServer && warn(e.detail.reason));
//   await client.connect();                       // resolves on CONNACK 0, rejects with the refusal
//   await client.subscribe('demo/#', 1);          // resolves with the SUBACK code (0x80 = refused)
//   await client.publish('demo/hello', 'hi', { qos: 1, retain: false });   // QoS 1: on PUBACK
//   client.disconnect();
//
// Packets are binary WebSocket messages; a message may hold several packets or part of one, so incoming
// bytes go through a framer that cuts whole packets off a buffer ([MQTT-6.0.0-2]).

/** Packet types, the high nibble of the first byte. */
const CONNECT = 1, CONNACK = 2, PUBLISH = 3, PUBACK = 4, PUBREC = 5, PUBREL = 6, PUBCOMP = 7;
const SUBSCRIBE = 8, SUBACK = 9, UNSUBSCRIBE = 10, UNSUBACK = 11, PINGREQ = 12, PINGRESP = 13, DISCONNECT = 14;

/** CONNACK return codes of 3.1.1, in words. */
export const CONNACK_REASONS = {
  1: 'unacceptable protocol version',
  2: 'client identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorized',
};

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// ---- encoding -----------------------------------------------------------------------------------------

/** Remaining Length as a variable byte integer (1–4 bytes). */
export function encodeLength(length) {
  if (length > 268_435_455) throw new RangeError('packet too large');
  const bytes = [];
  do {
    let byte = length % 128;
    length = Math.floor(length / 128);
    if (length > 0) byte |= 0x80;
    bytes.push(byte);
  } while (length > 0);
  return bytes;
}

function utf8(text) {
  const bytes = encoder.encode(text);
  if (bytes.length > 0xffff) throw new RangeError('string longer than 65535 bytes');
  return [bytes.length >> 8, bytes.length & 0xff, ...bytes];
}

function u16(value) {
  return [value >> 8, value & 0xff];
}

function packet(firstByte, body) {
  const length = encodeLength(body.length);
  const bytes = new Uint8Array(1 + length.length + body.length);
  bytes[0] = firstByte;
  bytes.set(length, 1);
  bytes.set(body, 1 + length.length);
  return bytes;
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Encoders for the packets a client sends. Each returns the whole packet as a Uint8Array. */
export const encode = {
  connect({ clientId, username, password, keepalive, clean }) {
    let flags = clean ? 0x02 : 0;
    const payload = [...utf8(clientId)];
    if (username !== undefined && username !== '') {
      flags |= 0x80;
      payload.push(...utf8(username));
      if (password !== undefined && password !== '') {
        flags |= 0x40;
        payload.push(...utf8(password));
      }
    }
    // Protocol name "MQTT", level 4 = 3.1.1 [MQTT-3.1.2-1, MQTT-3.1.2-2]
    return packet(CONNECT << 4, [...utf8('MQTT'), 4, flags, ...u16(keepalive), ...payload]);
  },
  publish({ topic, payload, qos, retain, dup, packetId }) {
    const head = [...utf8(topic), ...(qos > 0 ? u16(packetId) : [])];
    const first = (PUBLISH << 4) | (dup ? 0x08 : 0) | (qos << 1) | (retain ? 1 : 0);
    const body = concat([Uint8Array.from(head), payload]);
    return packet(first, body);
  },
  subscribe(packetId, filters) {
    // SUBSCRIBE's fixed header flags are 0010 [MQTT-3.8.1-1]
    return packet((SUBSCRIBE << 4) | 0x02, [...u16(packetId), ...filters.flatMap(({ filter, qos }) => [...utf8(filter), qos])]);
  },
  unsubscribe(packetId, filters) {
    return packet((UNSUBSCRIBE << 4) | 0x02, [...u16(packetId), ...filters.flatMap((f) => utf8(f))]);
  },
  ack(type, packetId) {
    // PUBREL carries flags 0010 [MQTT-3.6.1-1]
    return packet((type << 4) | (type === PUBREL ? 0x02 : 0), u16(packetId));
  },
  pingreq: () => Uint8Array.of(PINGREQ << 4, 0),
  disconnect: () => Uint8Array.of(DISCONNECT << 4, 0),
};

// ---- decoding -----------------------------------------------------------------------------------------

/**
 * Cuts whole packets off a growing byte buffer. push(chunk) returns the packets completed by it, each as
 * { first, body } where `first` is the fixed header's first byte and `body` the rest after the length.
 */
export class Framer {
  #buffer = new Uint8Array(0);

  push(chunk) {
    this.#buffer = this.#buffer.length === 0 ? chunk : concat([this.#buffer, chunk]);
    const packets = [];
    for (;;) {
      const header = this.#header();
      if (!header) break;
      const end = header.bodyStart + header.length;
      if (this.#buffer.length < end) break;
      packets.push({ first: this.#buffer[0], body: this.#buffer.slice(header.bodyStart, end) });
      this.#buffer = this.#buffer.slice(end);
    }
    return packets;
  }

  #header() {
    let length = 0;
    let multiplier = 1;
    for (let i = 1; i <= 4; i++) {
      if (i >= this.#buffer.length) return undefined;
      const byte = this.#buffer[i];
      length += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) return { length, bodyStart: i + 1 };
      multiplier *= 128;
    }
    throw new Error('malformed remaining length');
  }
}

function readU16(bytes, offset) {
  if (offset + 2 > bytes.length) throw new Error('packet too short');
  return (bytes[offset] << 8) | bytes[offset + 1];
}

function readString(bytes, offset) {
  const length = readU16(bytes, offset);
  if (offset + 2 + length > bytes.length) throw new Error('string runs past the packet');
  return { value: decoder.decode(bytes.subarray(offset + 2, offset + 2 + length)), next: offset + 2 + length };
}

/** Decodes a packet the server sends into { type, ... }. */
export function decodePacket({ first, body }) {
  const type = first >> 4;
  switch (type) {
    case CONNACK:
      return { type, sessionPresent: (body[0] & 1) === 1, returnCode: body[1] };
    case PUBLISH: {
      const qos = (first >> 1) & 3;
      const topic = readString(body, 0);
      const packetId = qos > 0 ? readU16(body, topic.next) : undefined;
      const payload = body.slice(topic.next + (qos > 0 ? 2 : 0));
      return { type, topic: topic.value, qos, retain: (first & 1) === 1, dup: (first & 8) === 8, packetId, payload };
    }
    case PUBACK:
    case PUBREC:
    case PUBREL:
    case PUBCOMP:
    case UNSUBACK:
      return { type, packetId: readU16(body, 0) };
    case SUBACK:
      return { type, packetId: readU16(body, 0), codes: Array.from(body.subarray(2)) };
    case PINGRESP:
      return { type };
    default:
      throw new Error(`unexpected packet type ${type} from the server`);
  }
}

// ---- the client ---------------------------------------------------------------------------------------

/**
 * Events (CustomEvent, details in brackets):
 *   'state'   { state: 'connecting' | 'connected' | 'closed' }
 *   'message' { topic, payload: Uint8Array, qos, retain, dup }
 *   'close'   { byServer: boolean, reason: string, code: number }
 */
export class MqttClient extends EventTarget {
  /**
   * @param {{ url: string, clientId: string, username?: string, password?: string, keepalive?: number,
   *           clean?: boolean, connectTimeoutMs?: number, WebSocket?: typeof WebSocket }} options
   */
  constructor(options) {
    super();
    this.options = { keepalive: 30, clean: true, connectTimeoutMs: 10_000, ...options };
    /** 'idle' → 'connecting' → 'connected' → 'closed'; one field, so no impossible combinations. */
    this.state = 'idle';
    this.ws = undefined;
    this.framer = new Framer();
    this.nextId = 1;
    /** packetId → { resolve, reject } for PUBACK, SUBACK, UNSUBACK. */
    this.pending = new Map();
    /** Inbound QoS 2 ids between PUBREC and PUBREL (delivered once). */
    this.inboundQos2 = new Set();
    this.pingTimer = undefined;
    this.pingDeadline = undefined;
    this.closingByUs = false;
    this.closeReason = undefined;
  }

  /** Opens the WebSocket and sends CONNECT; resolves with { sessionPresent } on CONNACK 0. */
  connect() {
    if (this.state !== 'idle') return Promise.reject(new Error('a client connects once; make a new one'));
    const WS = this.options.WebSocket ?? globalThis.WebSocket;
    this.#setState('connecting');
    return new Promise((resolve, reject) => {
      this.connackWaiter = { resolve, reject };
      const timer = setTimeout(() => this.#fail('no CONNACK within the connect timeout'), this.options.connectTimeoutMs);
      this.connackTimer = timer;
      let ws;
      try {
        ws = new WS(this.options.url, 'mqtt'); // [MQTT-6.0.0-3] subprotocol "mqtt"
      } catch (error) {
        this.#fail(`cannot open WebSocket: ${error.message}`);
        return;
      }
      this.ws = ws;
      ws.binaryType = 'arraybuffer';
      ws.onopen = () => this.#send(encode.connect(this.options));
      ws.onmessage = (event) => this.#receive(event.data);
      ws.onerror = () => {
        if (this.state === 'connecting') this.#fail('cannot open the WebSocket connection');
      };
      ws.onclose = (event) => this.#closed(event.code, event.reason);
    });
  }

  /** Subscribes one filter; resolves with the SUBACK return code (0, 1, 2 granted QoS, 0x80 refused). */
  subscribe(filter, qos = 0) {
    const packetId = this.#allocateId();
    return this.#request(packetId, encode.subscribe(packetId, [{ filter, qos }])).then((suback) => suback.codes[0]);
  }

  unsubscribe(filter) {
    const packetId = this.#allocateId();
    return this.#request(packetId, encode.unsubscribe(packetId, [filter])).then(() => undefined);
  }

  /** Publishes; QoS 0 resolves once sent, QoS 1 on PUBACK. */
  publish(topic, payload, { qos = 0, retain = false } = {}) {
    const bytes = typeof payload === 'string' ? encoder.encode(payload) : payload;
    if (qos === 0) {
      if (this.state !== 'connected') return Promise.reject(new Error('not connected'));
      this.#send(encode.publish({ topic, payload: bytes, qos, retain, dup: false }));
      return Promise.resolve();
    }
    if (qos !== 1) return Promise.reject(new Error('this client publishes with QoS 0 or 1'));
    const packetId = this.#allocateId();
    return this.#request(packetId, encode.publish({ topic, payload: bytes, qos, retain, dup: false, packetId })).then(() => undefined);
  }

  /** Sends DISCONNECT (so no will is published) and closes the socket. */
  disconnect() {
    if (this.state === 'closed' || this.state === 'idle') return;
    this.closingByUs = true;
    if (this.state === 'connected') this.#send(encode.disconnect());
    this.ws?.close(1000, 'client disconnect');
    // Browsers report the close asynchronously; the client is done now.
    this.#closed(1000, 'client disconnect');
  }

  // ---- internals ----

  #setState(state) {
    this.state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: { state } }));
  }

  #requireConnected() {
    if (this.state !== 'connected') throw new Error('not connected');
  }

  #allocateId() {
    for (let tries = 0; tries < 65535; tries++) {
      const id = this.nextId;
      this.nextId = id === 65535 ? 1 : id + 1; // ids are 1..65535 [MQTT-2.3.1-1]
      if (!this.pending.has(id)) return id;
    }
    throw new Error('no free packet identifier');
  }

  #request(packetId, bytes) {
    try {
      this.#requireConnected();
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.pending.set(packetId, { resolve, reject });
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
    const keepalive = this.options.keepalive;
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
    let packets;
    try {
      packets = this.framer.push(new Uint8Array(data));
      for (const raw of packets) {
        if (this.state === 'closed') break;
        this.#handle(decodePacket(raw));
      }
    } catch (error) {
      this.#fail(`protocol error: ${error.message}`);
    }
  }

  #handle(p) {
    switch (p.type) {
      case CONNACK: {
        if (this.state !== 'connecting') throw new Error('unexpected CONNACK');
        clearTimeout(this.connackTimer);
        if (p.returnCode !== 0) {
          const words = CONNACK_REASONS[p.returnCode] ?? 'refused';
          return this.#fail(`connection refused: ${words} (CONNACK ${p.returnCode})`);
        }
        this.#setState('connected');
        this.connackWaiter?.resolve({ sessionPresent: p.sessionPresent });
        this.connackWaiter = undefined;
        return;
      }
      case PUBLISH: {
        if (p.qos === 1) this.#send(encode.ack(PUBACK, p.packetId));
        if (p.qos === 2) {
          this.#send(encode.ack(PUBREC, p.packetId));
          if (this.inboundQos2.has(p.packetId)) return; // a resend: delivered already
          this.inboundQos2.add(p.packetId);
        }
        const { topic, payload, qos, retain, dup } = p;
        this.dispatchEvent(new CustomEvent('message', { detail: { topic, payload, qos, retain, dup } }));
        return;
      }
      case PUBREL:
        this.inboundQos2.delete(p.packetId);
        this.#send(encode.ack(PUBCOMP, p.packetId));
        return;
      case PUBACK:
      case SUBACK:
      case UNSUBACK: {
        const waiter = this.pending.get(p.packetId);
        this.pending.delete(p.packetId);
        waiter?.resolve(p);
        return;
      }
      case PUBREC:
      case PUBCOMP:
        return; // this client never publishes QoS 2
      case PINGRESP:
        clearTimeout(this.pingDeadline);
        this.pingDeadline = undefined;
        return;
      default:
        throw new Error(`unexpected packet type ${p.type}`);
    }
  }

  /** Ends the connection because of an error on our side of the reading. */
  #fail(reason) {
    if (this.state === 'closed') return;
    this.closeReason = reason;
    this.closingByUs = true;
    try {
      this.ws?.close();
    } catch {
      // already closing
    }
    this.#closed(1000, reason);
  }

  #closed(code, reason) {
    if (this.state === 'closed') return;
    const byServer = !this.closingByUs;
    const why = this.closeReason ?? (byServer ? `connection closed by the server${reason ? `: ${reason}` : ''} (code ${code})` : reason || 'disconnected');
    const wasConnecting = this.state === 'connecting';
    clearTimeout(this.pingTimer);
    clearTimeout(this.pingDeadline);
    clearTimeout(this.connackTimer);
    this.#setState('closed');
    const error = new Error(why);
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
    if (wasConnecting) this.connackWaiter?.reject(error);
    this.connackWaiter = undefined;
    if (this.ws) {
      this.ws.onmessage = this.ws.onclose = this.ws.onerror = this.ws.onopen = null;
    }
    this.dispatchEvent(new CustomEvent('close', { detail: { byServer, reason: why, code } }));
  }
}
