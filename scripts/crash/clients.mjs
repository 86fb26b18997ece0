// Small promise wrappers over mqtt.js for the crash test: connect and read CONNACK, subscribe, end, and wait
// until a stream of messages goes quiet.
import mqtt from 'mqtt';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A persistent session's options: 3.1.1 clean session 0; 5.0 Clean Start 0 with an expiry long enough to
 * outlive every kill of the run (5.0 ends a session with expiry 0 on disconnect, as 3.1.1 clean=1 would).
 */
export function persistent(protocolVersion, clientId) {
  return {
    protocolVersion,
    clientId,
    clean: false,
    ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 3_600 } } : {}),
  };
}

/**
 * Connects and resolves with the client and its first CONNACK. `reconnectPeriod: 0` (the default here) makes
 * a failed first attempt an error; pass a period for a client that must ride out broker restarts.
 * `setup` attaches listeners before any packet arrives: a resumed session's messages can come in the same
 * WebSocket message as the CONNACK, and mqtt.js handles them before a promise continuation would run.
 */
export function connect(url, options, { timeoutMs = 10_000, setup } = {}) {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5_000, ...options });
    setup?.(client);
    const timer = setTimeout(() => fail(new Error(`no CONNACK for ${options.clientId ?? 'client'} in ${timeoutMs} ms`)), timeoutMs);
    const fail = (error) => {
      clearTimeout(timer);
      client.end(true);
      reject(error);
    };
    client.once('connect', (connack) => {
      clearTimeout(timer);
      resolve({ client, connack });
    });
    // A client that reconnects reports each refused attempt as an error: only a one-shot client fails on it.
    client.on('error', (error) => {
      if (!options.reconnectPeriod) fail(error);
    });
  });
}

/** SUBSCRIBE and check the grant: a refused or downgraded subscription would make the whole run meaningless. */
export async function subscribe(client, topic, qos) {
  const granted = await client.subscribeAsync(topic, { qos });
  const code = granted[0]?.qos;
  if (code !== qos) throw new Error(`SUBSCRIBE ${topic} QoS ${qos} granted ${code}`);
}

/** A clean DISCONNECT, so the broker keeps the session and publishes no will. */
export function end(client) {
  return new Promise((resolve) => client.end(false, {}, () => resolve()));
}

/** Resolves once `lastAt()` is `quietMs` old, or at `boundMs` whatever happens. */
export async function untilQuiet(lastAt, quietMs, boundMs) {
  const deadline = Date.now() + boundMs;
  while (Date.now() < deadline && Date.now() - lastAt() < quietMs) await sleep(100);
}
