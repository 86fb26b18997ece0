// The gateway's public API, for TypeScript callers (the tests): the modules are plain JavaScript checked
// against these declarations and their own JSDoc (scripts/gateway/tsconfig.json).

export interface GatewayOptions {
  /** The broker's MQTT-over-WebSocket endpoint: ws:// or wss://, e.g. wss://broker.example.com/mqtt. */
  target: string;
  /** Address the listeners bind. Default 0.0.0.0. */
  host?: string;
  /** Plain TCP port. Default 1883; 0 picks a free port. */
  port?: number;
  /** Also listen with TLS. */
  tls?: { cert: string | Buffer; key: string | Buffer; port?: number };
  /** Rewrites each CONNECT's username to this (a tenant token) and drops its password. */
  username?: string;
  /** A connection whose first packet is not whole by then is closed. Default 10,000. */
  connectTimeoutMs?: number;
  /** A connection with no byte either way for this long is closed. Default 0: off (the broker enforces keepalive). */
  idleTimeoutMs?: number;
  /** Connections beyond this many are refused at accept. Default 0: no limit. */
  maxConnections?: number;
  /** The broker's Maximum Packet Size: bounds the CONNECT, the bytes held before the WebSocket opens (×2) and a WebSocket message (×2). Default 1 MiB. */
  maxPacketBytes?: number;
  /** WebSocket send buffer past which the client socket is paused. Default 256 KiB. */
  highWaterBytes?: number;
  /** Serves GET /metrics and GET /stats on this port (0: a free one). Default: no metrics server. */
  metricsPort?: number;
  /** One line per connection opened and closed, and the listeners' events. Default: silent. */
  log?: (line: string) => void;
}

export interface GatewayCounters {
  /** TCP connections open now (both listeners). */
  connectionsActive: number;
  /** TCP connections accepted since start. */
  connectionsTotal: number;
  /** Connections refused at accept: over maxConnections. */
  connectionsRefused: number;
  /** WebSockets that never opened (refused upgrade, unreachable target). */
  upstreamFailures: number;
  /** Connections without a whole first packet within connectTimeoutMs. */
  connectTimeouts: number;
  /** Connections without a byte either way within idleTimeoutMs. */
  idleTimeouts: number;
  /** Bytes client → broker, as received from the clients. */
  bytesUpstream: number;
  /** Bytes broker → client. */
  bytesDownstream: number;
  /** Closed connections by reason (client-closed, upstream-closed, connect-timeout, …). */
  closes: Record<string, number>;
}

export interface GatewayStats extends GatewayCounters {
  /** Bytes held in the open connections' buffers now, both directions (bounded per connection by backpressure). */
  bufferedBytes: number;
}

export interface Gateway {
  /** The TCP port listened on. */
  port: number;
  /** The TLS port, when TLS is on. */
  tlsPort: number | undefined;
  /** The metrics port, when the metrics server is on. */
  metricsPort: number | undefined;
  stats(): GatewayStats;
  /** Stops accepting, closes every connection (the broker sees each as a lost connection) and the listeners. */
  close(): Promise<void>;
}

export function startGateway(options: GatewayOptions): Promise<Gateway>;

export type RewriteResult = { ok: true; packet: Uint8Array; level: 3 | 4 | 5 } | { ok: false; reason: string };

/** Rewrites one whole CONNECT packet to carry `username` (UTF-8 bytes) and no password. */
export function rewriteConnectUsername(packet: Uint8Array, username: Uint8Array): RewriteResult;
