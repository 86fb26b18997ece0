// @ts-check
// startGateway: the TCP and TLS listeners, one GatewayConnection per accepted socket, the metrics server,
// and an orderly close.
import { createServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { GatewayConnection } from './connection.js';
import { closeLine, openLine } from './connection-log.js';
import { rewriteConnectUsername } from './connect-rewrite.js';
import { countClose, createCounters, snapshot } from './counters.js';
import { startMetricsServer } from './metrics-server.js';

/** @typedef {import('./index.js').GatewayOptions} GatewayOptions */
/** @typedef {import('./index.js').Gateway} Gateway */

const MIB = 1024 * 1024;
const DEFAULTS = {
  host: '0.0.0.0',
  port: 1883,
  tlsPort: 8883,
  connectTimeoutMs: 10_000,
  idleTimeoutMs: 0,
  maxConnections: 0,
  maxPacketBytes: MIB, // the broker's default MAX_PACKET_SIZE
  highWaterBytes: 256 * 1024,
  closeGraceMs: 5000,
};

/**
 * Starts the listeners (and the metrics server); resolves once they listen. Typed by its declaration in
 * index.d.ts, so the two cannot drift apart.
 * @type {typeof import('./index.js').startGateway}
 */
export const startGateway = async (options) => {
  const settings = validate(options);
  const log = options.log ?? (() => {});
  const counters = createCounters();
  /** @type {Set<GatewayConnection>} */
  const connections = new Set();
  /** @type {Array<() => void>} woken when the last connection has closed */
  const drainWaiters = [];
  let nextId = 1;
  let closing = false;

  const username = options.username === undefined ? undefined : new TextEncoder().encode(options.username);
  const rewrite = username && (/** @param {Uint8Array} packet */ (packet) => rewriteConnectUsername(packet, username));
  /** @type {import('./connection.js').ConnectionLimits} */
  const limits = {
    connectTimeoutMs: settings.connectTimeoutMs,
    idleTimeoutMs: settings.idleTimeoutMs,
    maxPacketBytes: settings.maxPacketBytes,
    preOpenBytes: 2 * settings.maxPacketBytes,
    highWaterBytes: settings.highWaterBytes,
    lowWaterBytes: Math.floor(settings.highWaterBytes / 4),
    closeGraceMs: DEFAULTS.closeGraceMs,
  };

  /** @param {'tcp' | 'tls'} listener @returns {(socket: import('node:net').Socket) => void} */
  const accept = (listener) => (socket) => {
    if (closing) return void socket.destroy();
    if (settings.maxConnections > 0 && connections.size >= settings.maxConnections) {
      counters.connectionsRefused++;
      log(`refuse ${socket.remoteAddress}:${socket.remotePort} (${listener}): ${connections.size} connections, the maximum`);
      return void socket.destroy();
    }
    counters.connectionsTotal++;
    counters.connectionsActive++;
    socket.setNoDelay(true);
    const connection = new GatewayConnection(socket, {
      id: nextId++,
      target: options.target,
      limits,
      ...(rewrite ? { rewrite } : {}),
      counters,
      onClose: (summary) => {
        connections.delete(connection);
        counters.connectionsActive--;
        countClose(counters, summary.reason);
        log(closeLine(summary));
        if (connections.size === 0) for (const wake of drainWaiters.splice(0)) wake();
      },
    });
    connections.add(connection);
    log(openLine({ id: connection.id, remote: connection.remote, listener }));
  };

  /** @type {Array<import('node:net').Server>} */
  const servers = [];
  const tcp = createServer(accept('tcp'));
  servers.push(tcp);
  const port = await listen(tcp, settings.port, settings.host, log);
  log(`listening on tcp ${settings.host}:${port} → ${options.target}${username ? ' (username rewritten)' : ''}`);

  let tlsPort;
  if (options.tls) {
    const tls = createTlsServer({ cert: options.tls.cert, key: options.tls.key, handshakeTimeout: settings.connectTimeoutMs }, accept('tls'));
    tls.on('tlsClientError', (error, socket) => log(`tls-error ${socket.remoteAddress}:${socket.remotePort}: ${error.message}`));
    servers.push(tls);
    tlsPort = await listen(tls, options.tls.port ?? DEFAULTS.tlsPort, settings.host, log);
    log(`listening on tls ${settings.host}:${tlsPort} → ${options.target}`);
  }

  const stats = () => {
    let buffered = 0;
    for (const connection of connections) buffered += connection.bufferedBytes;
    return snapshot(counters, buffered);
  };
  const metrics = options.metricsPort === undefined ? undefined : await startMetricsServer({ port: options.metricsPort, host: settings.host, stats });
  const metricsAddress = metrics?.address();
  const metricsPort = typeof metricsAddress === 'object' && metricsAddress ? metricsAddress.port : undefined;
  if (metricsPort !== undefined) log(`metrics on http://${settings.host}:${metricsPort}/metrics and /stats`);

  /** @type {Promise<void> | undefined} */
  let closed;
  return {
    port,
    tlsPort,
    metricsPort,
    stats,
    close() {
      closed ??= (async () => {
        closing = true;
        const listenersClosed = Promise.all(servers.map((server) => new Promise((resolve) => server.close(() => resolve(undefined)))));
        const drained = connections.size === 0 ? Promise.resolve() : new Promise((resolve) => drainWaiters.push(() => resolve(undefined)));
        for (const connection of connections) connection.close('shutdown');
        await drained;
        await listenersClosed;
        if (metrics) {
          metrics.closeAllConnections();
          await new Promise((resolve) => metrics.close(() => resolve(undefined)));
        }
        log('closed');
      })();
      return closed;
    },
  };
};

/**
 * @param {import('node:net').Server} server
 * @param {number} port
 * @param {string} host
 * @param {(line: string) => void} log
 * @returns {Promise<number>} the port bound
 */
function listen(server, port, host, log) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      // After the bind, an error (an accept that failed) is worth a line, not the process.
      server.on('error', (error) => log(`listener ${host}:${port}: ${error.message}`));
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

/**
 * The options with defaults filled in; throws a TypeError naming the first bad one.
 * @param {GatewayOptions} options
 */
function validate(options) {
  let target;
  try {
    target = new URL(options.target);
  } catch {
    throw new TypeError(`target: not a URL: ${options.target}`);
  }
  if (target.protocol !== 'ws:' && target.protocol !== 'wss:') throw new TypeError(`target: ws:// or wss:// expected, got ${options.target}`);
  if (options.username !== undefined && new TextEncoder().encode(options.username).length > 0xffff) {
    throw new TypeError('username: longer than 65,535 bytes'); // an MQTT UTF-8 string's two-byte length
  }
  if (options.tls && !(options.tls.cert && options.tls.key)) throw new TypeError('tls: both cert and key are needed');
  const settings = {
    host: options.host ?? DEFAULTS.host,
    port: options.port ?? DEFAULTS.port,
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
    maxConnections: options.maxConnections ?? DEFAULTS.maxConnections,
    maxPacketBytes: options.maxPacketBytes ?? DEFAULTS.maxPacketBytes,
    highWaterBytes: options.highWaterBytes ?? DEFAULTS.highWaterBytes,
  };
  for (const [name, value] of Object.entries(settings)) {
    if (name !== 'host' && !(Number.isInteger(value) && Number(value) >= 0)) throw new TypeError(`${name}: a whole number ≥ 0 expected, got ${value}`);
  }
  if (settings.connectTimeoutMs === 0) throw new TypeError('connectTimeoutMs: must be more than 0');
  if (settings.maxPacketBytes < 2) throw new TypeError('maxPacketBytes: too small');
  return settings;
}
