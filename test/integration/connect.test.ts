// CONNECT rules and framing at the byte level, through the real Worker and session objects.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from './broker.js';
import { RawClient, connectBytes, connectClient, end, publishBytes, recorder, subscribe, subscribeBytes, waitUntil, withHeader } from './clients.js';

let broker: RunningBroker;
beforeAll(async () => {
  broker = await startBroker({ vars: { CONNECT_TIMEOUT: '1' } });
});
afterAll(async () => {
  await broker?.stop();
});

/** CONNACK bytes for a 3.1.1 session-present flag and return code. */
const connack = (sessionPresent: number, code: number) => Buffer.from([0x20, 0x02, sessionPresent, code]);

describe('CONNECT', () => {
  it('[MQTT-3.1.2-2] an unsupported protocol level gets CONNACK 0x01 and the connection is closed', async () => {
    const raw = new RawClient(broker.mqttUrl);
    await raw.send(connectBytes({ clientId: 'level-6', level: 6 }));
    expect(await raw.waitClosed()).toBe(true);
    expect(raw.bytes()).toEqual(connack(0, 0x01));
  });

  it('[MQTT-3.1.2-3] a CONNECT with the reserved flag set closes the connection without CONNACK', async () => {
    const raw = new RawClient(broker.mqttUrl);
    await raw.send(connectBytes({ clientId: 'reserved', flags: 0x03 }));
    expect(await raw.waitClosed()).toBe(true);
    expect(raw.bytes().length).toBe(0);
  });

  it('[MQTT-3.1.3-6] a zero-length client id with clean session gets an assigned id and is accepted', async () => {
    const raw = new RawClient(broker.mqttUrl);
    await raw.send(connectBytes({ clientId: '' }));
    expect(await raw.until((b) => b.length >= 4)).toEqual(connack(0, 0x00));
    raw.close();
  });

  it('[MQTT-3.1.3-8] a zero-length client id without clean session gets CONNACK 0x02 and is closed', async () => {
    const raw = new RawClient(broker.mqttUrl);
    await raw.send(connectBytes({ clientId: '', cleanSession: false }));
    expect(await raw.waitClosed()).toBe(true);
    expect(raw.bytes()).toEqual(connack(0, 0x02));
  });

  it('[MQTT-1.5.3-1] a client id that is not valid UTF-8 closes the connection', async () => {
    const raw = new RawClient(broker.mqttUrl);
    const bytes = connectBytes({ clientId: 'ab' });
    bytes[bytes.length - 1] = 0xff; // 'b' becomes an invalid UTF-8 byte
    await raw.send(bytes);
    expect(await raw.waitClosed()).toBe(true);
    expect(raw.bytes().length).toBe(0);
  });

  it('[MQTT-1.5.3-2] a client id containing U+0000 closes the connection', async () => {
    const raw = new RawClient(broker.mqttUrl);
    await raw.send(connectBytes({ clientId: 'a\u0000b' }));
    expect(await raw.waitClosed()).toBe(true);
  });

  it('[MQTT-3.1.0-1] a first packet other than CONNECT closes the connection', async () => {
    const raw = new RawClient(broker.mqttUrl);
    await raw.send(publishBytes('a/b', 'x'));
    expect(await raw.waitClosed()).toBe(true);
    expect(raw.bytes().length).toBe(0);
  });

  it('[MQTT-3.1.0-2] a second CONNECT is a protocol violation and closes the connection', async () => {
    const raw = new RawClient(broker.mqttUrl);
    await raw.send(connectBytes({ clientId: 'twice' }));
    await raw.until((b) => b.length >= 4);
    await raw.send(connectBytes({ clientId: 'twice' }));
    expect(await raw.waitClosed()).toBe(true);
  });

  it('[MQTT-3.1.4-1] no CONNECT within the timeout closes the connection', async () => {
    const raw = new RawClient(broker.mqttUrl);
    await raw.open();
    expect(await raw.waitClosed(4000)).toBe(true);
  });

  it('[MQTT-6.0.0-1] a text frame is not MQTT and closes the connection', async () => {
    const raw = new RawClient(broker.mqttUrl);
    await raw.open();
    (raw as unknown as { socket: { send(s: string): void } }).socket.send('hello');
    expect(await raw.waitClosed()).toBe(true);
  });

  it('[MQTT-2.2.3-1] a remaining length over four bytes is malformed and closes the connection', async () => {
    const raw = new RawClient(broker.mqttUrl);
    await raw.send([0x10, 0xff, 0xff, 0xff, 0xff, 0x01]);
    expect(await raw.waitClosed()).toBe(true);
  });

  it('[MQTT-3.12.4-1] PINGREQ gets PINGRESP from the Worker', async () => {
    const raw = new RawClient(broker.mqttUrl);
    await raw.send(connectBytes({ clientId: 'pinger' }));
    await raw.until((b) => b.length >= 4);
    await raw.send([0xc0, 0x00]);
    const bytes = await raw.until((b) => b.length >= 6);
    expect(bytes.subarray(4)).toEqual(Buffer.from([0xd0, 0x00]));
    raw.close();
  });

  it('[MQTT-6.0.0-2] a packet spanning frames and several packets in one frame are reassembled', async () => {
    const sub = await connectClient(broker.mqttUrl, { clientId: 'frames-sub' });
    const got = recorder(sub);
    await subscribe(sub, 'frames/+', 0);
    const raw = new RawClient(broker.mqttUrl);
    const connect = connectBytes({ clientId: 'frames-pub' });
    // CONNECT split byte by byte, then two PUBLISH packets in one frame.
    await raw.send(...[...connect].map((byte) => [byte]));
    await raw.until((b) => b.length >= 4);
    await raw.send(Buffer.concat([publishBytes('frames/a', 'one'), publishBytes('frames/b', 'two')]));
    await got.waitFor(2);
    expect(got.messages.map((m) => m.payload)).toEqual(['one', 'two']);
    raw.close();
    await end(sub);
  });

  it('[MQTT-3.8.3-4] a SUBSCRIBE with an invalid requested QoS is malformed and closes the connection', async () => {
    const raw = new RawClient(broker.mqttUrl);
    await raw.send(connectBytes({ clientId: 'badqos' }));
    await raw.until((b) => b.length >= 4);
    await raw.send(subscribeBytes(1, [['a/b', 3]]));
    expect(await raw.waitClosed()).toBe(true);
  });

  it('[MQTT-3.3.2-2] a PUBLISH to a topic with wildcards closes the connection', async () => {
    const raw = new RawClient(broker.mqttUrl);
    await raw.send(connectBytes({ clientId: 'wildpub' }));
    await raw.until((b) => b.length >= 4);
    await raw.send(publishBytes('a/+', 'x'));
    expect(await raw.waitClosed()).toBe(true);
  });

  it('[MQTT-3.3.1-4] a PUBLISH with QoS 3 is malformed and closes the connection', async () => {
    const raw = new RawClient(broker.mqttUrl);
    await raw.send(connectBytes({ clientId: 'qos3' }));
    await raw.until((b) => b.length >= 4);
    await raw.send(withHeader(0x36, Buffer.from([0, 1, 0x61, 0, 1])));
    expect(await raw.waitClosed()).toBe(true);
  });

  it('[MQTT-3.1.2-24] the Worker closes a connection silent for 1.5 × keepalive', async () => {
    const raw = new RawClient(broker.mqttUrl);
    await raw.send(connectBytes({ clientId: 'silent', keepAlive: 1 }));
    await raw.until((b) => b.length >= 4);
    const started = Date.now();
    expect(await raw.waitClosed(5000)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1200);
  });
});

describe('costs', () => {
  it('[MQTT-3.12.4-1] PINGREQs are answered by the Worker and never wake the session object', async () => {
    const client = await connectClient(broker.mqttUrl, { clientId: 'ping-cost', keepalive: 1 });
    const namespace = await broker.miniflare.getDurableObjectNamespace('SESSION');
    const stub = namespace.get(namespace.idFromName('default\u0000ping-cost')) as unknown as {
      invocationCounts(): Promise<{ webSocketMessage: number }>;
    };
    const before = await stub.invocationCounts();
    let pongs = 0;
    client.on('packetreceive', (packet) => {
      if (packet.cmd === 'pingresp') pongs++;
    });
    await waitUntil(() => pongs >= 2, { timeoutMs: 5000, what: 'two PINGRESPs' });
    const after = await stub.invocationCounts();
    expect(pongs).toBeGreaterThanOrEqual(2);
    expect(after.webSocketMessage - before.webSocketMessage).toBe(0);
    await end(client);
  });
});

describe('CONNECT: will', () => {
  it('[MQTT-3.3.2-2] a will topic with wildcards is a protocol violation: closed without CONNACK', async () => {
    const raw = new RawClient(broker.mqttUrl);
    await raw.send(connectBytes({ clientId: 'bad-will', will: { topic: 'will/#', payload: 'x' } }));
    expect(await raw.waitClosed()).toBe(true);
    expect(raw.bytes().length).toBe(0);
  });
});
