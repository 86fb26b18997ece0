// admitPublish: the five rules every client PUBLISH, will and HTTP publish passes, in order; aclIdentity; retainedShare.
import { describe, expect, it } from 'vitest';
import type { Properties } from '../../../core/codec/packets.js';
import { ReasonCode } from '../../../core/reason-codes.js';
import { admitPublish, aclIdentity, retainedShare, type PublishCandidate } from '../../../core/session/admission.js';
import type { ConnectionToken } from '../../../core/tenancy/token.js';
import { token } from './harness.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
/** 0xC3 starts a two-byte sequence that 0x28 does not continue: not UTF-8. */
const NOT_UTF8 = new Uint8Array([0xc3, 0x28]);
const DECLARED_UTF8: Properties = { payloadFormatIndicator: 1 };

function candidate(topic: string, payload: Uint8Array = utf8('x'), properties?: Properties): PublishCandidate {
  return { topic, payload, ...(properties ? { properties } : {}) };
}

/** Admits `message` for client `clientId` with `who` (null = anonymous). */
function admit(message: PublishCandidate, who: ConnectionToken | null, clientId = 'd42') {
  return admitPublish(message, who, aclIdentity(clientId, who));
}

const refused = (reasonCode: number) => ({ ok: false, reasonCode, reason: expect.any(String) });

/** May publish anywhere an ordinary topic goes, with small payloads only. */
const EVERYWHERE = token([{ filter: '#', rights: ['pub'] }], { maxMessageSize: 4 });
/** May publish under its own client id and token id only. */
const OWN = token(
  [
    { filter: 'devices/%c/#', rights: ['pub'] },
    { filter: 'users/%u/out', rights: ['pub'] },
    { filter: 'alerts/+', rights: ['sub'] },
  ],
  {},
  'tok1',
);
/** Allowed nothing, and only a tiny payload: every later rule would refuse too. */
const NOTHING = token([], { maxMessageSize: 0 });

describe('admitPublish rule 1: the topic is a topic name (0x90)', () => {
  it.each([
    ['[MQTT-3.3.2-2]', 'a/+'],
    ['[MQTT-3.3.2-2]', 'a/#'],
    ['[MQTT-3.3.2-2]', '#'],
    ['[MQTT-3.3.2-2]', 'sport/tennis+'],
    ['[MQTT-4.7.3-1]', ''],
    ['[MQTT-4.7.3-2]', 'a/\u0000'],
  ])('%s the topic %j is refused with 0x90 Topic Name invalid, anonymous or not', (_spec, topic) => {
    expect(admit(candidate(topic), null)).toStrictEqual(refused(ReasonCode.TopicNameInvalid));
    expect(admit(candidate(topic), EVERYWHERE)).toStrictEqual(refused(ReasonCode.TopicNameInvalid));
  });

  it('[MQTT-3.3.2-2] an invalid topic is refused as invalid before the payload format, `$`, ACL and size rules', () => {
    const everythingWrong = candidate('$SYS/#', new Uint8Array([0xff, 0xfe]), DECLARED_UTF8);
    expect(admit(everythingWrong, NOTHING)).toStrictEqual(refused(ReasonCode.TopicNameInvalid));
  });
});

describe('admitPublish rule 2: a payload declared UTF-8 is UTF-8 (0x99)', () => {
  it('(5.0 §3.3.2.3.2) Payload Format Indicator 1 with a payload that is not UTF-8 is refused with 0x99', () => {
    expect(admit(candidate('a/b', NOT_UTF8, DECLARED_UTF8), null)).toStrictEqual(refused(ReasonCode.PayloadFormatInvalid));
  });

  it.each([
    ['a UTF-16 surrogate encoded as UTF-8 (CESU)', [0xed, 0xa0, 0x80]],
    ['an overlong "/"', [0xc0, 0xaf]],
    ['a truncated sequence', [0x61, 0xe2, 0x82]],
  ])('(5.0 §3.3.2.3.2) a declared UTF-8 payload with %s is refused with 0x99', (_what, bytes) => {
    expect(admit(candidate('a/b', new Uint8Array(bytes), DECLARED_UTF8), null)).toStrictEqual(refused(ReasonCode.PayloadFormatInvalid));
  });

  it('(5.0 §3.3.2.3.2) well-formed UTF-8, multi-byte and empty, passes when declared', () => {
    expect(admit(candidate('a/b', utf8('größe 21 °C ✓ 😀'), DECLARED_UTF8), null)).toStrictEqual({ ok: true });
    expect(admit(candidate('a/b', new Uint8Array(0), DECLARED_UTF8), null)).toStrictEqual({ ok: true });
  });

  it('(5.0 §3.3.2.3.2) bytes that are not UTF-8 pass when the indicator is 0 or absent', () => {
    expect(admit(candidate('a/b', NOT_UTF8, { payloadFormatIndicator: 0 }), null)).toStrictEqual({ ok: true });
    expect(admit(candidate('a/b', NOT_UTF8), null)).toStrictEqual({ ok: true });
  });

  it('(5.0 §3.3.2.3.2) the payload format is checked before the `$`, ACL and size rules', () => {
    expect(admit(candidate('$SYS/x', NOT_UTF8, DECLARED_UTF8), NOTHING)).toStrictEqual(refused(ReasonCode.PayloadFormatInvalid));
  });
});

describe('admitPublish rule 3: `$` topics are the broker\'s (0x87)', () => {
  it.each(['$SYS/tenant/clients', '$SYS', '$internal/x', '$share/g/a'])('[DESIGN §5] %j is refused with 0x87 for an anonymous client', (topic) => {
    expect(admit(candidate(topic), null)).toStrictEqual(refused(ReasonCode.NotAuthorized));
  });

  it('[DESIGN §5] `$` topics are refused even to a token whose ACL names them with the pub right', () => {
    const sysWriter = token([{ filter: '$SYS/#', rights: ['pub', 'sub'] }, { filter: '#', rights: ['pub'] }]);
    expect(admit(candidate('$SYS/x'), sysWriter)).toStrictEqual(refused(ReasonCode.NotAuthorized));
  });

  it('[DESIGN §5] the `$` rule comes before the size rule: no quota is counted', () => {
    expect(admit(candidate('$SYS/x', utf8('far too long')), EVERYWHERE)).toStrictEqual(refused(ReasonCode.NotAuthorized));
  });

  it('(3.1.1 §4.7.2) only a leading `$` marks a broker topic: inside a topic it is an ordinary character', () => {
    expect(admit(candidate('prices/$usd'), null)).toStrictEqual({ ok: true });
    expect(admit(candidate('a/$SYS'), EVERYWHERE)).toStrictEqual({ ok: true });
  });
});

describe('admitPublish rule 4: the token\'s ACL, with %c and %u (0x87)', () => {
  it.each(['devices/d42/temp', 'devices/d42', 'users/tok1/out'])('[DESIGN §5] %j is allowed: the client id and the token id fill the ACL placeholders', (topic) => {
    expect(admit(candidate(topic), OWN)).toStrictEqual({ ok: true });
  });

  it.each(['devices/d43/temp', 'users/tok2/out', 'users/d42/out', 'alerts/fire', 'other'])('[DESIGN §5] %j is refused with 0x87', (topic) => {
    expect(admit(candidate(topic), OWN)).toStrictEqual(refused(ReasonCode.NotAuthorized));
  });

  it('[DESIGN §5] an entry with the sub right only does not allow publishing', () => {
    expect(admit(candidate('alerts/fire'), token([{ filter: 'alerts/+', rights: ['sub'] }]))).toStrictEqual(refused(ReasonCode.NotAuthorized));
  });

  it('[DESIGN §5] a client id holding `/`, `+` or `#` does not widen a %c entry: the entry does not apply', () => {
    expect(admit(candidate('devices/a/b/x'), OWN, 'a/b')).toStrictEqual(refused(ReasonCode.NotAuthorized));
    expect(admit(candidate('devices/+/x'), OWN, '+')).toStrictEqual(refused(ReasonCode.TopicNameInvalid));
    expect(admit(candidate('devices/x/y'), OWN, '#')).toStrictEqual(refused(ReasonCode.NotAuthorized));
  });

  it('[DESIGN §5] a token with an empty ACL may publish nothing', () => {
    expect(admit(candidate('a'), token([]))).toStrictEqual(refused(ReasonCode.NotAuthorized));
  });

  it('[DESIGN §5] the ACL comes before the size rule: a refused topic counts no quota', () => {
    expect(admit(candidate('other', utf8('far too long')), NOTHING)).toStrictEqual(refused(ReasonCode.NotAuthorized));
  });
});

describe('admitPublish rule 5: the token\'s maxMessageSize (0x97, counted)', () => {
  it('[DESIGN §3] a payload of exactly maxMessageSize bytes passes', () => {
    expect(admit(candidate('a', utf8('1234')), EVERYWHERE)).toStrictEqual({ ok: true });
  });

  it('[DESIGN §3] one byte more is refused with 0x97 Quota exceeded and counted as limit_message_size', () => {
    expect(admit(candidate('a', utf8('12345')), EVERYWHERE)).toStrictEqual({
      ok: false,
      reasonCode: ReasonCode.QuotaExceeded,
      reason: expect.any(String),
      counter: 'limit_message_size',
    });
  });

  it('[DESIGN §3] the limit is on the payload: a long topic and properties do not count', () => {
    const message = candidate(`a/${'x'.repeat(500)}`, utf8('1234'), { userProperties: [['k', 'v'.repeat(100)]] });
    expect(admit(message, EVERYWHERE)).toStrictEqual({ ok: true });
  });

  it('[DESIGN §3] maxMessageSize 0 admits only an empty payload', () => {
    const zero = token([{ filter: '#', rights: ['pub'] }], { maxMessageSize: 0 });
    expect(admit(candidate('a', new Uint8Array(0)), zero)).toStrictEqual({ ok: true });
    expect(admit(candidate('a', utf8('x')), zero)).toMatchObject({ ok: false, reasonCode: ReasonCode.QuotaExceeded, counter: 'limit_message_size' });
  });

  it('[DESIGN §3] only the size refusal carries a counter', () => {
    const refusals = [
      admit(candidate('a/#'), EVERYWHERE),
      admit(candidate('a', NOT_UTF8, DECLARED_UTF8), EVERYWHERE),
      admit(candidate('$SYS/x'), EVERYWHERE),
      admit(candidate('other'), OWN),
    ];
    for (const refusal of refusals) expect(refusal).not.toHaveProperty('counter');
  });
});

describe('admitPublish for an anonymous client (null token)', () => {
  it('[DESIGN §5] has no ACL and no size limit', () => {
    expect(admit(candidate('anything/at/all', new Uint8Array(1 << 20)), null)).toStrictEqual({ ok: true });
    expect(admit(candidate('devices/someone-else/cmd'), null)).toStrictEqual({ ok: true });
  });

  it('[DESIGN §5] still may not publish to `$` topics', () => {
    expect(admit(candidate('$SYS/broker/uptime'), null)).toStrictEqual(refused(ReasonCode.NotAuthorized));
  });

  it('(5.0 §3.3.2.3.2) still has its declared UTF-8 payloads checked', () => {
    expect(admit(candidate('a', NOT_UTF8, DECLARED_UTF8), null)).toStrictEqual(refused(ReasonCode.PayloadFormatInvalid));
  });
});

describe('aclIdentity', () => {
  it('[DESIGN §5] %c is the client id and %u the token id, never the secret', () => {
    expect(aclIdentity('d42', OWN)).toStrictEqual({ clientId: 'd42', username: 'tok1' });
  });

  it('[DESIGN §5] an anonymous client has an empty username, so a %u entry never applies', () => {
    expect(aclIdentity('d42', null)).toStrictEqual({ clientId: 'd42', username: '' });
  });
});

describe('retainedShare', () => {
  const withRetained = (maxRetained: number): ConnectionToken => ({ ...token([]), maxRetained });

  it('[DESIGN §3] no limit for an anonymous client or a token without maxRetained', () => {
    expect(retainedShare(undefined, 4)).toBeUndefined();
    expect(retainedShare(token([]).maxRetained, 4)).toBeUndefined();
  });

  it.each([
    [10, 4, 3],
    [8, 4, 2],
    [1, 4, 1],
    [100, 1, 100],
    [0, 4, 0],
  ])('[DESIGN §3] maxRetained %i over %i shards gives each shard a share of %i (rounded up)', (maxRetained, shards, share) => {
    expect(retainedShare(withRetained(maxRetained).maxRetained, shards)).toBe(share);
  });
});
