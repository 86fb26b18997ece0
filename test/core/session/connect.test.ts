// decideConnect (client id, will topic, keepalive, read as steps) and the keepalive deadline.
import { describe, expect, it } from 'vitest';
import type { ConnectPacket, Will } from '../../../core/codec/packets.js';
import { ReasonCode } from '../../../core/reason-codes.js';
import { decideConnect, keepAliveDeadlineMs, type ConnectLimits } from '../../../core/session/connect.js';

const NO_CEILING: ConnectLimits = { maximumKeepAlive: 0 };
const CEILING_60: ConnectLimits = { maximumKeepAlive: 60 };

function connect(overrides: Partial<ConnectPacket> = {}): ConnectPacket {
  return {
    type: 'connect',
    protocolName: 'MQTT',
    protocolVersion: 4,
    cleanSession: true,
    keepAlive: 30,
    clientId: 'client-1',
    ...overrides,
  };
}

function will(topic: string): Will {
  return { topic, payload: new Uint8Array([1, 2]), qos: 1, retain: false };
}

/** An id generator that records how often the server asked for one. */
function idSource(id = 'assigned-1'): { next: () => string; calls: () => number } {
  let calls = 0;
  return {
    next: () => {
      calls++;
      return id;
    },
    calls: () => calls,
  };
}

const failIfCalled = (): string => {
  throw new Error('newClientId must not be called');
};

describe('decideConnect: client identifier', () => {
  it('accepts a client-supplied id as is and never asks for a new one', () => {
    expect(decideConnect(connect({ clientId: 'sensor/42' }), NO_CEILING, failIfCalled)).toStrictEqual({
      ok: true,
      clientId: 'sensor/42',
      clientIdAssigned: false,
      keepAlive: 30,
    });
  });

  it.each([3, 4] as const)(
    '[MQTT-3.1.3-8] zero-length client id without clean session is refused with 0x02 (protocol level %i)',
    (protocolVersion) => {
      const ids = idSource();
      const decision = decideConnect(connect({ protocolVersion, clientId: '', cleanSession: false }), NO_CEILING, ids.next);
      expect(decision).toMatchObject({ ok: false, reasonCode: ReasonCode.ClientIdentifierNotValid });
      expect(ids.calls()).toBe(0);
    },
  );

  it('[MQTT-3.1.3-6] [MQTT-3.1.3-7] zero-length client id with clean session is assigned a server id', () => {
    const ids = idSource('srv-7f3a');
    const decision = decideConnect(connect({ clientId: '', cleanSession: true }), NO_CEILING, ids.next);
    expect(decision).toStrictEqual({ ok: true, clientId: 'srv-7f3a', clientIdAssigned: true, keepAlive: 30 });
    expect(ids.calls()).toBe(1);
  });

  it.each([true, false])(
    '[MQTT-3.1.3-6 v5] [MQTT-3.1.3-7 v5] zero-length client id is assigned a server id (clean start %s)',
    (cleanSession) => {
      const ids = idSource('srv-v5');
      const decision = decideConnect(connect({ protocolVersion: 5, clientId: '', cleanSession }), NO_CEILING, ids.next);
      expect(decision).toStrictEqual({ ok: true, clientId: 'srv-v5', clientIdAssigned: true, keepAlive: 30 });
      expect(ids.calls()).toBe(1);
    },
  );

  it.each([4, 5] as const)('(§1.5.3) a client id of 65535 code units is accepted (protocol level %i)', (protocolVersion) => {
    const clientId = 'x'.repeat(65535);
    const decision = decideConnect(connect({ protocolVersion, clientId }), NO_CEILING, failIfCalled);
    expect(decision).toMatchObject({ ok: true, clientId, clientIdAssigned: false });
  });

  it.each([4, 5] as const)('(§1.5.3) a client id longer than 65535 is refused with 0x85 (protocol level %i)', (protocolVersion) => {
    const decision = decideConnect(connect({ protocolVersion, clientId: 'x'.repeat(65536) }), NO_CEILING, failIfCalled);
    expect(decision).toMatchObject({ ok: false, reasonCode: ReasonCode.ClientIdentifierNotValid });
  });

  it('(§1.5.3) an assigned id longer than 65535 is refused too', () => {
    const decision = decideConnect(connect({ clientId: '' }), NO_CEILING, () => 'y'.repeat(65536));
    expect(decision).toMatchObject({ ok: false, reasonCode: ReasonCode.ClientIdentifierNotValid });
  });
});

describe('decideConnect: MQTT 3.1', () => {
  it('(3.1 §3.1 client identifier) an empty client id is refused with 0x02 even with clean session', () => {
    const decision = decideConnect(connect({ protocolVersion: 3, clientId: '', cleanSession: true }), NO_CEILING, failIfCalled);
    expect(decision).toMatchObject({ ok: false, reasonCode: ReasonCode.ClientIdentifierNotValid });
  });
});

describe('decideConnect: will topic', () => {
  // [3.1.1 id, 5.0 id, will topic]
  const invalidWillTopics: ReadonlyArray<readonly [v4: string, v5: string, topic: string]> = [
    ['[MQTT-4.7.3-1]', '[MQTT-4.7.3-1 v5]', ''],
    ['[MQTT-3.3.2-2]', '[MQTT-3.3.2-2 v5]', '#'],
    ['[MQTT-3.3.2-2]', '[MQTT-3.3.2-2 v5]', 'a/+/b'],
    ['[MQTT-3.3.2-2]', '[MQTT-3.3.2-2 v5]', 'a/#'],
    ['[MQTT-4.7.3-2]', '[MQTT-4.7.3-2 v5]', 'a\u0000b'],
    ['[MQTT-1.5.3-1]', '[MQTT-1.5.4-1 v5]', 'a/\ud800'],
  ];

  it.each(invalidWillTopics.map(([v4, , topic]) => [v4, topic] as const))(
    '%s a will topic %j is a protocol violation in 3.1.1 (closed without CONNACK)',
    (_spec, topic) => {
      const decision = decideConnect(connect({ will: will(topic) }), NO_CEILING, failIfCalled);
      expect(decision).toMatchObject({ ok: false, reasonCode: ReasonCode.ProtocolError });
    },
  );

  it.each(invalidWillTopics.map(([, v5, topic]) => [v5, topic] as const))(
    '%s a will topic %j is refused with 0x90 Topic Name invalid',
    (_spec, topic) => {
      const decision = decideConnect(connect({ protocolVersion: 5, will: will(topic) }), NO_CEILING, failIfCalled);
      expect(decision).toMatchObject({ ok: false, reasonCode: ReasonCode.TopicNameInvalid });
    },
  );

  it.each([4, 5] as const)('a valid will topic is accepted (protocol level %i)', (protocolVersion) => {
    const decision = decideConnect(connect({ protocolVersion, will: will('clients/client-1/status') }), NO_CEILING, failIfCalled);
    expect(decision).toMatchObject({ ok: true, clientId: 'client-1' });
  });

  it('checks the client id before the will: both wrong is refused for the id', () => {
    const decision = decideConnect(connect({ clientId: '', cleanSession: false, will: will('#') }), NO_CEILING, failIfCalled);
    expect(decision).toMatchObject({ ok: false, reasonCode: ReasonCode.ClientIdentifierNotValid });
  });
});

describe('decideConnect: keepalive', () => {
  it.each([
    [3, 0],
    [4, 0],
    [4, 30],
    [4, 60],
    [4, 61],
    [4, 65535],
  ] as const)('(3.1.1 §3.1.2.10) protocol level %i keepalive %i is enforced as asked, whatever the ceiling', (protocolVersion, keepAlive) => {
    const decision = decideConnect(connect({ protocolVersion, keepAlive }), CEILING_60, failIfCalled);
    expect(decision).toStrictEqual({ ok: true, clientId: 'client-1', clientIdAssigned: false, keepAlive });
  });

  it.each([
    ['above the ceiling', 61],
    ['far above the ceiling', 65535],
    ['0 (none)', 0],
  ] as const)('[MQTT-3.2.2-21 v5] keepalive %s is replaced by Server Keep Alive = the ceiling', (_label, keepAlive) => {
    const decision = decideConnect(connect({ protocolVersion: 5, keepAlive }), CEILING_60, failIfCalled);
    expect(decision).toStrictEqual({ ok: true, clientId: 'client-1', clientIdAssigned: false, keepAlive: 60, serverKeepAlive: 60 });
  });

  it.each([1, 30, 60])('[MQTT-3.2.2-22 v5] keepalive %i within the ceiling is used as asked, with no Server Keep Alive', (keepAlive) => {
    const decision = decideConnect(connect({ protocolVersion: 5, keepAlive }), CEILING_60, failIfCalled);
    expect(decision).toStrictEqual({ ok: true, clientId: 'client-1', clientIdAssigned: false, keepAlive });
  });

  it.each([0, 30, 65535])('[MQTT-3.2.2-22 v5] with no ceiling configured keepalive %i is used as asked', (keepAlive) => {
    const decision = decideConnect(connect({ protocolVersion: 5, keepAlive }), NO_CEILING, failIfCalled);
    expect(decision).toStrictEqual({ ok: true, clientId: 'client-1', clientIdAssigned: false, keepAlive });
  });

  it('[MQTT-3.2.2-21 v5] an assigned id and a Server Keep Alive come together', () => {
    const decision = decideConnect(connect({ protocolVersion: 5, clientId: '', keepAlive: 0 }), CEILING_60, () => 'srv-1');
    expect(decision).toStrictEqual({ ok: true, clientId: 'srv-1', clientIdAssigned: true, keepAlive: 60, serverKeepAlive: 60 });
  });
});

describe('keepAliveDeadlineMs', () => {
  it.each([
    [1, 1_500],
    [10, 15_000],
    [60, 90_000],
    [65535, 98_302_500],
  ])('[MQTT-3.1.2-24] keepalive %i s closes after one and a half times it: %i ms', (seconds, ms) => {
    expect(keepAliveDeadlineMs(seconds)).toBe(ms);
  });

  it('(3.1.1 §3.1.2.10) keepalive 0 turns the mechanism off: deadline 0', () => {
    expect(keepAliveDeadlineMs(0)).toBe(0);
  });
});
