// A connection out to another MQTT broker: mqtt:// (TCP) and mqtts:// (TLS) through cloudflare:sockets,
// ws:// and wss:// through a WebSocket upgrade with the `mqtt` subprotocol.
import { connect } from 'cloudflare:sockets';
import type { MqttClient } from '../../core/client/mqtt-client.js';
import { webSocketLink, withTimeout, type Link } from './link.js';

export const REMOTE_SCHEMES = ['mqtt:', 'mqtts:', 'ws:', 'wss:'] as const;
const DEFAULT_PORTS: Record<string, number> = { 'mqtt:': 1883, 'mqtts:': 8883, 'ws:': 80, 'wss:': 443 };

/** Opens a link to `url`; rejects when the broker cannot be reached within `timeoutMs`. */
export async function openRemoteLink(url: string, timeoutMs: number): Promise<Link> {
  const target = new URL(url);
  if (target.protocol === 'ws:' || target.protocol === 'wss:') return openWebSocket(target, timeoutMs);
  if (target.protocol === 'mqtt:' || target.protocol === 'mqtts:') return openSocket(target, timeoutMs);
  throw new Error(`unsupported scheme ${target.protocol}`);
}

async function openWebSocket(target: URL, timeoutMs: number): Promise<Link> {
  const http = new URL(target.href);
  http.protocol = target.protocol === 'wss:' ? 'https:' : 'http:';
  const response = await withTimeout(fetch(http.href, { headers: { Upgrade: 'websocket', 'Sec-WebSocket-Protocol': 'mqtt' } }), timeoutMs, 'WebSocket upgrade');
  const socket = response.webSocket;
  if (!socket) throw new Error(`no WebSocket upgrade (HTTP ${response.status})`);
  socket.accept();
  socket.binaryType = 'arraybuffer';
  return webSocketLink(socket);
}

async function openSocket(target: URL, timeoutMs: number): Promise<Link> {
  const port = target.port ? Number(target.port) : DEFAULT_PORTS[target.protocol]!;
  const socket = connect({ hostname: target.hostname, port }, { secureTransport: target.protocol === 'mqtts:' ? 'on' : 'off', allowHalfOpen: false });
  await withTimeout(socket.opened, timeoutMs, 'TCP connect');
  const writer = socket.writable.getWriter();
  let closed = false;
  // Writes are queued in order by the writer; a failed one ends the link (the client sees it closed).
  let client: MqttClient | undefined;
  const end = (reason: string) => {
    if (closed) return;
    closed = true;
    client?.transportClosed(reason);
    socket.close().catch(() => undefined);
  };
  return {
    send(bytes) {
      if (closed) throw new Error('link closed');
      writer.write(bytes).catch((error: unknown) => end(`write failed: ${String(error)}`));
    },
    close(reason) {
      end(reason);
    },
    attach(attached) {
      client = attached;
      void (async () => {
        const reader = socket.readable.getReader();
        try {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            if (value) attached.receive(value as Uint8Array);
          }
          end('closed by the broker');
        } catch (error) {
          end(`read failed: ${String(error)}`);
        }
      })();
    },
  };
}
