// connackCodeFor and subackFailureFor: putting a 5.0 reason code on the wire for the client's version.
// (Covers core/reason-codes.ts; it lives here because the codes are the session's CONNACK and SUBACK answers.)
import { describe, expect, it } from 'vitest';
import {
  ConnectReturnCode,
  ReasonCode,
  SUBACK_FAILURE_V3,
  connackCodeFor,
  isFailureCode,
  refusalClosesWithoutConnack,
  subackFailureFor,
} from '../../core/reason-codes.js';

const REFUSALS = [...new Set(Object.values(ReasonCode))].filter((code) => code >= 0x80);

describe('connackCodeFor', () => {
  it.each([
    ['Success', ReasonCode.Success, ConnectReturnCode.Accepted],
    ['Unsupported Protocol Version', ReasonCode.UnsupportedProtocolVersion, ConnectReturnCode.UnacceptableProtocolVersion],
    ['Client Identifier not valid', ReasonCode.ClientIdentifierNotValid, ConnectReturnCode.IdentifierRejected],
    ['Bad User Name or Password', ReasonCode.BadUserNameOrPassword, ConnectReturnCode.BadUserNameOrPassword],
    ['Not authorized', ReasonCode.NotAuthorized, ConnectReturnCode.NotAuthorized],
    ['Banned', ReasonCode.Banned, ConnectReturnCode.NotAuthorized],
    ['Bad authentication method', ReasonCode.BadAuthenticationMethod, ConnectReturnCode.NotAuthorized],
    ['Server unavailable', ReasonCode.ServerUnavailable, ConnectReturnCode.ServerUnavailable],
    ['Server busy', ReasonCode.ServerBusy, ConnectReturnCode.ServerUnavailable],
    ['Unspecified error', ReasonCode.UnspecifiedError, ConnectReturnCode.ServerUnavailable],
    ['Topic Name invalid', ReasonCode.TopicNameInvalid, ConnectReturnCode.ServerUnavailable],
    ['Quota exceeded', ReasonCode.QuotaExceeded, ConnectReturnCode.ServerUnavailable],
    ['Use another server', ReasonCode.UseAnotherServer, ConnectReturnCode.ServerUnavailable],
    ['Connection rate exceeded', ReasonCode.ConnectionRateExceeded, ConnectReturnCode.ServerUnavailable],
  ] as const)('(3.1.1 §3.2.2.3) 5.0 %s is sent to 3.1.1 and 3.1 clients as its nearest return code', (_name, reasonCode, returnCode) => {
    expect(connackCodeFor(reasonCode, 4)).toBe(returnCode);
    expect(connackCodeFor(reasonCode, 3)).toBe(returnCode);
  });

  it('[MQTT-3.1.3-8] the refused empty client id goes out as 0x02 Identifier rejected', () => {
    expect(connackCodeFor(ReasonCode.ClientIdentifierNotValid, 4)).toBe(0x02);
  });

  it('[MQTT-3.1.2-2] an unsupported protocol level goes out as 0x01 to 3.1.1 and as 0x84 to 5.0', () => {
    expect(connackCodeFor(ReasonCode.UnsupportedProtocolVersion, 4)).toBe(0x01);
    expect(connackCodeFor(ReasonCode.UnsupportedProtocolVersion, 5)).toBe(0x84);
  });

  it('(3.1.1 §3.2.2.3) every 5.0 refusal maps to a non-reserved, non-zero 3.1.1 return code (1..5)', () => {
    for (const code of REFUSALS) {
      const returnCode = connackCodeFor(code, 4);
      expect(returnCode, `0x${code.toString(16)}`).toBeGreaterThanOrEqual(1);
      expect(returnCode, `0x${code.toString(16)}`).toBeLessThanOrEqual(5);
    }
  });

  it('(5.0 §3.2.2.2) a 5.0 client gets the reason code unchanged', () => {
    for (const code of [ReasonCode.Success, ...REFUSALS]) expect(connackCodeFor(code, 5)).toBe(code);
  });
});

describe('subackFailureFor', () => {
  it('[MQTT-3.9.3-2] every refusal is 0x80 Failure in 3.1.1', () => {
    for (const code of REFUSALS) {
      expect(subackFailureFor(code, 4)).toBe(SUBACK_FAILURE_V3);
      expect(subackFailureFor(code, 3)).toBe(0x80);
    }
  });

  it.each([
    ReasonCode.UnspecifiedError,
    ReasonCode.ImplementationSpecificError,
    ReasonCode.NotAuthorized,
    ReasonCode.TopicFilterInvalid,
    ReasonCode.PacketIdentifierInUse,
    ReasonCode.QuotaExceeded,
    ReasonCode.SharedSubscriptionsNotSupported,
    ReasonCode.SubscriptionIdentifiersNotSupported,
    ReasonCode.WildcardSubscriptionsNotSupported,
  ].map((code) => [code.toString(16), code] as const))('(5.0 §3.9.3) reason code 0x%s is sent to a 5.0 client unchanged', (_hex, code) => {
    expect(subackFailureFor(code, 5)).toBe(code);
  });
});

describe('isFailureCode', () => {
  it.each([
    ['Success', ReasonCode.Success],
    ['Granted QoS 1', ReasonCode.GrantedQoS1],
    ['Granted QoS 2', ReasonCode.GrantedQoS2],
    ['Disconnect with Will Message', ReasonCode.DisconnectWithWill],
    ['No matching subscribers', ReasonCode.NoMatchingSubscribers],
    ['No subscription existed', ReasonCode.NoSubscriptionExisted],
    ['Continue authentication', ReasonCode.ContinueAuthentication],
    ['Re-authenticate', ReasonCode.ReAuthenticate],
    ['0x7F, the last code below 0x80', 0x7f],
  ] as const)('(5.0 §2.4) %s is not a failure', (_name, code) => {
    expect(isFailureCode(code)).toBe(false);
  });

  it('(5.0 §2.4) every reason code of 0x80 and above is a failure', () => {
    expect(REFUSALS.length).toBeGreaterThan(30);
    for (const code of [...REFUSALS, 0xff]) expect(isFailureCode(code), `0x${code.toString(16)}`).toBe(true);
    for (const code of new Set(Object.values(ReasonCode))) expect(isFailureCode(code), `0x${code.toString(16)}`).toBe(code >= 0x80);
  });
});

describe('refusalClosesWithoutConnack', () => {
  it.each([
    ['Malformed Packet', ReasonCode.MalformedPacket, 4],
    ['Protocol Error', ReasonCode.ProtocolError, 4],
    ['Malformed Packet', ReasonCode.MalformedPacket, 3],
    ['Protocol Error', ReasonCode.ProtocolError, 3],
  ] as const)('[MQTT-4.8.0-1] a 3.1.1 / 3.1 CONNECT refused for %s closes the connection without a CONNACK (level %i)', (_name, code, version) => {
    expect(refusalClosesWithoutConnack(code, version)).toBe(true);
  });

  it('[MQTT-4.8.0-1] every other refusal of a 3.1.1 / 3.1 CONNECT has a return code and gets a CONNACK', () => {
    for (const code of REFUSALS.filter((code) => code !== ReasonCode.MalformedPacket && code !== ReasonCode.ProtocolError)) {
      expect(refusalClosesWithoutConnack(code, 4), `0x${code.toString(16)}`).toBe(false);
      expect(refusalClosesWithoutConnack(code, 3), `0x${code.toString(16)}`).toBe(false);
    }
    expect(refusalClosesWithoutConnack(ReasonCode.Success, 4)).toBe(false);
  });

  it('(5.0 §3.2.2.2) a 5.0 CONNECT is always answered with a CONNACK that carries the reason code', () => {
    for (const code of [ReasonCode.Success, ...REFUSALS]) expect(refusalClosesWithoutConnack(code, 5), `0x${code.toString(16)}`).toBe(false);
  });
});
