// ACL evaluation: %c/%u expansion, publish and subscribe rights, filter coverage, $SYS rules.
import { describe, expect, it } from 'vitest';
import { expandFilter, filterCovers, mayPublish, maySubscribe, type AclEntry } from '../../../core/acl/acl.js';
import { checkTokenInput } from '../../../core/tenancy/token-input.js';

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

  it('token input: the schema says what is wrong, by path', () => {
    const problem = (input: unknown) => {
      const checked = checkTokenInput(input);
      return checked.ok ? undefined : checked.error;
    };
    expect(problem({ acl })).toBeUndefined();
    expect(problem({ acl: 'x' })).toBe('body.acl must be an array');
    expect(problem({ acl: [{ filter: 'a/#/b', rights: ['pub'] }] })).toBe('body.acl[0].filter must be a valid MQTT topic filter (with optional %c / %u)');
    expect(problem({ acl: [{ filter: 'a', rights: [] }] })).toBe('body.acl[0].rights must have at least 1 item(s)');
    expect(problem({ acl: [{ filter: 'a', rights: ['write'] }] })).toBe('body.acl[0].rights[0] must be one of "pub", "sub"');
    expect(problem({ acl: [{ rights: ['pub'] }] })).toBe('body.acl[0].filter is required');
    expect(problem({ limits: { maxConnections: 0 } })).toBe('body.limits.maxConnections must be at least 1');
    expect(problem({ limits: { maxFoo: 1 } })).toBe('body.limits has an unknown field "maxFoo"');
    expect(problem({ expiresAt: null })).toBeUndefined();
    expect(problem({ expiresAt: 'soon' })).toBe('body.expiresAt must be an integer or null');
    expect(problem([])).toBe('body must be a JSON object');
    const folded = checkTokenInput({ acl: [{ filter: 'a', rights: ['pub', 'pub'] }] });
    expect(folded.ok && folded.value.acl?.[0]?.rights).toEqual(['pub']);
  });
});
