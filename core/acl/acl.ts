// ACL evaluation (flespi-style, with mosquitto/EMQX deny rules): a token's entries are ordered topic
// filters with rights and an access (allow, or deny); %c and %u expand to the connection's client id and
// username before matching. For an action the first entry whose rights include it and whose filter
// matches decides; when none does, the action is denied.
//
//   entries: [{ filter: 'devices/%c/#', rights: ['pub', 'sub'] }, { filter: 'alerts/+', rights: ['sub'] }]
//   client 'd42' may publish 'devices/d42/temp', subscribe 'alerts/+', not publish 'alerts/x'.
//
//   entries: [{ filter: 'test/nosubscribe', rights: ['sub'], access: 'deny' }, { filter: '#', rights: ['pub', 'sub'] }]
//   subscribing '#' is granted, subscribing 'test/nosubscribe' is refused, and the '#' subscriber is not
//   sent messages on 'test/nosubscribe' (the read right is checked again at delivery: receive).
//
// What "matches" means per action:
//   publish(topic)       the expanded filter matches the topic name
//   receive(topic)       the same, with the `sub` right, when a message is delivered
//   subscribe(filter)    the requested filter lies inside the entry (every topic it can match is matched by
//                        the entry): an allow must cover the whole request, so `devices/#` is refused under
//                        `devices/%c/#`; a deny narrower than the request does not decide, receive does.
import { topicMatchesFilter } from '../topic/match.js';
import { parseSharedSubscription } from '../topic/validate.js';

export type Right = 'pub' | 'sub';

/** Absent means allow, so entries stored before deny rules existed keep their meaning. */
export type Access = 'allow' | 'deny';

export interface AclEntry {
  /** Topic filter; may contain %c (client id) and %u (username). */
  filter: string;
  rights: Right[];
  access?: Access;
}

/** What is asked of the ACL: receive is the read right checked again when a message is delivered. */
export type AclAction = 'publish' | 'subscribe' | 'receive';

/** An ACL answer with its grounds: the index of the deciding entry, when one decided. */
export interface AclDecision {
  allowed: boolean;
  entry?: number;
  reason: string;
}

export interface AclIdentity {
  clientId: string;
  username: string;
}

/**
 * Expands %c and %u in one left-to-right pass, so a value is never expanded again (a client id `%u` stays
 * the literal `%u`). An entry whose placeholder value is empty (an HTTP publish has no client id) or holds
 * `+`, `#` or `/` (which would widen the filter) or `%` (a placeholder smuggled in) does not apply: undefined.
 */
export function expandFilter(filter: string, identity: AclIdentity): string | undefined {
  if (!filter.includes('%')) return filter;
  let applies = true;
  const expanded = filter.replace(/%[cu]/g, (placeholder) => {
    const value = placeholder === '%c' ? identity.clientId : identity.username;
    if (value === '' || /[+#/%]/.test(value)) applies = false;
    return value;
  });
  return applies ? expanded : undefined;
}

/** May this identity publish to `topic`? `$SYS` is never writable by clients. */
export function mayPublish(entries: readonly AclEntry[], identity: AclIdentity, topic: string): boolean {
  return decide(entries, identity, 'publish', topic).allowed;
}

/**
 * May this identity subscribe to `requested`? `$SYS/...` is always readable. A shared subscription is
 * judged by its inner filter.
 */
export function maySubscribe(entries: readonly AclEntry[], identity: AclIdentity, requested: string): boolean {
  return decide(entries, identity, 'subscribe', requested).allowed;
}

/**
 * May a message on `topic` be delivered to this identity? The read right at delivery time (as mosquitto
 * checks it), so a deny entry inside a granted wildcard subscription still holds. `$SYS/...` is receivable.
 */
export function mayReceive(entries: readonly AclEntry[], identity: AclIdentity, topic: string): boolean {
  return decide(entries, identity, 'receive', topic).allowed;
}

/**
 * mayPublish, maySubscribe and mayReceive with their grounds, for "test this ACL": the deciding entry and
 * why. The same evaluation (`decide`), so the answers cannot disagree.
 */
export function explainAcl(entries: readonly AclEntry[], identity: AclIdentity, action: AclAction, topicOrFilter: string): AclDecision {
  const decision = decide(entries, identity, action, topicOrFilter);
  const right: Right = action === 'publish' ? 'pub' : 'sub';
  switch (decision.by) {
    case 'dollar-publish':
      return { allowed: false, reason: '$ topics are the broker\'s: clients never publish to them' };
    case 'sys-read':
      return { allowed: true, reason: '$SYS topics are readable by every client' };
    case 'entry': {
      const entry = entries[decision.entry]!;
      const expanded = decision.filter === entry.filter ? '' : ` (as "${decision.filter}")`;
      return { allowed: decision.allowed, entry: decision.entry, reason: `${decision.allowed ? 'allowed by allow' : 'denied by deny'} ${right} "${entry.filter}"${expanded}` };
    }
    case 'none': {
      const { skipped } = decision;
      const why = skipped === 0 ? '' : `; ${skipped} entr${skipped === 1 ? 'y' : 'ies'} with ${right} skipped (a %c / %u value empty or holding + # / %)`;
      return { allowed: false, reason: `no entry with ${right} matches "${decision.target}": denied${why}` };
    }
  }
}

type Decided =
  | { by: 'dollar-publish' | 'sys-read'; allowed: boolean }
  | { by: 'entry'; allowed: boolean; entry: number; filter: string }
  | { by: 'none'; allowed: false; skipped: number; target: string };

/**
 * The one evaluator: entries in order, the first whose rights include the action and whose expanded filter
 * matches decides; none → denied. `topicOrFilter` is a valid topic name (publish, receive) or topic filter
 * (subscribe). Builds no text: it runs for every message delivered to a token's session.
 */
function decide(entries: readonly AclEntry[], identity: AclIdentity, action: AclAction, topicOrFilter: string): Decided {
  const right: Right = action === 'publish' ? 'pub' : 'sub';
  // A shared subscription is judged by its inner filter: the group changes who gets a message, not which.
  const target = action === 'subscribe' ? (parseSharedSubscription(topicOrFilter)?.filter ?? topicOrFilter) : topicOrFilter;
  if (action === 'publish' && target.startsWith('$')) return { by: 'dollar-publish', allowed: false };
  if (action !== 'publish' && (target === '$SYS' || target.startsWith('$SYS/'))) return { by: 'sys-read', allowed: true };
  let skipped = 0;
  for (const [index, entry] of entries.entries()) {
    if (!entry.rights.includes(right)) continue;
    const filter = expandFilter(entry.filter, identity);
    if (filter === undefined) {
      skipped++;
      continue;
    }
    const matches = action === 'subscribe' ? filterCovers(filter, target) : topicMatchesFilter(filter, target);
    if (matches) return { by: 'entry', allowed: entry.access !== 'deny', entry: index, filter };
  }
  return { by: 'none', allowed: false, skipped, target };
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
