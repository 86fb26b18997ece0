// The DISCONNECT the server sends: a Reason String with every code, within the client's Maximum Packet Size.
import { describe, expect, it } from 'vitest';
import { encodePacket } from '../../../core/codec/index.js';
import { ReasonCode } from '../../../core/reason-codes.js';
import { disconnectReasonString, serverDisconnect } from '../../../core/session/server-disconnect.js';
import { SessionHarness, serverDisconnectWith } from './harness.js';

const V5 = { protocolVersion: 5 as const };

/** Every reason code the session and the relay end a 5.0 connection with (grep endConnection, failInFraming). */
const SERVER_CODES = [
  ReasonCode.UnspecifiedError, ReasonCode.MalformedPacket, ReasonCode.ProtocolError, ReasonCode.ServerBusy,
  ReasonCode.KeepAliveTimeout, ReasonCode.SessionTakenOver, ReasonCode.TopicNameInvalid, ReasonCode.ReceiveMaximumExceeded,
  ReasonCode.TopicAliasInvalid, ReasonCode.PacketTooLarge, ReasonCode.MessageRateTooHigh, ReasonCode.AdministrativeAction,
  ReasonCode.PayloadFormatInvalid,
];

describe('serverDisconnect', () => {
  it.each(SERVER_CODES.map((code) => [`0x${code.toString(16)}`, code] as const))('%s has a Reason String, so the DISCONNECT is longer than 2 bytes (clients that read the code only then)', (_, code) => {
    expect(disconnectReasonString(code)).toEqual(expect.any(String));
    const bytes = encodePacket(serverDisconnect(code, undefined, undefined), 5);
    expect(bytes.length).toBeGreaterThan(3);
    expect(bytes[2]).toBe(code);
  });

  it('a Reason String given replaces the code\'s default', () => {
    expect(serverDisconnect(ReasonCode.AdministrativeAction, 'Administrative action: kicked by the admin', undefined)).toStrictEqual({
      type: 'disconnect',
      reasonCode: ReasonCode.AdministrativeAction,
      properties: { reasonString: 'Administrative action: kicked by the admin' },
    });
  });

  it('[MQTT-3.14.2-3 v5] the Reason String is left out when it would make the DISCONNECT larger than the client\'s Maximum Packet Size', () => {
    const full = encodePacket(serverDisconnect(ReasonCode.SessionTakenOver, undefined, undefined), 5).length;
    expect(serverDisconnect(ReasonCode.SessionTakenOver, undefined, full)).toHaveProperty('properties');
    expect(serverDisconnect(ReasonCode.SessionTakenOver, undefined, full - 1)).toStrictEqual({ type: 'disconnect', reasonCode: ReasonCode.SessionTakenOver });
  });
});

describe('a server-initiated DISCONNECT from the session', () => {
  it('[MQTT-3.14.2-3 v5] a take-over of a client with a small Maximum Packet Size: DISCONNECT 0x8E without the Reason String', () => {
    const h = new SessionHarness();
    h.connect('c1', { ...V5, properties: { maximumPacketSize: 3 } });
    h.connect('c2', V5);
    expect(h.sent('c1')).toStrictEqual([{ type: 'disconnect', reasonCode: ReasonCode.SessionTakenOver }]);
  });

  it('[MQTT-3.1.2-29 v5] Request Problem Information 0 still allows the Reason String on a DISCONNECT', () => {
    const h = new SessionHarness();
    h.connect('c1', { ...V5, properties: { requestProblemInformation: 0 } });
    h.connect('c2', V5);
    expect(h.sent('c1')).toStrictEqual([serverDisconnectWith(ReasonCode.SessionTakenOver, 'Session taken over')]);
  });
});
