// The gateway's CONNECT rewriter (--username TOKEN), against packets mqtt.js's own codec (mqtt-packet) writes
// and reads: each fixture is generated, rewritten, and must equal what mqtt-packet generates for the same
// CONNECT with TOKEN as username and no password, then parse back to it.
import mqttPacket, { type IConnectPacket } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { rewriteConnectUsername } from '../../scripts/gateway/index.js';

const TOKEN = 'acme.tok1.s3cr3t';
const tokenBytes = new TextEncoder().encode(TOKEN);

interface Fixture {
  name: string;
  packet: IConnectPacket;
}

const will = { topic: 'dev/1/status', payload: Buffer.from('offline'), qos: 1 as const, retain: true };
const fixtures: Fixture[] = [
  { name: 'v4, no credentials, no will', packet: { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'c1', clean: true, keepalive: 30 } },
  { name: 'v4, username only', packet: { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'c2', clean: true, keepalive: 30, username: 'device' } },
  {
    name: 'v4, username and password',
    packet: { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'c3', clean: false, keepalive: 60, username: 'device', password: Buffer.from('pw') },
  },
  { name: 'v4, will, no credentials', packet: { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'c4', clean: true, keepalive: 10, will } },
  {
    name: 'v4, will, username and password',
    packet: { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'c5', clean: true, keepalive: 10, will, username: 'u', password: Buffer.from('p') },
  },
  { name: 'v4, empty client id', packet: { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: '', clean: true, keepalive: 0 } },
  { name: 'v3 (MQIsdp), will and password', packet: { cmd: 'connect', protocolId: 'MQIsdp', protocolVersion: 3, clientId: 'old', clean: true, keepalive: 5, will, username: 'u', password: Buffer.from('p') } },
  { name: 'v5, no properties, no credentials', packet: { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'c6', clean: true, keepalive: 30 } },
  {
    name: 'v5, properties, username and password',
    packet: {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clientId: 'c7',
      clean: false,
      keepalive: 30,
      username: 'device',
      password: Buffer.from('secret'),
      properties: { sessionExpiryInterval: 3600, receiveMaximum: 20, maximumPacketSize: 65536, topicAliasMaximum: 8, userProperties: { site: 'a', tags: ['x', 'y'] } },
    },
  },
  {
    name: 'v5, will with properties, no credentials',
    packet: {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clientId: 'c8',
      clean: true,
      keepalive: 30,
      properties: { sessionExpiryInterval: 60 },
      will: { ...will, properties: { willDelayInterval: 5, contentType: 'text/plain', responseTopic: 'r/t', correlationData: Buffer.from([1, 2, 3]), userProperties: { k: 'v' } } },
    },
  },
  {
    name: 'v5, will with properties, username and password',
    packet: {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clientId: 'c9',
      clean: true,
      keepalive: 30,
      username: 'x',
      password: Buffer.from('y'),
      will: { ...will, qos: 2, retain: false, properties: { messageExpiryInterval: 100, payloadFormatIndicator: true } },
    },
  },
  {
    // 123 bytes of body before the username, so TOKEN takes the remaining length past 127: one byte to two
    name: 'v4, remaining length grows from one byte to two',
    packet: { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'c'.repeat(111), clean: true, keepalive: 30 },
  },
  {
    name: 'v4, remaining length shrinks from two bytes to one (long credentials)',
    packet: { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'c10', clean: true, keepalive: 30, username: 'u'.repeat(100), password: Buffer.alloc(200, 7) },
  },
  {
    name: 'v5, a will payload of 60,000 bytes (three-byte remaining length)',
    packet: { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'big', clean: true, keepalive: 30, will: { topic: 't', payload: Buffer.alloc(60_000, 1), qos: 0, retain: false } },
  },
];

/** Parses one packet with mqtt-packet (throws on its error). */
function parse(bytes: Uint8Array, protocolVersion: number): IConnectPacket {
  const parser = mqttPacket.parser({ protocolVersion });
  const packets: IConnectPacket[] = [];
  parser.on('packet', (packet) => packets.push(packet as IConnectPacket));
  parser.on('error', (error) => {
    throw error;
  });
  parser.parse(Buffer.from(bytes));
  expect(packets).toHaveLength(1);
  return packets[0]!;
}

function withToken(packet: IConnectPacket): IConnectPacket {
  const { password: _dropped, ...rest } = packet;
  return { ...rest, username: TOKEN };
}

function rewritten(bytes: Uint8Array): Uint8Array {
  const result = rewriteConnectUsername(bytes, tokenBytes);
  if (!result.ok) throw new Error(`refused: ${result.reason}`);
  return result.packet;
}

describe('rewriteConnectUsername', () => {
  it.each(fixtures)('$name: bytes equal mqtt-packet’s CONNECT with the token and no password', ({ packet }) => {
    const out = rewritten(mqttPacket.generate(packet));
    expect(Buffer.from(out).equals(mqttPacket.generate(withToken(packet)))).toBe(true);
  });

  it.each(fixtures)('$name: parses back with the token as username, no password, the rest unchanged', ({ packet }) => {
    const parsed = parse(rewritten(mqttPacket.generate(packet)), packet.protocolVersion ?? 4);
    expect(parsed.username).toBe(TOKEN);
    expect(parsed.password).toBeUndefined();
    expect(parsed.clientId).toBe(packet.clientId);
    expect(parsed.clean).toBe(packet.clean);
    expect(parsed.keepalive).toBe(packet.keepalive);
    expect(parsed.protocolVersion).toBe(packet.protocolVersion);
    expect(parsed.will?.topic).toBe(packet.will?.topic);
    expect(parsed.will?.payload.length).toBe(packet.will ? Buffer.from(packet.will.payload).length : undefined);
    expect(parsed.will?.properties).toEqual(packet.will?.properties);
    if (packet.properties) expect(parsed.properties).toEqual(packet.properties);
  });

  it('a 5.0 password without a username is dropped too', () => {
    // mqtt-packet will not write this (it wants a username with a password); 5.0 allows it.
    const withPassword = [0x10, 19, 0, 4, 0x4d, 0x51, 0x54, 0x54, 5, 0x42, 0, 30, 0, 0, 2, 0x70, 0x31, 0, 2, 0x70, 0x77]; // flags: password, clean
    expect(withPassword[1]).toBe(withPassword.length - 2);
    const expected = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'p1', clean: true, keepalive: 30, username: TOKEN });
    expect(Buffer.from(rewritten(Uint8Array.from(withPassword))).equals(expected)).toBe(true);
  });

  it('an empty token is a zero-length username (the broker decides what it means)', () => {
    const packet: IConnectPacket = { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'e', clean: true, keepalive: 30 };
    const result = rewriteConnectUsername(mqttPacket.generate(packet), new Uint8Array(0));
    expect(result.ok && parse(result.packet, 4).username).toBe('');
  });

  it('a property-based round trip: 300 random CONNECTs keep everything but the credentials', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pick = <T>(values: T[]): T => values[Math.floor(random() * values.length)]!;
    const text = (max: number) => 'x'.repeat(Math.floor(random() * max)) + String.fromCodePoint(0x41 + Math.floor(random() * 26), 0xe9, 0x1f600);
    for (let i = 0; i < 300; i++) {
      const protocolVersion = pick([3, 4, 5] as const);
      const v5 = protocolVersion === 5;
      const packet: IConnectPacket = {
        cmd: 'connect',
        protocolId: protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
        protocolVersion,
        clientId: text(200),
        clean: random() < 0.5,
        keepalive: Math.floor(random() * 65536),
        ...(random() < 0.5 ? { username: text(300) } : {}),
        ...(v5 && random() < 0.5 ? { properties: { sessionExpiryInterval: Math.floor(random() * 1e6), userProperties: { a: text(50) } } } : {}),
        ...(random() < 0.5
          ? {
              will: {
                topic: text(100),
                payload: Buffer.alloc(Math.floor(random() * 20_000), 3),
                qos: pick([0, 1, 2] as const),
                retain: random() < 0.5,
                ...(v5 && random() < 0.5 ? { properties: { willDelayInterval: 7, contentType: text(20) } } : {}),
              },
            }
          : {}),
      };
      if (packet.username !== undefined && random() < 0.5) packet.password = Buffer.alloc(Math.floor(random() * 300), 9);
      const out = rewritten(mqttPacket.generate(packet));
      expect(Buffer.from(out).equals(mqttPacket.generate(withToken(packet))), `case ${i}`).toBe(true);
    }
  });
});

describe('rewriteConnectUsername refuses what is not a well-formed CONNECT', () => {
  const valid = () => [...mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'c', clean: true, keepalive: 30 })];
  const v5 = () => [...mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'c', clean: true, keepalive: 30, properties: { sessionExpiryInterval: 9 } })];
  const cases: Array<{ name: string; bytes: () => number[]; reason: RegExp }> = [
    { name: 'a PUBLISH', bytes: () => [0x30, 5, 0, 1, 0x74, 0x68, 0x69], reason: /not a CONNECT/ },
    { name: '[MQTT-2.2.2-2] CONNECT with fixed-header flags set', bytes: () => [0x11, ...valid().slice(1)], reason: /not a CONNECT/ },
    { name: 'a remaining length longer than the packet', bytes: () => [0x10, valid()[1]! + 1, ...valid().slice(2)], reason: /remaining length/ },
    { name: 'a remaining length shorter than the packet', bytes: () => [...valid(), 0], reason: /remaining length/ },
    { name: 'a remaining length of five bytes', bytes: () => [0x10, 0x80, 0x80, 0x80, 0x80, 0x01], reason: /remaining length/ },
    { name: 'protocol level 6', bytes: () => valid().map((b, i) => (i === 8 ? 6 : b)), reason: /protocol/ },
    { name: 'protocol name MQIsdp at level 4', bytes: () => [0x10, 15, 0, 6, ...Buffer.from('MQIsdp'), 4, 2, 0, 30, 0, 1, 0x63], reason: /protocol/ },
    { name: '[MQTT-3.1.2-3] the reserved connect flag', bytes: () => valid().map((b, i) => (i === 9 ? b | 1 : b)), reason: /reserved/ },
    { name: '[MQTT-3.1.2-13] will QoS without the will flag', bytes: () => valid().map((b, i) => (i === 9 ? b | 0x08 : b)), reason: /without will/ },
    { name: '[MQTT-3.1.2-15] will retain without the will flag', bytes: () => valid().map((b, i) => (i === 9 ? b | 0x20 : b)), reason: /without will/ },
    { name: '[MQTT-3.1.2-14] will QoS 3', bytes: () => valid().map((b, i) => (i === 9 ? b | 0x1c : b)), reason: /will QoS 3|past the end/ },
    { name: 'a username flag without the username', bytes: () => valid().map((b, i) => (i === 9 ? b | 0x80 : b)), reason: /past the end/ },
    { name: 'a client id longer than the packet', bytes: () => valid().map((b, i) => (i === 13 ? 9 : b)), reason: /past the end/ },
    { name: 'v5 properties longer than the packet', bytes: () => v5().map((b, i) => (i === 12 ? 100 : b)), reason: /past the end/ },
    { name: 'a byte after the last field', bytes: () => [0x10, valid()[1]! + 1, ...valid().slice(2), 0], reason: /after the last/ },
  ];
  it.each(cases)('$name', ({ bytes, reason }) => {
    const result = rewriteConnectUsername(Uint8Array.from(bytes()), tokenBytes);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });
});
