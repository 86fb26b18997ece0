// ACL evaluation: %c/%u expansion, publish, subscribe and receive rights, deny entries (first match wins),
// filter coverage, $SYS rules, and the explanation the "test this ACL" API shows.
import { describe, expect, it } from 'vitest';
import { expandFilter, explainAcl, filterCovers, mayPublish, mayReceive, maySubscribe, type AclEntry } from '../../../core/acl/acl.js';

const me = { clientId: 'd42', username: 'fleet' };
const acl: AclEntry[] = [
  { filter: 'devices/%c/#', rights: ['pub', 'sub'] },
  { filter: 'alerts/+', rights: ['sub'] },
  { filter: 'users/%u/inbox', rights: ['pub'] },
];

describe('ACL', () => {
  it.each([
    ['devices/d42/temp', true],
    ['devices/d42', true],
    ['devices/d43/temp', false],
    ['alerts/fire', false],
    ['users/fleet/inbox', true],
    ['users/other/inbox', false],
    ['$SYS/broker/version', false],
  ])('publish to %s is %s', (topic, allowed) => {
    expect(mayPublish(acl, me, topic)).toBe(allowed);
  });

  it.each([
    ['devices/d42/#', true],
    ['devices/d42/+/x', true],
    ['devices/#', false],
    ['devices/+/temp', false],
    ['alerts/+', true],
    ['alerts/fire', true],
    ['alerts/#', false],
    ['users/fleet/inbox', false],
    ['$SYS/broker/#', true],
    ['$share/g/devices/d42/temp', true],
    ['$share/g/devices/d43/temp', false],
  ])('subscribe to %s is %s', (filter, allowed) => {
    expect(maySubscribe(acl, me, filter)).toBe(allowed);
  });

  it('an entry with %c does not apply without a client id (HTTP publish)', () => {
    expect(mayPublish(acl, { clientId: '', username: 'fleet' }, 'devices//temp')).toBe(false);
    expect(mayPublish(acl, { clientId: '', username: 'fleet' }, 'users/fleet/inbox')).toBe(true);
  });

  it('a client id with wildcard characters cannot widen a %c entry', () => {
    expect(expandFilter('devices/%c/#', { clientId: '+', username: 'u' })).toBeUndefined();
    expect(mayPublish(acl, { clientId: 'a/b', username: 'u' }, 'devices/a/b/x')).toBe(false);
  });

  it.each([
    ['#', 'a/b', true],
    ['#', '$SYS/x', false],
    ['+/b', '$x/b', false],
    ['a/#', 'a', true],
    ['a/#', 'a/+/c', true],
    ['a/+', 'a/#', false],
    ['a/+', 'a/+', true],
    ['a/b', 'a/+', false],
    ['a/b', 'a/b/c', false],
    ['a/b/c', 'a/b', false],
  ])('[MQTT-4.7.1-2] %s covers %s: %s', (outer, inner, covers) => {
    expect(filterCovers(outer, inner)).toBe(covers);
  });
});

describe('ACL deny entries: the first matching entry decides', () => {
  // mosquitto's test case: everything allowed except subscribing to test/nosubscribe.
  const noSubscribe: AclEntry[] = [
    { filter: 'test/nosubscribe', rights: ['sub'], access: 'deny' },
    { filter: '#', rights: ['pub', 'sub'] },
  ];

  it('a deny entry refuses a subscription that lies inside it', () => {
    expect(maySubscribe(noSubscribe, me, 'test/nosubscribe')).toBe(false);
    expect(maySubscribe(noSubscribe, me, '$share/g/test/nosubscribe')).toBe(false);
  });

  it('a deny entry narrower than the requested filter does not refuse it: the allow below grants #', () => {
    expect(maySubscribe(noSubscribe, me, '#')).toBe(true);
    expect(maySubscribe(noSubscribe, me, 'test/+')).toBe(true);
  });

  it('the # subscriber is not sent messages on the denied topic (receive), and still gets the rest', () => {
    expect(mayReceive(noSubscribe, me, 'test/nosubscribe')).toBe(false);
    expect(mayReceive(noSubscribe, me, 'test/other')).toBe(true);
    expect(mayReceive(noSubscribe, me, 'test/nosubscribe/deeper')).toBe(true);
  });

  it('a sub-only deny entry leaves publishing alone', () => {
    expect(mayPublish(noSubscribe, me, 'test/nosubscribe')).toBe(true);
  });

  it('order decides: an allow above a deny wins for what both match', () => {
    const allowFirst: AclEntry[] = [
      { filter: 'a/#', rights: ['pub'] },
      { filter: 'a/secret', rights: ['pub'], access: 'deny' },
    ];
    const denyFirst = [allowFirst[1]!, allowFirst[0]!];
    expect(mayPublish(allowFirst, me, 'a/secret')).toBe(true);
    expect(mayPublish(denyFirst, me, 'a/secret')).toBe(false);
    expect(mayPublish(denyFirst, me, 'a/open')).toBe(true);
  });

  it('a deny entry with a placeholder applies per client', () => {
    const acl: AclEntry[] = [
      { filter: 'devices/%c/config', rights: ['pub'], access: 'deny' },
      { filter: 'devices/#', rights: ['pub'] },
    ];
    expect(mayPublish(acl, me, 'devices/d42/config')).toBe(false);
    expect(mayPublish(acl, me, 'devices/d43/config')).toBe(true);
  });

  it('an entry without access is an allow (tokens stored before deny rules keep working)', () => {
    expect(mayPublish([{ filter: 'x', rights: ['pub'] }], me, 'x')).toBe(true);
    expect(mayPublish([{ filter: 'x', rights: ['pub'], access: 'allow' }], me, 'x')).toBe(true);
  });

  it('no matching entry: denied', () => {
    expect(mayPublish([], me, 'x')).toBe(false);
    expect(maySubscribe([], me, 'x')).toBe(false);
    expect(mayReceive([], me, 'x')).toBe(false);
  });

  it('receive needs the sub right: a pub-only entry does not let messages in', () => {
    expect(mayReceive(acl, me, 'users/fleet/inbox')).toBe(false);
    expect(mayReceive(acl, me, 'alerts/fire')).toBe(true);
    expect(mayReceive(acl, me, 'devices/d43/temp')).toBe(false);
  });

  it('$SYS topics are receivable whatever the entries, as they are subscribable', () => {
    expect(mayReceive([], me, '$SYS/broker/uptime')).toBe(true);
    expect(mayReceive([{ filter: '#', rights: ['sub'], access: 'deny' }], me, '$SYS/broker/uptime')).toBe(true);
    // A leading wildcard does not reach $ topics [MQTT-4.7.2-1], so '#' grants no other $ topic.
    expect(mayReceive([{ filter: '#', rights: ['sub'] }], me, '$other/x')).toBe(false);
  });
});

describe('explainAcl: the one evaluator, with its grounds', () => {
  const entries: AclEntry[] = [
    { filter: 'test/nosubscribe', rights: ['sub'], access: 'deny' },
    { filter: 'devices/%c/#', rights: ['pub', 'sub'] },
    { filter: 'devices/%c/secret', rights: ['pub'], access: 'deny' },
  ];

  it('names the deciding entry by index, with the filter as written and as expanded', () => {
    expect(explainAcl(entries, me, 'subscribe', 'test/nosubscribe')).toEqual({ allowed: false, entry: 0, reason: 'denied by deny sub "test/nosubscribe"' });
    expect(explainAcl(entries, me, 'publish', 'devices/d42/secret')).toEqual({ allowed: true, entry: 1, reason: 'allowed by allow pub "devices/%c/#" (as "devices/d42/#")' });
    expect(explainAcl(entries, me, 'receive', 'devices/d42/x')).toMatchObject({ allowed: true, entry: 1 });
  });

  it('without a deciding entry: denied, no entry, and says which entries could not apply', () => {
    expect(explainAcl(entries, me, 'publish', 'other')).toEqual({ allowed: false, reason: 'no entry with pub matches "other": denied' });
    const noClient = explainAcl(entries, { clientId: '', username: 'fleet' }, 'publish', 'devices//x');
    expect(noClient.allowed).toBe(false);
    expect(noClient.entry).toBeUndefined();
    expect(noClient.reason).toContain('2 entries with pub skipped');
  });

  it('$ topics: never publishable, $SYS always readable', () => {
    const publish = explainAcl([{ filter: '#', rights: ['pub'] }], me, 'publish', '$SYS/x');
    expect([publish.allowed, publish.entry]).toEqual([false, undefined]);
    const subscribe = explainAcl([], me, 'subscribe', '$SYS/#');
    expect([subscribe.allowed, subscribe.entry]).toEqual([true, undefined]);
  });

  it.each([
    ['publish', 'devices/d42/a'],
    ['publish', 'devices/d42/secret'],
    ['publish', 'test/nosubscribe'],
    ['subscribe', 'devices/d42/#'],
    ['subscribe', 'test/nosubscribe'],
    ['subscribe', '$share/g/devices/d42/+'],
    ['receive', 'test/nosubscribe'],
    ['receive', 'devices/d42/x'],
  ] as const)('mayPublish / maySubscribe / mayReceive agree with explainAcl: %s %s', (action, topic) => {
    const may = { publish: mayPublish, subscribe: maySubscribe, receive: mayReceive }[action];
    expect(may(entries, me, topic)).toBe(explainAcl(entries, me, action, topic).allowed);
  });
});

describe('placeholders expand in one pass', () => {
  it('a client id "%u" is not expanded again into the username (the entry does not apply)', () => {
    // The old two-pass expansion turned devices/%c/%u into devices/fleet/fleet for client id "%u".
    expect(expandFilter('devices/%c/%u', { clientId: '%u', username: 'fleet' })).toBeUndefined();
    expect(mayPublish([{ filter: 'devices/%c/%u', rights: ['pub'] }], { clientId: '%u', username: 'fleet' }, 'devices/fleet/fleet')).toBe(false);
  });

  it('a value holding % does not apply, whichever placeholder it fills', () => {
    expect(expandFilter('a/%c', { clientId: 'x%cy', username: 'u' })).toBeUndefined();
    expect(expandFilter('a/%u', { clientId: 'c', username: '50%' })).toBeUndefined();
    // A % in the filter itself, not before c or u, is literal.
    expect(expandFilter('a/%x/%c', { clientId: 'd1', username: 'u' })).toBe('a/%x/d1');
  });

  it('each occurrence is substituted, left to right', () => {
    expect(expandFilter('%c/%u/%c', { clientId: 'd1', username: 'fleet' })).toBe('d1/fleet/d1');
    expect(expandFilter('a/%%c', { clientId: 'd1', username: 'fleet' })).toBe('a/%d1');
  });
});
