// Plain MQTT over TCP (and TLS) through the gateway to the real broker (workerd via Miniflare): mqtt.js 3.1.1
// and 5.0 clients on mqtt:// and mqtts:// talk with clients connected to the broker's WebSocket directly.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionOffline, startBroker, type RunningBroker } from '../integration/broker.js';
import { connectBytes, connectClient, end, publish, recorder, roundTrip, subscribe, waitUntil } from '../integration/clients.js';
import { newTenant, newToken } from '../integration/tenants.js';
import type { Gateway } from '../../scripts/gateway/index.js';
import { TcpClient, gatewayFor } from './helpers.js';

const ADMIN = 'gateway-admin-secret';
let broker: RunningBroker;
let gateway: Gateway & { lines: string[] };
let tcpUrl: string;
const stops: Array<() => Promise<void>> = [];

beforeAll(async () => {
  broker = await startBroker({ vars: { ADMIN_TOKEN: ADMIN } });
  gateway = await gatewayFor(broker.mqttUrl, { connectTimeoutMs: 1000 });
  stops.push(() => gateway.close());
  tcpUrl = `mqtt://127.0.0.1:${gateway.port}`;
});
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  await broker?.stop();
});

function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.once('close', () => resolve()));
}

describe.each([4, 5] as const)('mqtt.js %i over TCP through the gateway', (protocolVersion) => {
  const id = (name: string) => `gw-v${protocolVersion}-${name}`;
  const topic = (name: string) => `gw/v${protocolVersion}/${name}`;

  it('QoS 0, 1 and 2 both ways between a TCP client and a WebSocket client', async () => {
    const tcp = await connectClient(tcpUrl, { protocolVersion, clientId: id('tcp') });
    const ws = await connectClient(broker.mqttUrl, { protocolVersion, clientId: id('ws') });
    const tcpGot = recorder(tcp);
    const wsGot = recorder(ws);
    await subscribe(tcp, topic('to-tcp'), 2);
    await subscribe(ws, topic('to-ws'), 2);
    for (const qos of [0, 1, 2] as const) {
      await publish(tcp, topic('to-ws'), `tcp-q${qos}`, { qos });
      await publish(ws, topic('to-tcp'), `ws-q${qos}`, { qos });
    }
    await tcpGot.waitFor(3);
    await wsGot.waitFor(3);
    expect(tcpGot.messages.map((m) => [m.payload, m.packet.qos]).sort()).toEqual([['ws-q0', 0], ['ws-q1', 1], ['ws-q2', 2]]);
    expect(wsGot.messages.map((m) => [m.payload, m.packet.qos]).sort()).toEqual([['tcp-q0', 0], ['tcp-q1', 1], ['tcp-q2', 2]]);
    await Promise.all([end(tcp), end(ws)]);
  });

  it('[MQTT-3.3.1-6] a retained message published over TCP goes to a later WebSocket subscriber, and back', async () => {
    const tcp = await connectClient(tcpUrl, { protocolVersion, clientId: id('ret-tcp') });
    await publish(tcp, topic('retained/from-tcp'), 'kept', { qos: 1, retain: true });
    const ws = await connectClient(broker.mqttUrl, { protocolVersion, clientId: id('ret-ws') });
    await publish(ws, topic('retained/from-ws'), 'kept too', { qos: 1, retain: true });
    const wsGot = recorder(ws);
    await subscribe(ws, topic('retained/from-tcp'), 1);
    const [fromTcp] = await wsGot.waitFor(1);
    expect([fromTcp?.payload, fromTcp?.packet.retain]).toEqual(['kept', true]);
    const tcpGot = recorder(tcp);
    await subscribe(tcp, topic('retained/from-ws'), 1);
    const [fromWs] = await tcpGot.waitFor(1);
    expect([fromWs?.payload, fromWs?.packet.retain]).toEqual(['kept too', true]);
    await Promise.all([end(tcp), end(ws)]);
  });

  it('[MQTT-3.1.2-4] a persistent session resumes through the gateway: QoS 1 queued while offline arrives on reconnect', async () => {
    const persistent = { protocolVersion, clientId: id('persist'), clean: false, ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 300 } } : {}) };
    const first = await connectClient(tcpUrl, persistent);
    await subscribe(first, topic('queued'), 1);
    await end(first);
    await sessionOffline(broker, persistent.clientId);
    const ws = await connectClient(broker.mqttUrl, { protocolVersion, clientId: id('persist-pub') });
    await publish(ws, topic('queued'), 'while you were away', { qos: 1 });
    // The queued message may come in the same TCP segment as the CONNACK: record from before the connect.
    const again = mqtt.connect(tcpUrl, { ...persistent, reconnectPeriod: 0 });
    const got = recorder(again);
    const sessionPresent = await new Promise<boolean>((resolve, reject) => again.once('connect', (packet) => resolve(packet.sessionPresent)).once('error', reject));
    expect(sessionPresent).toBe(true);
    const [message] = await got.waitFor(1);
    expect([message?.topic, message?.payload, message?.packet.qos]).toEqual([topic('queued'), 'while you were away', 1]);
    await Promise.all([end(again), end(ws)]);
  });

  it('[MQTT-3.1.2-8] the will is published when the TCP connection is dropped', async () => {
    const watcher = await connectClient(broker.mqttUrl, { protocolVersion, clientId: id('will-watch') });
    const got = recorder(watcher);
    await subscribe(watcher, topic('will'), 1);
    const device = await connectClient(tcpUrl, { protocolVersion, clientId: id('will-dev'), will: { topic: topic('will'), payload: Buffer.from('dropped'), qos: 1, retain: false } });
    device.stream.destroy(); // the TCP connection goes, no DISCONNECT
    const [will] = await got.waitFor(1);
    expect(will?.payload).toBe('dropped');
    await end(device, true);
    await end(watcher);
  });
});

it('[MQTT-3.1.2-24] a client silent past 1.5 × its keepalive is cut by the broker: the TCP connection closes and the will goes out', async () => {
  const watcher = await connectClient(broker.mqttUrl, { clientId: 'gw-ka-watch' });
  const got = recorder(watcher);
  await subscribe(watcher, 'gw/ka/will', 1);
  const silent = new TcpClient(gateway.port);
  const started = Date.now();
  await silent.write(connectBytes({ clientId: 'gw-ka-dev', keepAlive: 2, will: { topic: 'gw/ka/will', payload: 'silent', qos: 1 } }));
  await waitUntil(() => silent.bytes().length >= 4, { what: 'the CONNACK' });
  expect([...silent.bytes().subarray(0, 4)]).toEqual([0x20, 0x02, 0x00, 0x00]);
  await silent.waitClosed(8000); // and it sends nothing more: no PINGREQ
  expect(Date.now() - started).toBeGreaterThanOrEqual(2900);
  expect(silent.ended).toBe(true); // an orderly close passed on: FIN, not a reset
  const [will] = await got.waitFor(1);
  expect(will?.payload).toBe('silent');
  await end(watcher);
});

it('[MQTT-3.1.4-2] a session take-over on the WebSocket closes the old client’s TCP connection', async () => {
  const old = await connectClient(tcpUrl, { clientId: 'gw-takeover' });
  const gone = closed(old);
  const usurper = await connectClient(broker.mqttUrl, { clientId: 'gw-takeover' });
  await gone;
  await waitUntil(() => gateway.lines.some((line) => /^close #\d+ .* upstream-closed/.test(line)), { what: 'the close logged as the broker’s' });
  await end(usurper);
});

it('a client’s TCP close ends its WebSocket: the broker sees the session offline', async () => {
  const client = await connectClient(tcpUrl, { clientId: 'gw-leaves', clean: false });
  client.stream.end();
  await sessionOffline(broker, 'gw-leaves');
  await end(client, true);
});

it('CONNECT timeout: a TCP connection that sends no CONNECT is closed', async () => {
  const idle = new TcpClient(gateway.port);
  await idle.open();
  const started = Date.now();
  await idle.waitClosed();
  expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  expect(gateway.stats().connectTimeouts).toBeGreaterThanOrEqual(1);
});

describe('--username TOKEN', () => {
  let tokened: Gateway;
  let master: string;

  beforeAll(async () => {
    master = await newTenant(broker, ADMIN, 'gwtenant');
    const device = await newToken(broker, 'gwtenant', master, { name: 'devices', acl: [{ filter: 'devices/%c/#', rights: ['pub', 'sub'] }] });
    tokened = await gatewayFor(broker.mqttUrl, { username: device.token });
    stops.push(() => tokened.close());
  });

  it('a client without username joins the token’s tenant and is held to its ACL', async () => {
    const watcher = await connectClient(broker.mqttUrl, { clientId: 'gw-tenant-watch', username: master });
    const got = recorder(watcher);
    await subscribe(watcher, '#', 1);
    const anonymous = await connectClient(broker.mqttUrl, { clientId: 'gw-default-watch' });
    const defaultGot = recorder(anonymous);
    await subscribe(anonymous, 'devices/#', 1);

    const device = await connectClient(`mqtt://127.0.0.1:${tokened.port}`, { clientId: 'gw-dev1' });
    expect(await subscribe(device, 'devices/gw-dev1/#', 1)).toEqual([{ topic: 'devices/gw-dev1/#', qos: 1 }]);
    expect((await subscribe(device, 'other/#', 1))[0]?.qos).toBe(0x80); // outside the ACL
    await publish(device, 'other/x', 'refused', { qos: 1 }); // 3.1.1: acknowledged and dropped
    await publish(device, 'devices/gw-dev1/temp', '21.5', { qos: 1 });
    await got.waitFor(1);
    await roundTrip(watcher);
    expect(got.messages.map((m) => [m.topic, m.payload])).toEqual([['devices/gw-dev1/temp', '21.5']]);
    await roundTrip(anonymous);
    expect(defaultGot.messages).toEqual([]); // not in the default tenant
    await Promise.all([end(device), end(watcher), end(anonymous)]);
  });

  it('a username and password of the device’s own are replaced by the token (v5)', async () => {
    const device = await connectClient(`mqtt://127.0.0.1:${tokened.port}`, { protocolVersion: 5, clientId: 'gw-dev2', username: 'whatever', password: 'ignored' });
    expect((await subscribe(device, 'devices/gw-dev2/#', 1)).map((granted) => granted.qos)).toEqual([1]);
    expect((await subscribe(device, 'other/#', 1)).map((granted) => granted.qos)).toEqual([0x87]); // Not authorized: the token's ACL
    await end(device);
  });
});

describe.skipIf(!existsSync('/usr/bin/openssl'))('TLS', () => {
  let secure: Gateway;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gateway-tls-'));
    execFileSync('/usr/bin/openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    secure = await gatewayFor(broker.mqttUrl, { tls: { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')), port: 0 } });
    stops.push(() => secure.close());
  });

  it('mqtts:// through the TLS listener: publish and receive, v4 and v5', async () => {
    for (const protocolVersion of [4, 5] as const) {
      const client = await connectClient(`mqtts://127.0.0.1:${secure.tlsPort}`, { protocolVersion, clientId: `gw-tls-${protocolVersion}`, rejectUnauthorized: false });
      const got = recorder(client);
      await subscribe(client, `gw/tls/${protocolVersion}`, 1);
      await publish(client, `gw/tls/${protocolVersion}`, 'over tls', { qos: 1 });
      const [message] = await got.waitFor(1);
      expect(message?.payload).toBe('over tls');
      await end(client);
    }
    expect(secure.stats().connectionsTotal).toBe(2);
  });
});
