// Which stored topics a filter can match, as a key range: lets a retained-message lookup read an index range.
//
// Wildcards fill whole levels, so the literal part of a filter before its first wildcard ends with '/', and
// every topic the filter matches starts with it, or (for a '#' right there) equals it without the '/':
//
//   'sport/tennis'      exact     topic = 'sport/tennis'
//   'sport/+/player1'   range     'sport/' <= topic < 'sport0'             ('0' is the code point after '/')
//   'sport/#'           range     'sport/' <= topic < 'sport0', or topic = 'sport'      [MQTT-4.7.1-2]
//   '+/tennis', '#'     all       no literal prefix
//
// Strings starting with p are exactly those in [p, p minus its '/' + '0') in code point order, which is UTF-8
// byte order, which is how SQLite's BINARY collation compares TEXT. The range narrows the rows read; the
// caller still checks each row with topicMatchesFilter.
import { parseSharedSubscription } from '../topic/validate.js';

export type RetainedLookup =
  | { kind: 'exact'; topic: string }
  | { kind: 'range'; from: string; to: string; parent?: string }
  | { kind: 'all' };

/** The rows a valid, non-shared topic filter needs; a shared filter is looked up by its inner filter. */
export function retainedLookup(filter: string): RetainedLookup {
  const inner = parseSharedSubscription(filter)?.filter ?? filter;
  const plus = inner.indexOf('+');
  const hash = inner.indexOf('#');
  const first = plus === -1 ? hash : hash === -1 ? plus : Math.min(plus, hash);
  if (first === -1) return { kind: 'exact', topic: inner };
  if (first === 0) return { kind: 'all' };
  const from = inner.slice(0, first); // ends with '/'
  const base = from.slice(0, -1);
  const range = { kind: 'range' as const, from, to: `${base}0` };
  // A topic is never empty, so '/#' needs no parent lookup.
  return first === hash && base !== '' ? { ...range, parent: base } : range;
}
