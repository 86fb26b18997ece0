// @ts-check
// The command line of `edge-mqtt-gateway`: flags to GatewayOptions, or a usage text to print.
import { parseArgs } from 'node:util';

export const USAGE = `edge-mqtt-gateway: plain MQTT over TCP (and TLS) to an MQTT-over-WebSocket broker

usage: edge-mqtt-gateway --target wss://HOST/mqtt [options]

  --target URL            the broker's WebSocket endpoint, ws:// or wss:// (required)
  --listen PORT           TCP port to listen on (default 1883)
  --host HOST             address to bind, listeners and metrics (default 0.0.0.0)
  --username TOKEN        rewrite every CONNECT's username to TOKEN and drop its password, for devices
                          that cannot hold a token (or set EDGE_MQTT_GATEWAY_USERNAME, kept out of ps)
  --tls-cert FILE         PEM certificate: also listen with TLS (needs --tls-key)
  --tls-key FILE          PEM private key
  --tls-listen PORT       TLS port (default 8883)
  --connect-timeout S     close a connection whose CONNECT is not whole after S seconds (default 10)
  --idle-timeout S        close a connection with no byte either way for S seconds (default 0: off;
                          the broker enforces the MQTT keepalive)
  --max-connections N     refuse connections beyond N (default 0: no limit)
  --max-packet BYTES      the broker's maximum packet size (default 1048576)
  --metrics-port PORT     serve GET /metrics (Prometheus) and GET /stats (JSON) on PORT (default: off)
  --quiet                 no log line per connection
  -h, --help              this text

Each accepted connection becomes one WebSocket to --target (subprotocol "mqtt"), bytes unchanged both ways.
`;

/**
 * @typedef {{ kind: 'help' }
 *   | { kind: 'error', message: string }
 *   | { kind: 'run', options: Omit<import('./index.js').GatewayOptions, 'tls' | 'log'>,
 *       tls: { certFile: string, keyFile: string, port: number } | undefined, quiet: boolean }} CommandLine
 */

/**
 * @param {string[]} argv the arguments after the command
 * @param {Record<string, string | undefined>} env
 * @returns {CommandLine}
 */
export function parseCommandLine(argv, env = {}) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        target: { type: 'string' },
        listen: { type: 'string' },
        host: { type: 'string' },
        username: { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'tls-listen': { type: 'string' },
        'connect-timeout': { type: 'string' },
        'idle-timeout': { type: 'string' },
        'max-connections': { type: 'string' },
        'max-packet': { type: 'string' },
        'metrics-port': { type: 'string' },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    return { kind: 'error', message: /** @type {Error} */ (error).message };
  }
  if (values.help) return { kind: 'help' };
  if (!values.target) return { kind: 'error', message: '--target is required' };
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) return { kind: 'error', message: '--tls-cert and --tls-key go together' };
  if (values['tls-listen'] && !values['tls-cert']) return { kind: 'error', message: '--tls-listen needs --tls-cert and --tls-key' };

  try {
    const username = values.username ?? env.EDGE_MQTT_GATEWAY_USERNAME;
    const metricsPort = values['metrics-port'];
    return {
      kind: 'run',
      options: {
        target: values.target,
        host: values.host ?? '0.0.0.0',
        port: port('--listen', values.listen ?? '1883'),
        ...(username ? { username } : {}),
        connectTimeoutMs: 1000 * seconds('--connect-timeout', values['connect-timeout'] ?? '10'),
        idleTimeoutMs: 1000 * seconds('--idle-timeout', values['idle-timeout'] ?? '0'),
        maxConnections: count('--max-connections', values['max-connections'] ?? '0'),
        maxPacketBytes: count('--max-packet', values['max-packet'] ?? '1048576'),
        ...(metricsPort === undefined ? {} : { metricsPort: port('--metrics-port', metricsPort) }),
      },
      tls: values['tls-cert'] && values['tls-key']
        ? { certFile: values['tls-cert'], keyFile: values['tls-key'], port: port('--tls-listen', values['tls-listen'] ?? '8883') }
        : undefined,
      quiet: values.quiet ?? false,
    };
  } catch (error) {
    return { kind: 'error', message: /** @type {Error} */ (error).message };
  }
}

/** @param {string} flag @param {string} text */
function count(flag, text) {
  if (!/^\d+$/.test(text)) throw new Error(`${flag}: a whole number expected, got ${text}`);
  return Number(text);
}

/** @param {string} flag @param {string} text */
function port(flag, text) {
  const value = count(flag, text);
  if (value > 65535) throw new Error(`${flag}: a port is at most 65535, got ${text}`);
  return value;
}

/** Seconds, fractions allowed (tests use short timeouts). @param {string} flag @param {string} text */
function seconds(flag, text) {
  if (!/^\d+(\.\d+)?$/.test(text)) throw new Error(`${flag}: seconds expected, got ${text}`);
  return Number(text);
}
