// Codec fixtures in the style of mqtt-packet's test.js: one packet and its bytes, commented per field.
// Each valid fixture yields a decode, an encode and a round-trip test (codec.test.ts). Names start with the
// spec statement they exercise, or the section defining the format when no numbered statement applies.
import type { Packet, ProtocolVersion } from '../../../core/codec/index.js';
import { ReasonCode, type ReasonCodeValue } from '../../../core/reason-codes.js';

export interface Fixture {
  name: string;
  version: ProtocolVersion;
  packet: Packet;
  bytes: number[];
}

export interface ErrorFixture {
  name: string;
  version: ProtocolVersion;
  bytes: number[];
  reasonCode: ReasonCodeValue;
}

/** Character codes of an ASCII string, to spell string fields inside byte arrays. */
/** Variable Byte Integer boundaries (3.1.1 table 2.4, 5.0 table 1-1): value and its encoding. */
export const VARINT_BOUNDARIES: Array<[number, number[]]> = [
  [0, [0x00]],
  [127, [0x7f]],
  [128, [0x80, 0x01]],
  [16_383, [0xff, 0x7f]],
  [16_384, [0x80, 0x80, 0x01]],
  [2_097_151, [0xff, 0xff, 0x7f]],
  [2_097_152, [0x80, 0x80, 0x80, 0x01]],
  [268_435_455, [0xff, 0xff, 0xff, 0x7f]],
];

/** The error `fn` throws, or undefined when it returns. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

export function ascii(s: string): number[] {
  return Array.from(s, (c) => c.charCodeAt(0));
}

const u8 = (...bytes: number[]): Uint8Array => Uint8Array.from(bytes);

// ---------------------------------------------------------------------------------------------- MQTT 3.1.1

export const fixturesV4: Fixture[] = [
  {
    name: '[MQTT-3.1.3-3] 3.1.1 CONNECT with only a client id',
    version: 4,
    packet: { type: 'connect', protocolName: 'MQTT', protocolVersion: 4, cleanSession: true, keepAlive: 60, clientId: 'test' },
    bytes: [
      0x10, 16, // CONNECT, remaining length
      0, 4, ...ascii('MQTT'), // protocol name
      4, // protocol level
      0b0000_0010, // connect flags: clean session
      0, 60, // keep alive
      0, 4, ...ascii('test'), // client id
    ],
  },
  {
    name: '[MQTT-3.1.3-1] 3.1.1 CONNECT with will, user name and password, in that order',
    version: 4,
    packet: {
      type: 'connect',
      protocolName: 'MQTT',
      protocolVersion: 4,
      cleanSession: false,
      keepAlive: 30,
      clientId: 'cid',
      will: { topic: 'topic', payload: u8(1, 2, 3), qos: 1, retain: true },
      username: 'user',
      password: u8(...ascii('pass')),
    },
    bytes: [
      0x10, 39, // CONNECT, remaining length
      0, 4, ...ascii('MQTT'), // protocol name
      4, // protocol level
      0b1110_1100, // connect flags: user name, password, will retain, will QoS 1, will
      0, 30, // keep alive
      0, 3, ...ascii('cid'), // client id
      0, 5, ...ascii('topic'), // will topic
      0, 3, 1, 2, 3, // will payload
      0, 4, ...ascii('user'), // user name
      0, 4, ...ascii('pass'), // password
    ],
  },
  {
    name: '[MQTT-3.1.3-6] 3.1.1 CONNECT with a zero-length client id',
    version: 4,
    packet: { type: 'connect', protocolName: 'MQTT', protocolVersion: 4, cleanSession: true, keepAlive: 0, clientId: '' },
    bytes: [
      0x10, 12, // CONNECT, remaining length
      0, 4, ...ascii('MQTT'), // protocol name
      4, // protocol level
      0b0000_0010, // connect flags: clean session
      0, 0, // keep alive
      0, 0, // client id
    ],
  },
  {
    name: '(3.1 §3.1) MQTT 3.1 CONNECT: protocol name "MQIsdp", level 3',
    version: 3,
    packet: { type: 'connect', protocolName: 'MQIsdp', protocolVersion: 3, cleanSession: true, keepAlive: 10, clientId: 'v3' },
    bytes: [
      0x10, 16, // CONNECT, remaining length
      0, 6, ...ascii('MQIsdp'), // protocol name
      3, // protocol level
      0b0000_0010, // connect flags: clean session
      0, 10, // keep alive
      0, 2, ...ascii('v3'), // client id
    ],
  },
  {
    name: '(3.1.1 §3.2) 3.1.1 CONNACK accepted, session present',
    version: 4,
    packet: { type: 'connack', sessionPresent: true, reasonCode: 0 },
    bytes: [
      0x20, 2, // CONNACK, remaining length
      0x01, // acknowledge flags: session present
      0x00, // return code: accepted
    ],
  },
  {
    name: '(3.1.1 §3.2.2.3) 3.1.1 CONNACK refused: not authorized',
    version: 4,
    packet: { type: 'connack', sessionPresent: false, reasonCode: 5 },
    bytes: [
      0x20, 2, // CONNACK, remaining length
      0x00, // acknowledge flags
      0x05, // return code: not authorized
    ],
  },
  {
    name: '[MQTT-2.3.1-5] 3.1.1 PUBLISH QoS 0 has no packet identifier',
    version: 4,
    packet: { type: 'publish', topic: 'test', payload: u8(...ascii('test')), qos: 0, retain: false, dup: false },
    bytes: [
      0x30, 10, // PUBLISH QoS 0, remaining length
      0, 4, ...ascii('test'), // topic name
      ...ascii('test'), // payload
    ],
  },
  {
    name: '[MQTT-3.3.1-1] 3.1.1 PUBLISH QoS 1 redelivery with DUP and RETAIN',
    version: 4,
    packet: { type: 'publish', topic: 'a/b', payload: u8(0xde, 0xad), qos: 1, retain: true, dup: true, packetId: 0x1234 },
    bytes: [
      0x3b, 9, // PUBLISH DUP, QoS 1, RETAIN; remaining length
      0, 3, ...ascii('a/b'), // topic name
      0x12, 0x34, // packet identifier
      0xde, 0xad, // payload
    ],
  },
  {
    name: '(3.1.1 §3.3.3) 3.1.1 PUBLISH QoS 2 with an empty payload',
    version: 4,
    packet: { type: 'publish', topic: 't', payload: u8(), qos: 2, retain: false, dup: false, packetId: 1 },
    bytes: [
      0x34, 5, // PUBLISH QoS 2, remaining length
      0, 1, ...ascii('t'), // topic name
      0, 1, // packet identifier
    ],
  },
  {
    name: '(3.1.1 §3.4) 3.1.1 PUBACK',
    version: 4,
    packet: { type: 'puback', packetId: 1 },
    bytes: [0x40, 2, /* packet identifier */ 0, 1],
  },
  {
    name: '(3.1.1 §3.5) 3.1.1 PUBREC',
    version: 4,
    packet: { type: 'pubrec', packetId: 2 },
    bytes: [0x50, 2, /* packet identifier */ 0, 2],
  },
  {
    name: '[MQTT-3.6.1-1] 3.1.1 PUBREL has fixed header flags 0010',
    version: 4,
    packet: { type: 'pubrel', packetId: 3 },
    bytes: [0x62, 2, /* packet identifier */ 0, 3],
  },
  {
    name: '(3.1.1 §3.7) 3.1.1 PUBCOMP',
    version: 4,
    packet: { type: 'pubcomp', packetId: 0x0104 },
    bytes: [0x70, 2, /* packet identifier */ 1, 4],
  },
  {
    name: '[MQTT-3.8.1-1] 3.1.1 SUBSCRIBE with two filters',
    version: 4,
    packet: {
      type: 'subscribe',
      packetId: 10,
      subscriptions: [
        { topicFilter: 'a/b', qos: 0 },
        { topicFilter: 'c/#', qos: 2 },
      ],
    },
    bytes: [
      0x82, 14, // SUBSCRIBE (flags 0010), remaining length
      0, 10, // packet identifier
      0, 3, ...ascii('a/b'), // topic filter
      0x00, // requested QoS 0
      0, 3, ...ascii('c/#'), // topic filter
      0x02, // requested QoS 2
    ],
  },
  {
    name: '[MQTT-3.9.3-2] 3.1.1 SUBACK with granted QoS and a failure',
    version: 4,
    packet: { type: 'suback', packetId: 10, reasonCodes: [0, 1, 2, 0x80] },
    bytes: [
      0x90, 6, // SUBACK, remaining length
      0, 10, // packet identifier
      0x00, 0x01, 0x02, 0x80, // return codes
    ],
  },
  {
    name: '[MQTT-3.10.1-1] 3.1.1 UNSUBSCRIBE with two filters',
    version: 4,
    packet: { type: 'unsubscribe', packetId: 11, topicFilters: ['a/b', '#'] },
    bytes: [
      0xa2, 10, // UNSUBSCRIBE (flags 0010), remaining length
      0, 11, // packet identifier
      0, 3, ...ascii('a/b'), // topic filter
      0, 1, ...ascii('#'), // topic filter
    ],
  },
  {
    name: '(3.1.1 §3.11) 3.1.1 UNSUBACK',
    version: 4,
    packet: { type: 'unsuback', packetId: 11 },
    bytes: [0xb0, 2, /* packet identifier */ 0, 11],
  },
  {
    name: '(3.1.1 §3.12) 3.1.1 PINGREQ',
    version: 4,
    packet: { type: 'pingreq' },
    bytes: [0xc0, 0],
  },
  {
    name: '(3.1.1 §3.13) 3.1.1 PINGRESP',
    version: 4,
    packet: { type: 'pingresp' },
    bytes: [0xd0, 0],
  },
  {
    name: '[MQTT-3.14.1-1] 3.1.1 DISCONNECT',
    version: 4,
    packet: { type: 'disconnect' },
    bytes: [0xe0, 0],
  },
];

// ------------------------------------------------------------------------------------------------ MQTT 5.0

export const fixturesV5: Fixture[] = [
  {
    name: '[MQTT-2.2.2-1 v5] 5.0 CONNECT without properties has Property Length 0',
    version: 5,
    packet: { type: 'connect', protocolName: 'MQTT', protocolVersion: 5, cleanSession: true, keepAlive: 60, clientId: '' },
    bytes: [
      0x10, 13, // CONNECT, remaining length
      0, 4, ...ascii('MQTT'), // protocol name
      5, // protocol version
      0b0000_0010, // connect flags: clean start
      0, 60, // keep alive
      0, // property length
      0, 0, // client id
    ],
  },
  {
    name: '[MQTT-3.1.3-1 v5] 5.0 CONNECT with every CONNECT and Will property',
    version: 5,
    packet: {
      type: 'connect',
      protocolName: 'MQTT',
      protocolVersion: 5,
      cleanSession: true,
      keepAlive: 0x0102,
      clientId: 'c5x',
      properties: {
        sessionExpiryInterval: 3600,
        authenticationMethod: 'SCRAM',
        authenticationData: u8(1, 2),
        requestProblemInformation: 0,
        requestResponseInformation: 1,
        receiveMaximum: 20,
        topicAliasMaximum: 10,
        userProperties: [
          ['a', 'b'],
          ['a', 'c'],
        ],
        maximumPacketSize: 4096,
      },
      will: {
        topic: 'will',
        payload: u8(...ascii('bye')),
        qos: 2,
        retain: false,
        properties: {
          payloadFormatIndicator: 1,
          messageExpiryInterval: 60,
          contentType: 'text/plain',
          responseTopic: 'resp',
          correlationData: u8(0xca, 0xfe),
          willDelayInterval: 5,
          userProperties: [['k', 'v']],
        },
      },
      username: 'u',
      password: u8(...ascii('p')),
    },
    bytes: [
      0x10, 125, // CONNECT, remaining length
      0, 4, ...ascii('MQTT'), // protocol name
      5, // protocol version
      0b1101_0110, // connect flags: user name, password, will QoS 2, will, clean start
      0x01, 0x02, // keep alive
      47, // property length
      0x11, 0, 0, 0x0e, 0x10, // session expiry interval 3600
      0x15, 0, 5, ...ascii('SCRAM'), // authentication method
      0x16, 0, 2, 1, 2, // authentication data
      0x17, 0, // request problem information
      0x19, 1, // request response information
      0x21, 0, 20, // receive maximum
      0x22, 0, 10, // topic alias maximum
      0x26, 0, 1, ...ascii('a'), 0, 1, ...ascii('b'), // user property a=b
      0x26, 0, 1, ...ascii('a'), 0, 1, ...ascii('c'), // user property a=c: same name again, order kept
      0x27, 0, 0, 0x10, 0x00, // maximum packet size 4096
      0, 3, ...ascii('c5x'), // client id
      44, // will property length
      0x01, 1, // payload format indicator: UTF-8
      0x02, 0, 0, 0, 60, // message expiry interval
      0x03, 0, 10, ...ascii('text/plain'), // content type
      0x08, 0, 4, ...ascii('resp'), // response topic
      0x09, 0, 2, 0xca, 0xfe, // correlation data
      0x18, 0, 0, 0, 5, // will delay interval
      0x26, 0, 1, ...ascii('k'), 0, 1, ...ascii('v'), // user property
      0, 4, ...ascii('will'), // will topic
      0, 3, ...ascii('bye'), // will payload
      0, 1, ...ascii('u'), // user name
      0, 1, ...ascii('p'), // password
    ],
  },
  {
    name: '[MQTT-3.1.2-19 v5] 5.0 CONNECT may carry a password without a user name',
    version: 5,
    packet: {
      type: 'connect',
      protocolName: 'MQTT',
      protocolVersion: 5,
      cleanSession: true,
      keepAlive: 0,
      clientId: 'x',
      password: u8(1, 2, 3),
    },
    bytes: [
      0x10, 19, // CONNECT, remaining length
      0, 4, ...ascii('MQTT'), // protocol name
      5, // protocol version
      0b0100_0010, // connect flags: password, clean start
      0, 0, // keep alive
      0, // property length
      0, 1, ...ascii('x'), // client id
      0, 3, 1, 2, 3, // password
    ],
  },
  {
    name: '(5.0 §3.2) 5.0 CONNACK success has a Property Length even when empty',
    version: 5,
    packet: { type: 'connack', sessionPresent: false, reasonCode: 0 },
    bytes: [0x20, 3, /* acknowledge flags */ 0, /* reason code */ 0, /* property length */ 0],
  },
  {
    name: '[MQTT-3.1.2-2 v5] 5.0 CONNACK 0x84 Unsupported Protocol Version',
    version: 5,
    packet: { type: 'connack', sessionPresent: false, reasonCode: ReasonCode.UnsupportedProtocolVersion },
    bytes: [0x20, 3, /* acknowledge flags */ 0, /* reason code */ 0x84, /* property length */ 0],
  },
  {
    name: '[MQTT-3.2.2-8 v5] 5.0 CONNACK with every CONNACK property',
    version: 5,
    packet: {
      type: 'connack',
      sessionPresent: true,
      reasonCode: 0,
      properties: {
        sessionExpiryInterval: 120,
        assignedClientIdentifier: 'auto',
        serverKeepAlive: 30,
        authenticationMethod: 'SCRAM',
        authenticationData: u8(9),
        responseInformation: 'resp/',
        serverReference: 'other',
        reasonString: 'ok',
        receiveMaximum: 100,
        topicAliasMaximum: 5,
        maximumQoS: 1,
        retainAvailable: 0,
        userProperties: [['x', 'y']],
        maximumPacketSize: 65536,
        wildcardSubscriptionAvailable: 0,
        subscriptionIdentifierAvailable: 1,
        sharedSubscriptionAvailable: 0,
      },
    },
    bytes: [
      0x20, 79, // CONNACK, remaining length
      0x01, // acknowledge flags: session present
      0x00, // reason code: success
      76, // property length
      0x11, 0, 0, 0, 120, // session expiry interval
      0x12, 0, 4, ...ascii('auto'), // assigned client identifier
      0x13, 0, 30, // server keep alive
      0x15, 0, 5, ...ascii('SCRAM'), // authentication method
      0x16, 0, 1, 9, // authentication data
      0x1a, 0, 5, ...ascii('resp/'), // response information
      0x1c, 0, 5, ...ascii('other'), // server reference
      0x1f, 0, 2, ...ascii('ok'), // reason string
      0x21, 0, 100, // receive maximum
      0x22, 0, 5, // topic alias maximum
      0x24, 1, // maximum QoS
      0x25, 0, // retain available
      0x26, 0, 1, ...ascii('x'), 0, 1, ...ascii('y'), // user property
      0x27, 0, 1, 0, 0, // maximum packet size 65536
      0x28, 0, // wildcard subscription available
      0x29, 1, // subscription identifier available
      0x2a, 0, // shared subscription available
    ],
  },
  {
    name: '[MQTT-2.2.1-2 v5] 5.0 PUBLISH QoS 0 has no packet identifier',
    version: 5,
    packet: { type: 'publish', topic: 'a/b', payload: u8(...ascii('hi')), qos: 0, retain: false, dup: false },
    bytes: [
      0x30, 8, // PUBLISH QoS 0, remaining length
      0, 3, ...ascii('a/b'), // topic name
      0, // property length
      ...ascii('hi'), // payload
    ],
  },
  {
    name: '[MQTT-3.3.2-18 v5] 5.0 PUBLISH QoS 1 with every PUBLISH property',
    version: 5,
    packet: {
      type: 'publish',
      topic: 'x/y',
      payload: u8(...ascii('{}')),
      qos: 1,
      retain: false,
      dup: false,
      packetId: 42,
      properties: {
        payloadFormatIndicator: 1,
        messageExpiryInterval: 300,
        contentType: 'json',
        responseTopic: 'reply',
        correlationData: u8(1, 2, 3),
        subscriptionIdentifiers: [1, 16384],
        topicAlias: 7,
        userProperties: [['k1', 'v1']],
      },
    },
    bytes: [
      0x32, 56, // PUBLISH QoS 1, remaining length
      0, 3, ...ascii('x/y'), // topic name
      0, 42, // packet identifier
      46, // property length
      0x01, 1, // payload format indicator
      0x02, 0, 0, 0x01, 0x2c, // message expiry interval 300
      0x03, 0, 4, ...ascii('json'), // content type
      0x08, 0, 5, ...ascii('reply'), // response topic
      0x09, 0, 3, 1, 2, 3, // correlation data
      0x0b, 0x01, // subscription identifier 1
      0x0b, 0x80, 0x80, 0x01, // subscription identifier 16384 (a three-byte varint)
      0x23, 0, 7, // topic alias
      0x26, 0, 2, ...ascii('k1'), 0, 2, ...ascii('v1'), // user property
      ...ascii('{}'), // payload
    ],
  },
  {
    name: '(5.0 §2.1.4) 5.0 PUBLISH with a two-byte Remaining Length',
    version: 5,
    packet: { type: 'publish', topic: 't', payload: new Uint8Array(200).fill(0xab), qos: 0, retain: true, dup: false },
    bytes: [
      0x31, 0xcc, 0x01, // PUBLISH RETAIN, remaining length 204
      0, 1, ...ascii('t'), // topic name
      0, // property length
      ...new Array<number>(200).fill(0xab), // payload
    ],
  },
  {
    name: '(5.0 §3.4.2.1) 5.0 PUBACK Success without properties takes the 2-byte short form',
    version: 5,
    packet: { type: 'puback', packetId: 1, reasonCode: 0 },
    bytes: [0x40, 2, /* packet identifier */ 0, 1],
  },
  {
    name: '[MQTT-3.4.2-1 v5] 5.0 PUBACK with a reason code and no Property Length',
    version: 5,
    packet: { type: 'puback', packetId: 1, reasonCode: ReasonCode.NoMatchingSubscribers },
    bytes: [0x40, 3, /* packet identifier */ 0, 1, /* reason code */ 0x10],
  },
  {
    name: '[MQTT-3.5.2-1 v5] 5.0 PUBREC with reason code and properties',
    version: 5,
    packet: {
      type: 'pubrec',
      packetId: 2,
      reasonCode: ReasonCode.UnspecifiedError,
      properties: { reasonString: 'full', userProperties: [['a', 'b']] },
    },
    bytes: [
      0x50, 18, // PUBREC, remaining length
      0, 2, // packet identifier
      0x80, // reason code
      14, // property length
      0x1f, 0, 4, ...ascii('full'), // reason string
      0x26, 0, 1, ...ascii('a'), 0, 1, ...ascii('b'), // user property
    ],
  },
  {
    name: '[MQTT-3.6.1-1 v5] 5.0 PUBREL short form',
    version: 5,
    packet: { type: 'pubrel', packetId: 3, reasonCode: 0 },
    bytes: [0x62, 2, /* packet identifier */ 0, 3],
  },
  {
    name: '[MQTT-3.6.2-1 v5] 5.0 PUBREL Packet Identifier not found',
    version: 5,
    packet: { type: 'pubrel', packetId: 3, reasonCode: ReasonCode.PacketIdentifierNotFound },
    bytes: [0x62, 3, /* packet identifier */ 0, 3, /* reason code */ 0x92],
  },
  {
    name: '(5.0 §3.7) 5.0 PUBCOMP short form',
    version: 5,
    packet: { type: 'pubcomp', packetId: 4, reasonCode: 0 },
    bytes: [0x70, 2, /* packet identifier */ 0, 4],
  },
  {
    name: '[MQTT-3.7.2-1 v5] 5.0 PUBCOMP with reason code and reason string',
    version: 5,
    packet: { type: 'pubcomp', packetId: 4, reasonCode: 0x92, properties: { reasonString: 'no' } },
    bytes: [
      0x70, 9, // PUBCOMP, remaining length
      0, 4, // packet identifier
      0x92, // reason code
      5, // property length
      0x1f, 0, 2, ...ascii('no'), // reason string
    ],
  },
  {
    name: '[MQTT-3.8.3-1 v5] 5.0 SUBSCRIBE with a subscription identifier and every option',
    version: 5,
    packet: {
      type: 'subscribe',
      packetId: 5,
      properties: { subscriptionIdentifiers: [150], userProperties: [['a', 'b']] },
      subscriptions: [
        { topicFilter: 'a/+', qos: 1, noLocal: true, retainAsPublished: true, retainHandling: 1 },
        { topicFilter: '#', qos: 2, noLocal: false, retainAsPublished: false, retainHandling: 2 },
      ],
    },
    bytes: [
      0x82, 23, // SUBSCRIBE (flags 0010), remaining length
      0, 5, // packet identifier
      10, // property length
      0x0b, 0x96, 0x01, // subscription identifier 150
      0x26, 0, 1, ...ascii('a'), 0, 1, ...ascii('b'), // user property
      0, 3, ...ascii('a/+'), // topic filter
      0b0001_1101, // options: retain handling 1, retain as published, no local, QoS 1
      0, 1, ...ascii('#'), // topic filter
      0b0010_0010, // options: retain handling 2, QoS 2
    ],
  },
  {
    name: '[MQTT-3.9.3-2 v5] 5.0 SUBACK with granted and refused codes',
    version: 5,
    packet: {
      type: 'suback',
      packetId: 5,
      reasonCodes: [1, 2, ReasonCode.NotAuthorized, ReasonCode.WildcardSubscriptionsNotSupported],
      properties: { reasonString: 'why' },
    },
    bytes: [
      0x90, 13, // SUBACK, remaining length
      0, 5, // packet identifier
      6, // property length
      0x1f, 0, 3, ...ascii('why'), // reason string
      0x01, 0x02, 0x87, 0xa2, // reason codes
    ],
  },
  {
    name: '[MQTT-3.10.3-1 v5] 5.0 UNSUBSCRIBE with a user property',
    version: 5,
    packet: { type: 'unsubscribe', packetId: 6, topicFilters: ['a/+', '#'], properties: { userProperties: [['k', 'v']] } },
    bytes: [
      0xa2, 18, // UNSUBSCRIBE (flags 0010), remaining length
      0, 6, // packet identifier
      7, // property length
      0x26, 0, 1, ...ascii('k'), 0, 1, ...ascii('v'), // user property
      0, 3, ...ascii('a/+'), // topic filter
      0, 1, ...ascii('#'), // topic filter
    ],
  },
  {
    name: '[MQTT-3.11.3-2 v5] 5.0 UNSUBACK with one code per filter',
    version: 5,
    packet: { type: 'unsuback', packetId: 6, reasonCodes: [0x00, 0x11] },
    bytes: [
      0xb0, 5, // UNSUBACK, remaining length
      0, 6, // packet identifier
      0, // property length
      0x00, 0x11, // reason codes
    ],
  },
  {
    name: '(5.0 §3.12) 5.0 PINGREQ',
    version: 5,
    packet: { type: 'pingreq' },
    bytes: [0xc0, 0],
  },
  {
    name: '(5.0 §3.13) 5.0 PINGRESP',
    version: 5,
    packet: { type: 'pingresp' },
    bytes: [0xd0, 0],
  },
  {
    name: '(5.0 §3.14.2.1) 5.0 DISCONNECT with Remaining Length 0 means Normal disconnection',
    version: 5,
    packet: { type: 'disconnect', reasonCode: 0 },
    bytes: [0xe0, 0],
  },
  {
    name: '[MQTT-3.14.2-1 v5] 5.0 DISCONNECT with a reason code and no Property Length',
    version: 5,
    packet: { type: 'disconnect', reasonCode: ReasonCode.DisconnectWithWill },
    bytes: [0xe0, 1, /* reason code */ 0x04],
  },
  {
    name: '(5.0 §3.14.2.2) 5.0 DISCONNECT with every DISCONNECT property',
    version: 5,
    packet: {
      type: 'disconnect',
      reasonCode: ReasonCode.UseAnotherServer,
      properties: { sessionExpiryInterval: 0, serverReference: 'broker', reasonString: 'move', userProperties: [['a', 'b']] },
    },
    bytes: [
      0xe0, 30, // DISCONNECT, remaining length
      0x9c, // reason code: use another server
      28, // property length
      0x11, 0, 0, 0, 0, // session expiry interval
      0x1c, 0, 6, ...ascii('broker'), // server reference
      0x1f, 0, 4, ...ascii('move'), // reason string
      0x26, 0, 1, ...ascii('a'), 0, 1, ...ascii('b'), // user property
    ],
  },
  {
    name: '(5.0 §3.15.2.1) 5.0 AUTH with Remaining Length 0 means Success',
    version: 5,
    packet: { type: 'auth', reasonCode: 0 },
    bytes: [0xf0, 0],
  },
  {
    name: '[MQTT-3.15.2-1 v5] 5.0 AUTH Continue authentication with every AUTH property',
    version: 5,
    packet: {
      type: 'auth',
      reasonCode: ReasonCode.ContinueAuthentication,
      properties: {
        authenticationMethod: 'SCRAM',
        authenticationData: u8(1, 2),
        reasonString: 'more',
        userProperties: [['a', 'b']],
      },
    },
    bytes: [
      0xf0, 29, // AUTH, remaining length
      0x18, // reason code: continue authentication
      27, // property length
      0x15, 0, 5, ...ascii('SCRAM'), // authentication method
      0x16, 0, 2, 1, 2, // authentication data
      0x1f, 0, 4, ...ascii('more'), // reason string
      0x26, 0, 1, ...ascii('a'), 0, 1, ...ascii('b'), // user property
    ],
  },
];

// ------------------------------------------------------------------------------------------ invalid bytes

const MALFORMED = ReasonCode.MalformedPacket;
const PROTOCOL_ERROR = ReasonCode.ProtocolError;

/** A 5.0 CONNECT with client id "c" and the given CONNECT property bytes. */
function connectV5WithProperties(props: number[]): number[] {
  return [0x10, 10 + 1 + props.length + 3, 0, 4, ...ascii('MQTT'), 5, 0x02, 0, 0, props.length, ...props, 0, 1, 0x63];
}

/** A 5.0 QoS 0 PUBLISH to "t" with the given property bytes and an empty payload. */
function publishV5WithProperties(props: number[]): number[] {
  return [0x30, 3 + 1 + props.length, 0, 1, 0x74, props.length, ...props];
}

/** A 5.0 CONNACK with the given property bytes. */
function connackV5WithProperties(props: number[]): number[] {
  return [0x20, 3 + props.length, 0, 0, props.length, ...props];
}

/** A 5.0 SUBSCRIBE of "t" with the given property bytes and options byte. */
function subscribeV5(props: number[], options = 0x00): number[] {
  return [0x82, 2 + 1 + props.length + 4, 0, 1, props.length, ...props, 0, 1, 0x74, options];
}

export const errorFixtures: ErrorFixture[] = [
  // Fixed header and Remaining Length.
  { name: '(3.1.1 §2.2) an empty buffer is malformed', version: 4, bytes: [], reasonCode: MALFORMED },
  { name: '(3.1.1 §2.2) a lone type byte is malformed', version: 4, bytes: [0xc0], reasonCode: MALFORMED },
  { name: '(3.1.1 §2.2.3) a truncated remaining length is malformed', version: 4, bytes: [0x30, 0x80], reasonCode: MALFORMED },
  {
    name: '(3.1.1 §2.2.3) a five-byte remaining length is malformed',
    version: 4,
    bytes: [0x30, 0xff, 0xff, 0xff, 0xff, 0x7f],
    reasonCode: MALFORMED,
  },
  { name: '[MQTT-1.5.5-1 v5] a non-minimal remaining length is malformed', version: 5, bytes: [0xc0, 0x80, 0x00], reasonCode: MALFORMED },
  {
    name: '(3.1.1 §2.2.3) remaining length larger than the bytes present is malformed',
    version: 4,
    bytes: [0x30, 10, 0, 1, 0x74, 1, 2],
    reasonCode: MALFORMED,
  },
  {
    name: '(3.1.1 §2.2.3) remaining length smaller than the bytes present is malformed',
    version: 4,
    bytes: [0x40, 2, 0, 1, 0xff],
    reasonCode: MALFORMED,
  },
  { name: '(3.1.1 §2.2.1) packet type 0 is reserved', version: 4, bytes: [0x00, 0], reasonCode: MALFORMED },
  { name: '(3.1.1 §2.2.1) packet type 15 is reserved in 3.1.1', version: 4, bytes: [0xf0, 0], reasonCode: MALFORMED },
  { name: '(5.0 §2.1.2) packet type 0 is reserved in 5.0', version: 5, bytes: [0x00, 0], reasonCode: MALFORMED },

  // Reserved fixed-header flags.
  { name: '[MQTT-2.2.2-1] PUBACK with flags 0001 is malformed', version: 4, bytes: [0x41, 2, 0, 1], reasonCode: MALFORMED },
  { name: '[MQTT-2.2.2-1] CONNACK with flags 1000 is malformed', version: 4, bytes: [0x28, 2, 0, 0], reasonCode: MALFORMED },
  { name: '[MQTT-2.1.3-1 v5] PINGREQ with flags 0001 is malformed', version: 5, bytes: [0xc1, 0], reasonCode: MALFORMED },
  { name: '[MQTT-2.1.3-1 v5] PINGRESP with flags 0010 is malformed', version: 5, bytes: [0xd2, 0], reasonCode: MALFORMED },
  { name: '[MQTT-2.1.3-1 v5] SUBACK with flags 0010 is malformed', version: 5, bytes: [0x92, 4, 0, 1, 0, 0], reasonCode: MALFORMED },
  { name: '[MQTT-2.1.3-1 v5] UNSUBACK with flags 0010 is malformed', version: 5, bytes: [0xb2, 3, 0, 1, 0], reasonCode: MALFORMED },
  { name: '[MQTT-2.1.3-1 v5] CONNECT with flags 0010 is malformed', version: 5, bytes: [0x12, 0], reasonCode: MALFORMED },
  { name: '[MQTT-2.2.2-1] PUBREC with flags 0010 is malformed', version: 4, bytes: [0x52, 2, 0, 1], reasonCode: MALFORMED },
  { name: '[MQTT-2.2.2-1] PUBCOMP with flags 0010 is malformed', version: 4, bytes: [0x72, 2, 0, 1], reasonCode: MALFORMED },
  { name: '[MQTT-3.6.1-1] PUBREL with flags 0000 is malformed', version: 4, bytes: [0x60, 2, 0, 1], reasonCode: MALFORMED },
  { name: '[MQTT-3.6.1-1 v5] PUBREL with flags 0011 is malformed', version: 5, bytes: [0x63, 2, 0, 1], reasonCode: MALFORMED },
  {
    name: '[MQTT-3.8.1-1] SUBSCRIBE with flags 0000 is malformed',
    version: 4,
    bytes: [0x80, 6, 0, 1, 0, 1, 0x74, 0],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.8.1-1 v5] SUBSCRIBE with flags 0011 is malformed',
    version: 5,
    bytes: [0x83, 7, 0, 1, 0, 0, 1, 0x74, 0],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.10.1-1] UNSUBSCRIBE with flags 0000 is malformed',
    version: 4,
    bytes: [0xa0, 5, 0, 1, 0, 1, 0x74],
    reasonCode: MALFORMED,
  },
  { name: '[MQTT-3.14.1-1] DISCONNECT with flags 0001 is malformed', version: 4, bytes: [0xe1, 0], reasonCode: MALFORMED },
  { name: '[MQTT-3.14.1-1 v5] DISCONNECT with flags 1000 is malformed', version: 5, bytes: [0xe8, 0], reasonCode: MALFORMED },
  { name: '[MQTT-3.15.1-1 v5] AUTH with flags 0001 is malformed', version: 5, bytes: [0xf1, 0], reasonCode: MALFORMED },

  // Bytes the packet has no room for.
  { name: '(3.1.1 §3.12) PINGREQ with a byte after the fixed header is malformed', version: 4, bytes: [0xc0, 1, 0], reasonCode: MALFORMED },
  { name: '(3.1.1 §3.4) 3.1.1 PUBACK with a reason code byte is malformed', version: 4, bytes: [0x40, 3, 0, 1, 0], reasonCode: MALFORMED },
  { name: '(3.1.1 §3.2) 3.1.1 CONNACK with a property length is malformed', version: 4, bytes: [0x20, 3, 0, 0, 0], reasonCode: MALFORMED },
  { name: '(3.1.1 §3.14) 3.1.1 DISCONNECT with a reason code is malformed', version: 4, bytes: [0xe0, 1, 0], reasonCode: MALFORMED },
  { name: '(3.1.1 §3.11) 3.1.1 UNSUBACK with reason codes is malformed', version: 4, bytes: [0xb0, 3, 0, 1, 0], reasonCode: MALFORMED },
  {
    name: '[MQTT-3.1.4-1] CONNECT with bytes after the payload is malformed',
    version: 4,
    bytes: [0x10, 13, 0, 4, ...ascii('MQTT'), 4, 0x02, 0, 0, 0, 0, 0xff],
    reasonCode: MALFORMED,
  },
  { name: '(5.0 §3.12) 5.0 PINGRESP with a byte after the fixed header is malformed', version: 5, bytes: [0xd0, 1, 0], reasonCode: MALFORMED },

  // Truncated fields.
  { name: '(3.1.1 §3.4) PUBACK without its packet identifier is malformed', version: 4, bytes: [0x40, 1, 0], reasonCode: MALFORMED },
  {
    name: '[MQTT-3.3.2-1] PUBLISH whose topic length runs past the packet is malformed',
    version: 4,
    bytes: [0x30, 4, 0, 9, 0x74, 0x74],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.1.2-21] CONNECT with the Password Flag but no password is malformed',
    version: 4,
    bytes: [0x10, 15, 0, 4, ...ascii('MQTT'), 4, 0xc2, 0, 0, 0, 0, 0, 1, 0x75],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.1.2-9 v5] CONNECT with the Will Flag but no will fields is malformed',
    version: 5,
    bytes: [0x10, 13, 0, 4, ...ascii('MQTT'), 5, 0x06, 0, 0, 0, 0, 0],
    reasonCode: MALFORMED,
  },
  {
    name: '(5.0 §2.2.2.1) a property length past the end of the packet is malformed',
    version: 5,
    bytes: [0x30, 5, 0, 1, 0x74, 9, 0x01],
    reasonCode: MALFORMED,
  },
  {
    name: '(5.0 §2.2.2.2) a property value running past the property length is malformed',
    version: 5,
    bytes: [0x30, 9, 0, 1, 0x74, 2, 0x02, 0, 0, 0, 1],
    reasonCode: MALFORMED,
  },

  // PUBLISH flags and packet identifiers.
  { name: '[MQTT-3.3.1-4] PUBLISH with QoS 3 is malformed', version: 4, bytes: [0x36, 5, 0, 1, 0x74, 0, 1], reasonCode: MALFORMED },
  {
    name: '[MQTT-3.3.1-4 v5] 5.0 PUBLISH with QoS 3 is malformed',
    version: 5,
    bytes: [0x36, 6, 0, 1, 0x74, 0, 1, 0],
    reasonCode: MALFORMED,
  },
  { name: '[MQTT-3.3.1-2] PUBLISH QoS 0 with DUP set is malformed', version: 4, bytes: [0x38, 3, 0, 1, 0x74], reasonCode: MALFORMED },
  { name: '[MQTT-2.3.1-1] PUBLISH QoS 1 with packet identifier 0 is malformed', version: 4, bytes: [0x32, 5, 0, 1, 0x74, 0, 0], reasonCode: MALFORMED },
  {
    name: '[MQTT-2.2.1-3 v5] 5.0 PUBLISH QoS 2 with packet identifier 0 is malformed',
    version: 5,
    bytes: [0x34, 6, 0, 1, 0x74, 0, 0, 0],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-2.3.1-1] SUBSCRIBE with packet identifier 0 is malformed',
    version: 4,
    bytes: [0x82, 6, 0, 0, 0, 1, 0x74, 0],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-2.3.1-1] UNSUBSCRIBE with packet identifier 0 is malformed',
    version: 4,
    bytes: [0xa2, 5, 0, 0, 0, 1, 0x74],
    reasonCode: MALFORMED,
  },
  { name: '[MQTT-2.3.1-6] PUBACK with packet identifier 0 is malformed', version: 4, bytes: [0x40, 2, 0, 0], reasonCode: MALFORMED },
  { name: '[MQTT-2.2.1-5 v5] PUBREL with packet identifier 0 is malformed', version: 5, bytes: [0x62, 2, 0, 0], reasonCode: MALFORMED },
  { name: '[MQTT-2.3.1-7] SUBACK with packet identifier 0 is malformed', version: 4, bytes: [0x90, 3, 0, 0, 0], reasonCode: MALFORMED },

  // UTF-8 strings.
  {
    name: '[MQTT-1.5.3-1] a topic with invalid UTF-8 is malformed',
    version: 4,
    bytes: [0x30, 4, 0, 2, 0xc3, 0x28],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-1.5.3-1] a topic with an encoded surrogate U+D800 is malformed',
    version: 4,
    bytes: [0x30, 5, 0, 3, 0xed, 0xa0, 0x80],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-1.5.3-1] a client id with an overlong encoding is malformed',
    version: 4,
    bytes: [0x10, 14, 0, 4, ...ascii('MQTT'), 4, 0x02, 0, 0, 0, 2, 0xc0, 0xaf],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-1.5.3-2] a topic containing U+0000 is malformed',
    version: 4,
    bytes: [0x30, 5, 0, 3, 0x61, 0x00, 0x62],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-1.5.4-2 v5] a 5.0 client id containing U+0000 is malformed',
    version: 5,
    bytes: [0x10, 14, 0, 4, ...ascii('MQTT'), 5, 0x02, 0, 0, 0, 0, 1, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-1.5.7-1 v5] a user property name with an encoded surrogate is malformed',
    version: 5,
    bytes: publishV5WithProperties([0x26, 0, 3, 0xed, 0xbf, 0xbf, 0, 0]),
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.8.3-1] a topic filter with invalid UTF-8 is malformed',
    version: 4,
    bytes: [0x82, 6, 0, 1, 0, 1, 0xff, 0],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.10.3-1 v5] an UNSUBSCRIBE filter with a truncated sequence is malformed',
    version: 5,
    bytes: [0xa2, 6, 0, 1, 0, 0, 1, 0xe2],
    reasonCode: MALFORMED,
  },

  // CONNECT.
  {
    name: '[MQTT-3.1.2-3] CONNECT reserved flag set is malformed',
    version: 4,
    bytes: [0x10, 12, 0, 4, ...ascii('MQTT'), 4, 0x03, 0, 0, 0, 0],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.1.2-3 v5] 5.0 CONNECT reserved flag set is malformed',
    version: 5,
    bytes: [0x10, 13, 0, 4, ...ascii('MQTT'), 5, 0x01, 0, 0, 0, 0, 0],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.1.2-11] CONNECT without will but with will QoS is malformed',
    version: 4,
    bytes: [0x10, 12, 0, 4, ...ascii('MQTT'), 4, 0x0a, 0, 0, 0, 0],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.1.2-13] CONNECT without will but with will QoS 2 is malformed',
    version: 4,
    bytes: [0x10, 12, 0, 4, ...ascii('MQTT'), 4, 0x12, 0, 0, 0, 0],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.1.2-15] CONNECT without will but with will retain is malformed',
    version: 4,
    bytes: [0x10, 12, 0, 4, ...ascii('MQTT'), 4, 0x22, 0, 0, 0, 0],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.1.2-14] CONNECT with will QoS 3 is malformed',
    version: 4,
    bytes: [0x10, 19, 0, 4, ...ascii('MQTT'), 4, 0x1e, 0, 0, 0, 0, 0, 1, 0x74, 0, 2, 0x68, 0x69],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.1.2-11 v5] 5.0 CONNECT without will but with will QoS is malformed',
    version: 5,
    bytes: [0x10, 13, 0, 4, ...ascii('MQTT'), 5, 0x0a, 0, 0, 0, 0, 0],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.1.2-12 v5] 5.0 CONNECT with will QoS 3 is malformed',
    version: 5,
    bytes: [0x10, 21, 0, 4, ...ascii('MQTT'), 5, 0x1e, 0, 0, 0, 0, 0, 0, 0, 1, 0x74, 0, 2, 0x68, 0x69],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.1.2-13 v5] 5.0 CONNECT without will but with will retain is malformed',
    version: 5,
    bytes: [0x10, 13, 0, 4, ...ascii('MQTT'), 5, 0x22, 0, 0, 0, 0, 0],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.1.2-22] 3.1.1 CONNECT with a password but no user name is malformed',
    version: 4,
    bytes: [0x10, 15, 0, 4, ...ascii('MQTT'), 4, 0x42, 0, 0, 0, 0, 0, 1, 0x70],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.1.2-2] CONNECT with protocol level 6 is an unsupported protocol version',
    version: 4,
    bytes: [0x10, 12, 0, 4, ...ascii('MQTT'), 6, 0x02, 0, 0, 0, 0],
    reasonCode: ReasonCode.UnsupportedProtocolVersion,
  },
  {
    name: '[MQTT-3.1.2-2 v5] CONNECT with protocol level 3 under the name "MQTT" is an unsupported protocol version',
    version: 5,
    bytes: [0x10, 12, 0, 4, ...ascii('MQTT'), 3, 0x02, 0, 0, 0, 0],
    reasonCode: ReasonCode.UnsupportedProtocolVersion,
  },
  {
    name: '[MQTT-3.1.2-1] CONNECT with protocol name "MQTX" is an unsupported protocol version',
    version: 4,
    bytes: [0x10, 12, 0, 4, ...ascii('MQTX'), 4, 0x02, 0, 0, 0, 0],
    reasonCode: ReasonCode.UnsupportedProtocolVersion,
  },
  {
    name: '[MQTT-3.1.2-1] CONNECT "MQIsdp" with level 4 is an unsupported protocol version',
    version: 4,
    bytes: [0x10, 14, 0, 6, ...ascii('MQIsdp'), 4, 0x02, 0, 0, 0, 0],
    reasonCode: ReasonCode.UnsupportedProtocolVersion,
  },
  {
    name: '(5.0 §3.1.2.11.10) CONNECT Authentication Data without Authentication Method is a protocol error',
    version: 5,
    bytes: connectV5WithProperties([0x16, 0, 1, 9]),
    reasonCode: PROTOCOL_ERROR,
  },

  // CONNACK.
  { name: '[MQTT-3.2.2-1 v5] CONNACK with reserved acknowledge flags is malformed', version: 5, bytes: [0x20, 3, 0x02, 0, 0], reasonCode: MALFORMED },
  { name: '(3.1.1 §3.2.2.1) 3.1.1 CONNACK with reserved acknowledge flags is malformed', version: 4, bytes: [0x20, 2, 0x80, 0], reasonCode: MALFORMED },
  { name: '(3.1.1 §3.2.2.3) 3.1.1 CONNACK return code 6 is reserved', version: 4, bytes: [0x20, 2, 0, 6], reasonCode: PROTOCOL_ERROR },
  { name: '[MQTT-3.2.2-8 v5] CONNACK reason code 0x01 is not a Connect Reason Code', version: 5, bytes: [0x20, 3, 0, 0x01, 0], reasonCode: PROTOCOL_ERROR },
  { name: '(5.0 §3.2.2.3) 5.0 CONNACK without a Property Length is malformed', version: 5, bytes: [0x20, 2, 0, 0], reasonCode: MALFORMED },

  // SUBSCRIBE / UNSUBSCRIBE payloads.
  { name: '[MQTT-3.8.3-3] SUBSCRIBE with no filters is malformed', version: 4, bytes: [0x82, 2, 0, 1], reasonCode: MALFORMED },
  { name: '[MQTT-3-8.3-4] SUBSCRIBE requesting QoS 3 is malformed', version: 4, bytes: [0x82, 6, 0, 1, 0, 1, 0x74, 3], reasonCode: MALFORMED },
  {
    name: '[MQTT-3-8.3-4] 3.1.1 SUBSCRIBE with reserved option bits set is malformed',
    version: 4,
    bytes: [0x82, 6, 0, 1, 0, 1, 0x74, 0x04],
    reasonCode: MALFORMED,
  },
  { name: '[MQTT-3.8.3-5 v5] 5.0 SUBSCRIBE with reserved option bits set is malformed', version: 5, bytes: subscribeV5([], 0x40), reasonCode: MALFORMED },
  { name: '[MQTT-3.8.3-2 v5] 5.0 SUBSCRIBE with no filters is a protocol error', version: 5, bytes: [0x82, 3, 0, 1, 0], reasonCode: PROTOCOL_ERROR },
  { name: '(5.0 §3.8.3.1) 5.0 SUBSCRIBE Maximum QoS 3 is a protocol error', version: 5, bytes: subscribeV5([], 0x03), reasonCode: PROTOCOL_ERROR },
  { name: '(5.0 §3.8.3.1) 5.0 SUBSCRIBE Retain Handling 3 is a protocol error', version: 5, bytes: subscribeV5([], 0x30), reasonCode: PROTOCOL_ERROR },
  { name: '[MQTT-3.10.3-2] UNSUBSCRIBE with no filters is malformed', version: 4, bytes: [0xa2, 2, 0, 1], reasonCode: MALFORMED },
  { name: '[MQTT-3.10.3-2 v5] 5.0 UNSUBSCRIBE with no filters is a protocol error', version: 5, bytes: [0xa2, 3, 0, 1, 0], reasonCode: PROTOCOL_ERROR },

  // 5.0 properties: identifiers valid for the packet type (section 2.2.2.2).
  {
    name: '(5.0 §2.2.2.2) Topic Alias on CONNECT is malformed',
    version: 5,
    bytes: connectV5WithProperties([0x23, 0, 1]),
    reasonCode: MALFORMED,
  },
  {
    name: '(5.0 §2.2.2.2) Will Delay Interval among CONNECT properties is malformed',
    version: 5,
    bytes: connectV5WithProperties([0x18, 0, 0, 0, 1]),
    reasonCode: MALFORMED,
  },
  {
    name: '(5.0 §2.2.2.2) Session Expiry Interval on PUBLISH is malformed',
    version: 5,
    bytes: publishV5WithProperties([0x11, 0, 0, 0, 1]),
    reasonCode: MALFORMED,
  },
  {
    name: '(5.0 §2.2.2.2) Reason String on PUBLISH is malformed',
    version: 5,
    bytes: publishV5WithProperties([0x1f, 0, 1, 0x61]),
    reasonCode: MALFORMED,
  },
  {
    name: '(5.0 §2.2.2.2) Topic Alias on PUBACK is malformed',
    version: 5,
    bytes: [0x40, 7, 0, 1, 0, 3, 0x23, 0, 1],
    reasonCode: MALFORMED,
  },
  {
    name: '(5.0 §2.2.2.2) an unknown property identifier 0x7f is malformed',
    version: 5,
    bytes: publishV5WithProperties([0x7f, 0]),
    reasonCode: MALFORMED,
  },
  {
    name: '(5.0 §2.2.2.2) a multi-byte property identifier is malformed',
    version: 5,
    bytes: publishV5WithProperties([0x81, 0x01, 0]),
    reasonCode: MALFORMED,
  },

  // 5.0 properties: single-valued properties given twice.
  {
    name: '(5.0 §3.1.2.11.2) Session Expiry Interval twice on CONNECT is a protocol error',
    version: 5,
    bytes: connectV5WithProperties([0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2]),
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '(5.0 §3.3.2.3.4) Topic Alias twice on PUBLISH is a protocol error',
    version: 5,
    bytes: publishV5WithProperties([0x23, 0, 1, 0x23, 0, 2]),
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '(5.0 §3.8.2.1.2) Subscription Identifier twice on SUBSCRIBE is a protocol error',
    version: 5,
    bytes: subscribeV5([0x0b, 1, 0x0b, 2]),
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '(5.0 §3.4.2.2.2) Reason String twice on PUBACK is a protocol error',
    version: 5,
    bytes: [0x40, 12, 0, 1, 0, 8, 0x1f, 0, 1, 0x61, 0x1f, 0, 1, 0x62],
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '(5.0 §3.1.3.2.2) Will Delay Interval twice in Will properties is a protocol error',
    version: 5,
    bytes: [0x10, 29, 0, 4, ...ascii('MQTT'), 5, 0x06, 0, 0, 0, 0, 0, 10, 0x18, 0, 0, 0, 1, 0x18, 0, 0, 0, 2, 0, 1, 0x74, 0, 0],
    reasonCode: PROTOCOL_ERROR,
  },

  // 5.0 properties: values out of range.
  { name: '(5.0 §3.1.2.11.3) Receive Maximum 0 is a protocol error', version: 5, bytes: connectV5WithProperties([0x21, 0, 0]), reasonCode: PROTOCOL_ERROR },
  {
    name: '(5.0 §3.1.2.11.4) Maximum Packet Size 0 is a protocol error',
    version: 5,
    bytes: connectV5WithProperties([0x27, 0, 0, 0, 0]),
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '(5.0 §3.1.2.11.6) Request Response Information 2 is a protocol error',
    version: 5,
    bytes: connectV5WithProperties([0x19, 2]),
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '(5.0 §3.1.2.11.7) Request Problem Information 2 is a protocol error',
    version: 5,
    bytes: connectV5WithProperties([0x17, 2]),
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '(5.0 §3.3.2.3.2) Payload Format Indicator 2 is a protocol error',
    version: 5,
    bytes: publishV5WithProperties([0x01, 2]),
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '(5.0 §3.3.2.3.8) Subscription Identifier 0 on PUBLISH is a protocol error',
    version: 5,
    bytes: publishV5WithProperties([0x0b, 0]),
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '(5.0 §3.8.2.1.2) Subscription Identifier 0 on SUBSCRIBE is a protocol error',
    version: 5,
    bytes: subscribeV5([0x0b, 0]),
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '[MQTT-3.3.2-8 v5] Topic Alias 0 is Topic Alias invalid',
    version: 5,
    bytes: publishV5WithProperties([0x23, 0, 0]),
    reasonCode: ReasonCode.TopicAliasInvalid,
  },
  { name: '(5.0 §3.2.2.3.4) Maximum QoS 2 is a protocol error', version: 5, bytes: connackV5WithProperties([0x24, 2]), reasonCode: PROTOCOL_ERROR },
  { name: '(5.0 §3.2.2.3.5) Retain Available 2 is a protocol error', version: 5, bytes: connackV5WithProperties([0x25, 2]), reasonCode: PROTOCOL_ERROR },
  {
    name: '(5.0 §3.2.2.3.11) Wildcard Subscription Available 2 is a protocol error',
    version: 5,
    bytes: connackV5WithProperties([0x28, 2]),
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '(5.0 §3.2.2.3.12) Subscription Identifier Available 2 is a protocol error',
    version: 5,
    bytes: connackV5WithProperties([0x29, 2]),
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '(5.0 §3.2.2.3.13) Shared Subscription Available 2 is a protocol error',
    version: 5,
    bytes: connackV5WithProperties([0x2a, 2]),
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '(5.0 §3.2.2.3.3) Receive Maximum 0 on CONNACK is a protocol error',
    version: 5,
    bytes: connackV5WithProperties([0x21, 0, 0]),
    reasonCode: PROTOCOL_ERROR,
  },

  // 5.0 reason codes each packet type may carry.
  { name: '[MQTT-3.4.2-1 v5] PUBACK reason code 0x92 is not a PUBACK reason code', version: 5, bytes: [0x40, 3, 0, 1, 0x92], reasonCode: PROTOCOL_ERROR },
  { name: '[MQTT-3.5.2-1 v5] PUBREC reason code 0x05 is not a PUBREC reason code', version: 5, bytes: [0x50, 3, 0, 1, 0x05], reasonCode: PROTOCOL_ERROR },
  { name: '[MQTT-3.6.2-1 v5] PUBREL reason code 0x10 is not a PUBREL reason code', version: 5, bytes: [0x62, 3, 0, 1, 0x10], reasonCode: PROTOCOL_ERROR },
  { name: '[MQTT-3.7.2-1 v5] PUBCOMP reason code 0x80 is not a PUBCOMP reason code', version: 5, bytes: [0x70, 3, 0, 1, 0x80], reasonCode: PROTOCOL_ERROR },
  { name: '[MQTT-3.9.3-2 v5] SUBACK reason code 0x03 is not a Subscribe Reason Code', version: 5, bytes: [0x90, 4, 0, 1, 0, 0x03], reasonCode: PROTOCOL_ERROR },
  { name: '[MQTT-3.9.3-2] 3.1.1 SUBACK return code 0x03 is reserved', version: 4, bytes: [0x90, 3, 0, 1, 0x03], reasonCode: PROTOCOL_ERROR },
  { name: '[MQTT-3.11.3-2 v5] UNSUBACK reason code 0x02 is not an Unsubscribe Reason Code', version: 5, bytes: [0xb0, 4, 0, 1, 0, 0x02], reasonCode: PROTOCOL_ERROR },
  { name: '[MQTT-3.14.2-1 v5] DISCONNECT reason code 0x01 is not a Disconnect Reason Code', version: 5, bytes: [0xe0, 1, 0x01], reasonCode: PROTOCOL_ERROR },
  { name: '[MQTT-3.15.2-1 v5] AUTH reason code 0x01 is not an Authenticate Reason Code', version: 5, bytes: [0xf0, 1, 0x01], reasonCode: PROTOCOL_ERROR },
];
