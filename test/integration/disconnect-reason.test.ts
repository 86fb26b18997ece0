// A server DISCONNECT carries a Reason String, so that clients which read the reason code only from a packet
// longer than 2 bytes (paho-mqtt 2.1) see why they were disconnected.
import mqtt, { type IDisconnectPacket, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PacketFramer, decodePacket, encodePacket } from '../../core/codec/index.js';
import { startBroker, type RunningBroker } from './broker.js';
import { RawClient, end } from './clients.js';
import { api, newTenant, newToken, presenceReported } from './tenants.js';

const ADMIN = 'disconnect-reason-admin';
let broker: RunningBroker;

beforeAll(async () => {
  broker = await startBroker({ vars: { ADMIN_TOKEN: ADMIN } });
});
afterAll(async () => {
  await broker?.stop();
});

/** Connects an mqtt.js 5.0 client; `disconnect` resolves with the first DISCONNECT the server sends it. */
async function open(clientId: string, options: mqtt.IClientOptions = {}): Promise<{ client: MqttClient; disconnect: Promise<IDisconnectPacket> }> {
  const client = mqtt.connect(broker.mqttUrl, { protocolVersion: 5, clientId, reconnectPeriod: 0, connectTimeout: 5000, ...options });
  const disconnect = new Promise<IDisconnectPacket>((resolve) => client.once('disconnect', resolve));
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  client.on('error', () => undefined);
  return { client, disconnect };
}

describe('server DISCONNECT Reason String', () => {
  it('[MQTT-3.1.4-3 v5] a take-over: DISCONNECT 0x8E "Session taken over"', async () => {
    const first = await open('reason-takeover');
    const second = await open('reason-takeover');
    const packet = await first.disconnect;
    expect(packet.reasonCode).toBe(0x8e);
    expect(packet.properties?.reasonString).toBe('Session taken over');
    await end(second.client);
  });

  it('(5.0 §3.14.2.1) an administrator\'s kick: DISCONNECT 0x98 with the Reason String saying so', async () => {
    const master = await newTenant(broker, ADMIN, 'reason-kick');
    const { token } = await newToken(broker, 'reason-kick', master, { acl: [{ filter: '#', rights: ['pub', 'sub'] }] });
    const device = await open('kicked', { username: token });
    await presenceReported(broker, 'reason-kick', 'kicked');
    expect((await api(broker, 'DELETE', '/tenants/reason-kick/sessions/kicked', ADMIN)).status).toBe(204);
    const packet = await device.disconnect;
    expect(packet.reasonCode).toBe(0x98);
    expect(packet.properties?.reasonString).toBe('Administrative action: kicked by the admin');
  });

  it('[DESIGN §5] past a token\'s publish rate: DISCONNECT 0x96 naming the rate', async () => {
    const master = await newTenant(broker, ADMIN, 'reason-rate');
    const { token } = await newToken(broker, 'reason-rate', master, { acl: [{ filter: '#', rights: ['pub', 'sub'] }], limits: { publishRate: 2 } });
    const device = await open('fast', { username: token });
    for (let i = 0; i < 10; i++) device.client.publish('rate/t', String(i), { qos: 0 });
    const packet = await device.disconnect;
    expect(packet.reasonCode).toBe(0x96);
    expect(packet.properties?.reasonString).toBe('Message rate too high: this token may publish 2 messages per second');
  });

  it('[MQTT-3.3.2-9 v5] a Topic Alias above the maximum: DISCONNECT 0x94 longer than 2 bytes, with "Topic alias invalid"', async () => {
    const raw = new RawClient(broker.mqttUrl);
    await raw.send(Buffer.from(encodePacket({ type: 'connect', protocolName: 'MQTT', protocolVersion: 5, cleanSession: true, keepAlive: 30, clientId: 'reason-alias' }, 5)));
    await raw.until((bytes) => bytes.length >= 3);
    const connackLength = raw.bytes().length;
    await raw.send(Buffer.from(encodePacket({ type: 'publish', topic: 'a/b', payload: new Uint8Array(), qos: 0, retain: false, dup: false, properties: { topicAlias: 60000 } }, 5)));
    await raw.waitClosed();
    const disconnect = raw.bytes().subarray(connackLength);
    expect(disconnect[0]).toBe(0xe0);
    // paho-mqtt 2.1 reads the reason code only when the packet is longer than 2 bytes.
    expect(disconnect.length).toBeGreaterThan(3);
    const [packet] = new PacketFramer(1024).push(disconnect).map((bytes) => decodePacket(bytes, 5));
    expect(packet).toStrictEqual({ type: 'disconnect', reasonCode: 0x94, properties: { reasonString: 'Topic alias invalid' } });
  });
});
