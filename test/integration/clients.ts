// Real mqtt.js clients and a raw WebSocket client for the tests that need byte-level control.
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import WebSocket from 'ws';

export interface Received {
  topic: string;
  payload: string;
  packet: IPublishPacket;
}

/** Connects an mqtt.js client (3.1.1 unless told otherwise) and resolves on CONNACK. */
export function connectClient(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, {
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      keepalive: 30,
      ...options,
    });
    const timer = setTimeout(() => reject(new Error('connect timeout')), 8000);
    client.once('connect', () => {
      clearTimeout(timer);
      resolve(client);
    });
    client.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Records every message a client receives, with ways to wait for what is expected. */
export function recorder(client: MqttClient) {
  const messages: Received[] = [];
  const waiters: Array<() => void> = [];
  client.on('message', (topic, payload, packet) => {
    messages.push({ topic, payload: payload.toString(), packet });
    for (const wake of waiters.splice(0)) wake();
  });
  /** Waits, woken by each message, until `done(messages)` holds; throws after timeoutMs, saying what it expected. */
  async function until(done: (received: Received[]) => boolean, timeoutMs: number, expected: () => string): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    while (!done(messages)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${expected()}: ${JSON.stringify(messages.map((m) => m.topic))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return messages;
  }
  return {
    messages,
    waitFor(count: number, timeoutMs = 5000): Promise<Received[]> {
      return until((received) => received.length >= count, timeoutMs, () => `expected ${count} messages, got ${messages.length}`);
    },
    /** Waits for the message carrying this (marker) payload and takes it out of `messages`. */
    async takeMarker(payload: string, timeoutMs = 5000): Promise<void> {
      const isMarker = (message: Received) => message.payload === payload;
      await until((received) => received.some(isMarker), timeoutMs, () => `expected the marker ${payload}`);
      messages.splice(messages.findIndex(isMarker), 1);
    },
  };
}

export type Recorder = ReturnType<typeof recorder>;

/**
 * Subscribes and resolves with one { topic, qos } per filter, where qos is the SUBACK code (a refusal such
 * as 0x80 or 0x87 included: mqtt.js reports those as an error carrying the SUBACK packet).
 */
export function subscribe(client: MqttClient, topic: string | string[] | Record<string, { qos: 0 | 1 | 2 }>, qos: 0 | 1 | 2 = 0) {
  const filters = typeof topic === 'string' ? [topic] : Array.isArray(topic) ? topic : Object.keys(topic);
  return new Promise<Array<{ topic: string; qos: number }>>((resolve, reject) => {
    client.subscribe(topic as string, { qos }, (error, granted) => {
      const codes = (error as { packet?: { granted?: number[]; reasonCodes?: number[] } } | null)?.packet;
      const refused = codes?.granted ?? codes?.reasonCodes;
      if (error && refused) resolve(refused.map((code, i) => ({ topic: filters[i] ?? '', qos: code })));
      else if (error) reject(error);
      else resolve((granted ?? []) as Array<{ topic: string; qos: number }>);
    });
  });
}

export function publish(client: MqttClient, topic: string, payload: string | Buffer, options: { qos?: 0 | 1 | 2; retain?: boolean } = {}) {
  return new Promise<void>((resolve, reject) => {
    client.publish(topic, payload, { qos: options.qos ?? 0, retain: options.retain ?? false }, (error) => (error ? reject(error) : resolve()));
  });
}

export function end(client: MqttClient, force = false): Promise<void> {
  return new Promise((resolve) => client.end(force, {}, () => resolve()));
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `condition` (every `intervalMs`) until it holds, for what can be observed but sends no event: an
 * object's state over RPC, the admin API, a counter. Throws after `timeoutMs`, naming what it waited for.
 */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<void> {
  const { timeoutMs = 5000, intervalMs = 20, what = 'a condition' } = options;
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

let markers = 0;

/**
 * Shows that nothing more is on its way from `publisher` on `topic` to the subscriber that `got` records,
 * without waiting out a timer: publishes a marker there and waits for it. Messages from one publisher on one
 * topic arrive in order at each subscriber (DESIGN §3), so whatever the broker sent that subscriber from this
 * publisher on this topic before the marker has arrived when the marker does. The marker is taken out of
 * `got.messages`, so what a test asserts about them reads as before. Give the QoS the deliveries in question
 * have: mqtt.js reports a QoS 2 message only at PUBREL, so only a QoS 2 marker comes after one.
 */
export async function sentinel(publisher: MqttClient, topic: string, got: Recorder, qos: 0 | 1 | 2 = 1): Promise<void> {
  const payload = `sentinel-${++markers}`;
  await publish(publisher, topic, payload, { qos });
  await got.takeMarker(payload);
}

let roundTrips = 0;

/**
 * A round trip through the client's session object: an UNSUBSCRIBE of a filter it never held (no state, no
 * ACL involved), resolved at UNSUBACK. The session answers on the socket it delivers on, so whatever it sent
 * this client before it read the UNSUBSCRIBE has arrived, and at QoS 0 or 1 has been recorded, when this
 * resolves (mqtt.js reports a QoS 2 message only at PUBREL). It proves a negative after an acknowledged QoS 1
 * publish: the PUBACK leaves only once the shard has handed the message to every matching session
 * (ShardRouter.publish, TopicShardDO.publish), so by now it has reached this client or never will. Also for
 * what a session sends in the step of a packet it answered (retained messages with SUBACK, the queue with
 * CONNACK).
 */
export function roundTrip(client: MqttClient, timeoutMs = 5000): Promise<void> {
  const filter = `round-trip/${++roundTrips}`;
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no UNSUBACK within ${timeoutMs} ms`)), timeoutMs);
    client.unsubscribe(filter, (error) => {
      clearTimeout(timer);
      if (error) reject(error);
      else resolve();
    });
  });
}

/** A raw MQTT-over-WebSocket connection: sends bytes, collects bytes, reports the close. */
export class RawClient {
  readonly received: Buffer[] = [];
  closed = false;
  closeCode: number | undefined;
  protocol = '';
  private readonly socket: WebSocket;
  private readonly opened: Promise<void>;
  private waiters: Array<() => void> = [];

  constructor(url: string, protocols: string | string[] = 'mqtt') {
    this.socket = new WebSocket(url, protocols);
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('open', () => {
        this.protocol = this.socket.protocol;
        resolve();
      });
      this.socket.once('error', reject);
    });
    this.socket.on('message', (data: Buffer) => {
      this.received.push(Buffer.from(data));
      this.wake();
    });
    this.socket.on('close', (code) => {
      this.closed = true;
      this.closeCode = code;
      this.wake();
    });
  }

  open(): Promise<void> {
    return this.opened;
  }

  async send(...frames: Array<number[] | Buffer>): Promise<void> {
    await this.opened;
    for (const frame of frames) this.socket.send(Buffer.from(frame as number[]));
  }

  /** All bytes received so far, concatenated. */
  bytes(): Buffer {
    return Buffer.concat(this.received);
  }

  /** Waits until the received bytes satisfy `done` (or the socket closes, or time runs out). */
  async until(done: (bytes: Buffer) => boolean, timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.bytes())) {
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.bytes();
  }

  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    await this.until(() => this.closed, timeoutMs);
    return this.closed;
  }

  close(): void {
    this.socket.close();
  }

  /** Drops the TCP connection without a WebSocket close frame (socket loss). */
  terminate(): void {
    this.socket.terminate();
  }

  private wake(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }
}

/** Encodes a 3.1.1 CONNECT by hand (for malformed-input tests that mqtt.js refuses to produce). */
export function connectBytes(options: {
  clientId: string;
  cleanSession?: boolean;
  keepAlive?: number;
  level?: number;
  flags?: number;
  will?: { topic: string; payload: string; qos?: number; retain?: boolean };
  username?: string;
}): Buffer {
  const str = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
  };
  let flags = options.flags ?? (options.cleanSession === false ? 0 : 0x02);
  const payload = [str(options.clientId)];
  if (options.will) {
    flags |= 0x04 | ((options.will.qos ?? 0) << 3) | (options.will.retain ? 0x20 : 0);
    payload.push(str(options.will.topic), str(options.will.payload));
  }
  if (options.username !== undefined) {
    flags |= 0x80;
    payload.push(str(options.username));
  }
  const keepAlive = options.keepAlive ?? 30;
  const variable = Buffer.concat([str('MQTT'), Buffer.from([options.level ?? 4, flags, keepAlive >> 8, keepAlive & 0xff])]);
  return withHeader(0x10, Buffer.concat([variable, ...payload]));
}

/** Prefixes a body with a fixed header byte and its remaining length. */
export function withHeader(first: number, body: Buffer): Buffer {
  const length: number[] = [];
  let x = body.length;
  do {
    let byte = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) byte |= 0x80;
    length.push(byte);
  } while (x > 0);
  return Buffer.concat([Buffer.from([first, ...length]), body]);
}

export function publishBytes(topic: string, payload: string, options: { qos?: number; packetId?: number; dup?: boolean; retain?: boolean } = {}): Buffer {
  const qos = options.qos ?? 0;
  const t = Buffer.from(topic, 'utf8');
  const parts = [Buffer.from([t.length >> 8, t.length & 0xff]), t];
  if (qos > 0) parts.push(Buffer.from([(options.packetId ?? 1) >> 8, (options.packetId ?? 1) & 0xff]));
  parts.push(Buffer.from(payload, 'utf8'));
  const first = 0x30 | (options.dup ? 0x08 : 0) | (qos << 1) | (options.retain ? 1 : 0);
  return withHeader(first, Buffer.concat(parts));
}

export function subscribeBytes(packetId: number, filters: Array<[string, number]>): Buffer {
  const parts = [Buffer.from([packetId >> 8, packetId & 0xff])];
  for (const [filter, qos] of filters) {
    const f = Buffer.from(filter, 'utf8');
    parts.push(Buffer.from([f.length >> 8, f.length & 0xff]), f, Buffer.from([qos]));
  }
  return withHeader(0x82, Buffer.concat(parts));
}
