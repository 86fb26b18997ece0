// One lean MQTT-over-WebSocket client for the load generator: raw `ws`, no compression, one frame per packet.
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import {
  CONNACK,
  DISCONNECT_BYTES,
  PINGREQ_BYTES,
  PINGRESP,
  PUBACK,
  PUBLISH,
  SUBACK,
  StreamParser,
  encodeConnect,
  encodePuback,
  encodeSubscribe,
  readPublish,
} from './mqtt-lite.mjs';

/**
 * Handlers: onPublish(buf, publish) for each PUBLISH (QoS 1 ones are acknowledged automatically, after the
 * handler), onPuback(packetId), onClose(). `ping: true` sends PINGREQ every keepAlive seconds; `clean: false`
 * connects with a persistent session.
 */
export class BenchClient {
  constructor(url, clientId, { keepAlive = 60, clean = true, ping = false, onPublish, onPuback, onClose } = {}) {
    this.url = url;
    this.clientId = clientId;
    this.keepAlive = keepAlive;
    this.clean = clean;
    this.ping = ping;
    this.onPublish = onPublish ?? (() => {});
    this.onPuback = onPuback ?? (() => {});
    this.onClose = onClose ?? (() => {});
    this.ws = null;
    this.closed = false;
    this.pingsSent = 0;
    this.pingresps = 0;
    this.pinger = null;
    this.waiters = new Map(); // packet type -> resolve (CONNACK, SUBACK)
    this.parser = new StreamParser((type, flags, buf, start, end) => this.onPacket(type, flags, buf, start, end));
  }

  /** Opens the socket and completes CONNECT; resolves with the milliseconds from socket creation to CONNACK. */
  connect(timeoutMs = 10_000) {
    return new Promise((resolve, reject) => {
      const t0 = performance.now();
      const timer = setTimeout(() => {
        this.terminate();
        reject(new Error(`${this.clientId}: no CONNACK within ${timeoutMs} ms`));
      }, timeoutMs);
      const ws = new WebSocket(this.url, 'mqtt', { perMessageDeflate: false, skipUTF8Validation: true });
      this.ws = ws;
      ws.binaryType = 'nodebuffer';
      ws.on('open', () => ws.send(encodeConnect(this.clientId, this.keepAlive, this.clean)));
      ws.on('message', (data) => this.parser.push(data));
      ws.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      ws.on('close', (code, reason) => {
        clearTimeout(timer);
        this.closed = true;
        this.closeCode = code;
        this.closeReason = reason?.toString() ?? '';
        this.closedAt = performance.now();
        if (this.pinger) clearInterval(this.pinger);
        this.onClose();
        reject(new Error(`${this.clientId}: closed before CONNACK`));
      });
      this.waiters.set(CONNACK, (buf, start) => {
        clearTimeout(timer);
        const returnCode = buf[start + 1];
        if (returnCode !== 0) {
          this.terminate();
          reject(new Error(`${this.clientId}: CONNACK return code ${returnCode}`));
          return;
        }
        if (this.ping) {
          this.pinger = setInterval(() => {
            if (this.closed) return;
            this.pingsSent++;
            ws.send(PINGREQ_BYTES);
          }, this.keepAlive * 1000);
        }
        resolve(performance.now() - t0);
      });
    });
  }

  /** SUBSCRIBE and wait for SUBACK; rejects on a failure return code. */
  subscribe(subscriptions, timeoutMs = 10_000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.clientId}: no SUBACK within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.set(SUBACK, (buf, start, end) => {
        clearTimeout(timer);
        const codes = [...buf.subarray(start + 2, end)];
        if (codes.some((c) => c === 0x80)) reject(new Error(`${this.clientId}: SUBACK ${codes}`));
        else resolve(codes);
      });
      this.ws.send(encodeSubscribe(1, subscriptions));
    });
  }

  send(buf) {
    this.ws.send(buf);
  }

  onPacket(type, flags, buf, start, end) {
    switch (type) {
      case PUBLISH: {
        const p = readPublish(flags, buf, start, end);
        this.onPublish(buf, p);
        if (p.qos === 1) this.ws.send(encodePuback(p.packetId));
        return;
      }
      case PUBACK:
        this.onPuback(buf.readUInt16BE(start));
        return;
      case PINGRESP:
        this.pingresps++;
        return;
      default: {
        const waiter = this.waiters.get(type);
        if (waiter) {
          this.waiters.delete(type);
          waiter(buf, start, end);
        }
      }
    }
  }

  /** DISCONNECT, then close; resolves when the socket is closed (or after `timeoutMs`, by terminating it). */
  close(timeoutMs = 5_000) {
    if (this.pinger) clearInterval(this.pinger);
    if (!this.ws || this.closed || this.ws.readyState >= WebSocket.CLOSING) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.terminate();
        resolve();
      }, timeoutMs);
      this.ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      try {
        this.ws.send(DISCONNECT_BYTES);
        this.ws.close(1000);
      } catch {
        this.terminate();
      }
    });
  }

  terminate() {
    if (this.pinger) clearInterval(this.pinger);
    try {
      this.ws?.terminate();
    } catch {
      // already gone
    }
  }
}

/** Connects `ids.length` clients with at most `concurrency` handshakes in flight; returns clients and CONNACK times. */
export async function connectMany(url, ids, options, { concurrency = 50, timeoutMs = 10_000 } = {}) {
  const clients = new Array(ids.length);
  const connackMs = [];
  const failures = [];
  let next = 0;
  async function worker() {
    while (next < ids.length) {
      const i = next++;
      const client = new BenchClient(url, ids[i], typeof options === 'function' ? options(i) : options);
      clients[i] = client;
      try {
        connackMs.push(await client.connect(timeoutMs));
      } catch (error) {
        failures.push(String(error?.message ?? error));
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, worker));
  return { clients, connackMs, failures };
}

/** Closes every client, at most `concurrency` at a time. */
export async function closeMany(clients, concurrency = 100) {
  let next = 0;
  async function worker() {
    while (next < clients.length) {
      const c = clients[next++];
      if (c) await c.close();
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, clients.length) }, worker));
}
