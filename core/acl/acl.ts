// ACL evaluation (flespi-style): a token's entries are topic filters with rights; %c and %u expand to the
// connection's client id and username before matching.
//
//   entries: [{ filter: 'devices/%c/#', rights: ['pub', 'sub'] }, { filter: 'alerts/+', rights: ['sub'] }]
//   client 'd42' may publish 'devices/d42/temp', subscribe 'alerts/+', not publish 'alerts/x'.
//
// A SUBSCRIBE is allowed when some entry with `sub` covers the whole requested filter (every topic the
// filter can match is matched by the entry), so `devices/#` is refused under an entry `devices/%c/#`.
import { topicMatchesFilter } from '../topic/match.js';
import { parseSharedSubscription } from '../topic/validate.js';

export type Right = 'pub' | 'sub';

export interface AclEntry {
  /** Topic filter; may contain %c (client id) and %u (username). */
  filter: string;
  rights: Right[];
}

export interface AclIdentity {
  clientId: string;
  username: string;
}

/**
 * Expands %c and %u. An entry whose placeholder value is empty (an HTTP publish has no client id) or holds
 * `+`, `#` or `/` (which would widen the filter) does not apply: undefined.
 */
export function expandFilter(filter: string, identity: AclIdentity): string | undefined {
  if (!filter.includes('%')) return filter;
  const placeholders: Array<[string, string]> = [
    ['%c', identity.clientId],
    ['%u', identity.username],
  ];
  for (const [placeholder, value] of placeholders) {
    if (filter.includes(placeholder) && (value === '' || /[+#/]/.test(value))) return undefined;
  }
  return filter.replaceAll('%c', identity.clientId).replaceAll('%u', identity.username);
}

/** May this identity publish to `topic`? `$SYS` is never writable by clients. */
export function mayPublish(entries: readonly AclEntry[], identity: AclIdentity, topic: string): boolean {
  if (topic.startsWith('$')) return false;
  return entries.some((entry) => {
    if (!entry.rights.includes('pub')) return false;
    const filter = expandFilter(entry.filter, identity);
    return filter !== undefined && topicMatchesFilter(filter, topic);
  });
}

/**
 * May this identity subscribe to `requested`? `$SYS/...` is always readable. A shared subscription is
 * judged by its inner filter.
 */
export function maySubscribe(entries: readonly AclEntry[], identity: AclIdentity, requested: string): boolean {
  const inner = parseSharedSubscription(requested)?.filter ?? requested;
  if (inner === '$SYS' || inner.startsWith('$SYS/')) return true;
  return entries.some((entry) => {
    if (!entry.rights.includes('sub')) return false;
    const filter = expandFilter(entry.filter, identity);
    return filter !== undefined && filterCovers(filter, inner);
  });
}

/**
 * True when every topic `inner` can match is matched by `outer`: compare level by level, where `#` in
 * `outer` covers the rest, `+` in `outer` covers any single level (including `+` in `inner`), and a
 * wildcard in `inner` is only covered by a wildcard in `outer`.
 *   covers('a/#', 'a/+/c') → true     covers('a/+', 'a/#') → false     covers('a/b', 'a/+') → false
 */
export function filterCovers(outer: string, inner: string): boolean {
  const outerLevels = outer.split('/');
  const innerLevels = inner.split('/');
  for (let i = 0; i < outerLevels.length; i++) {
    const o = outerLevels[i]!;
    if (o === '#') {
      // [MQTT-4.7.2-1] a leading wildcard does not reach $ topics.
      return !(i === 0 && inner.startsWith('$'));
    }
    const n = innerLevels[i];
    if (n === undefined) return false;
    if (n === '#') return false;
    if (o === '+') {
      if (i === 0 && n.startsWith('$')) return false;
      continue;
    }
    if (n === '+' || n !== o) return false;
  }
  return outerLevels.length === innerLevels.length;
}
