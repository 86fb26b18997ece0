// Session and delayed-will lifetimes: the Session Expiry Interval (3.1.1 clean session mapped onto it) and the will's time.
import { describe, expect, it } from 'vitest';
import type { ConnectPacket, Properties, ProtocolVersion } from '../../../core/codec/packets.js';
import { NEVER_EXPIRES, sessionExpiresAt, sessionExpiryInterval, willPublishAt } from '../../../core/session/expiry.js';

const NOW = 1_700_000_000_000;

function connect(protocolVersion: ProtocolVersion, cleanSession: boolean, properties?: Properties): ConnectPacket {
  return {
    type: 'connect',
    protocolName: protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
    protocolVersion,
    cleanSession,
    keepAlive: 60,
    clientId: 'c',
    ...(properties ? { properties } : {}),
  };
}

describe('sessionExpiryInterval', () => {
  it('[MQTT-3.1.2-6] a 3.1.1 / 3.1 clean session ends with its connection (0)', () => {
    expect(sessionExpiryInterval(connect(4, true))).toBe(0);
    expect(sessionExpiryInterval(connect(3, true))).toBe(0);
  });

  it('[MQTT-3.1.2-4] a 3.1.1 / 3.1 persistent session never expires', () => {
    expect(sessionExpiryInterval(connect(4, false))).toBe(NEVER_EXPIRES);
    expect(sessionExpiryInterval(connect(3, false))).toBe(NEVER_EXPIRES);
  });

  it('(3.1.1 §3.1.2.4) a 3.1.1 session is governed by Clean Session even if a Session Expiry Interval property rides along', () => {
    expect(sessionExpiryInterval(connect(4, true, { sessionExpiryInterval: 300 }))).toBe(0);
  });

  it.each([
    [true, 0],
    [false, 0],
  ])('(5.0 §3.1.2.11.2) a 5.0 session without the property (Clean Start %s) expires with its connection', (cleanStart, interval) => {
    expect(sessionExpiryInterval(connect(5, cleanStart))).toBe(interval);
    expect(sessionExpiryInterval(connect(5, cleanStart, {}))).toBe(interval);
  });

  it.each([
    [0, true],
    [300, true],
    [300, false],
    [NEVER_EXPIRES, true],
    [NEVER_EXPIRES, false],
  ])('(5.0 §3.1.2.11.2) a 5.0 Session Expiry Interval of %i is taken as is, whatever Clean Start (%s)', (interval, cleanStart) => {
    expect(sessionExpiryInterval(connect(5, cleanStart, { sessionExpiryInterval: interval }))).toBe(interval);
  });
});

describe('sessionExpiresAt', () => {
  it('(5.0 §3.1.2.11.2) 0xFFFFFFFF never expires (null)', () => {
    expect(NEVER_EXPIRES).toBe(0xffffffff);
    expect(sessionExpiresAt(NOW, NEVER_EXPIRES)).toBeNull();
  });

  it.each([
    [0, NOW],
    [1, NOW + 1000],
    [300, NOW + 300_000],
    [NEVER_EXPIRES - 1, NOW + (NEVER_EXPIRES - 1) * 1000],
  ])('(5.0 §3.1.2.11.2) an interval of %i s expires that many seconds from now', (interval, at) => {
    expect(sessionExpiresAt(NOW, interval)).toBe(at);
  });
});

describe('willPublishAt', () => {
  it.each([
    ['the will delay is shorter', 10, 60, NOW + 10_000],
    ['the session ends first', 60, 10, NOW + 10_000],
    ['both are equal', 30, 30, NOW + 30_000],
    ['the session ends with the connection', 60, 0, NOW],
    ['there is no will delay', 0, 60, NOW],
    ['the session never expires', 60, NEVER_EXPIRES, NOW + 60_000],
    ['the session never expires and there is no delay', 0, NEVER_EXPIRES, NOW],
  ])('[MQTT-3.1.3-9 v5] (5.0 §3.1.3.2.2) a will is published after the Will Delay Interval or when the session ends, whichever is first: %s', (_case, willDelay, sessionExpiry, at) => {
    expect(willPublishAt(NOW, willDelay, sessionExpiry)).toBe(at);
  });
});
