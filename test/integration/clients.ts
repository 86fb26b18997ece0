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

/** Records every message a client receives, with a way to wait for a count. */
export function recorder(client: MqttClient) {
  const messages: Received[] = [];
  const waiters: Array<() => void> = [];
  client.on('message', (topic, payload, packet) => {
    messages.push({ topic, payload: payload.toString(), packet });
    for (const wake of waiters.splice(0)) wake();
  });
  return {
    messages,
    async waitFor(count: number, timeoutMs = 5000): Promise<Received[]> {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`expected ${count} messages, got ${messages.length}: ${JSON.stringify(messages.map((m) => m.topic))}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return messages;
    },
  };
}

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
export function connectBytes(options: { clientId: string; cleanSession?: boolean; keepAlive?: number; level?: number; flags?: number; will?: { topic: string; payload: string; qos?: number; retain?: boolean } }): Buffer {
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
