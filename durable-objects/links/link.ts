// A byte stream an MqttClient (core/client/mqtt-client.ts) speaks over: the relay socket into one of our own
// session objects, or a connection out to another broker (TCP, TLS or WebSocket).
import type { ByteTransport, MqttClient, Timers } from '../../core/client/mqtt-client.js';

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
