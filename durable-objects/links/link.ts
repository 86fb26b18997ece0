// A byte stream an MqttClient (core/client/mqtt-client.ts) speaks over: the relay socket into one of our own
// session objects, or a connection out to another broker (TCP, TLS or WebSocket).
import { MqttClient, type ByteTransport, type ClientOptions, type Timers } from '../../core/client/mqtt-client.js';

export interface Link extends ByteTransport {
  /** Feeds what arrives to `client` from now on, and tells it when the link ends. */
  attach(client: MqttClient): void;
}

/** A Link over an accepted WebSocket (binary frames carry the MQTT bytes). */
export function webSocketLink(socket: WebSocket): Link {
  return {
    send(bytes) {
      socket.send(bytes);
    },
    close(reason) {
      try {
        socket.close(1000, reason.slice(0, 120));
      } catch {
        // already closed
      }
    },
    attach(client) {
      socket.addEventListener('message', (event) => {
        if (typeof event.data !== 'string') client.receive(new Uint8Array(event.data as ArrayBuffer));
      });
      socket.addEventListener('close', (event) => client.transportClosed(`socket closed (${event.code}${event.reason ? ` ${event.reason}` : ''})`));
      socket.addEventListener('error', () => client.transportClosed('socket error'));
    },
  };
}

/** The platform's timers, for an MqttClient's keepalive. */
export const platformTimers: Timers = {
  set: (callback, ms) => setTimeout(callback, ms),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Settles as `promise` does, or rejects once `ms` passed without an answer. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Ends a persistent session as MQTT does when its owner (a deleted bridge or rule) goes for good: a Clean
 * Start CONNECT with Session Expiry 0 over the link `open` gives, then DISCONNECT. Rejects when the link or
 * the CONNACK (within `timeoutMs`) fails.
 */
export async function endSession(open: () => Promise<Link>, options: Omit<ClientOptions, 'cleanStart' | 'keepAlive' | 'sessionExpiry'>, reason: string, timeoutMs: number): Promise<void> {
  const link = await open();
  const client = new MqttClient(link, { ...options, cleanStart: true, keepAlive: 0, sessionExpiry: 0 }, () => undefined, platformTimers);
  link.attach(client);
  try {
    await withTimeout(client.connect(), timeoutMs, 'CONNACK');
  } finally {
    client.disconnect(reason);
  }
}
