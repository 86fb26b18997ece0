// ACL evaluation: %c/%u expansion, publish and subscribe rights, filter coverage, $SYS rules.
import { describe, expect, it } from 'vitest';
import { expandFilter, filterCovers, mayPublish, maySubscribe, type AclEntry } from '../../../core/acl/acl.js';

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
