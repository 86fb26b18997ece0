// Topic name and topic filter validation (MQTT 3.1.1 section 4.7, 5.0 sections 4.7 and 4.8.2): one pass, no allocation.

const SLASH = 0x2f; // '/'
const PLUS = 0x2b; // '+'
const HASH = 0x23; // '#'
const NUL = 0x0000;

/** Topic names and filters are UTF-8 strings with a two-byte length prefix [MQTT-4.7.3-3]. */
export const MAX_TOPIC_BYTES = 65535;

/** The prefix of an MQTT 5 shared subscription filter: `$share/{group}/{filter}` (5.0 section 4.8.2). */
export const SHARED_PREFIX = '$share/';

/**
 * Shared checks for names and filters: non-empty, no U+0000, well-formed UTF-16 (so it encodes to well-formed
 * UTF-8), at most 65535 UTF-8 bytes. `wildcards` decides what `+` and `#` may do.
 */
function isValidTopicString(s: string, wildcards: boolean): boolean {
  const length = s.length;
  if (length === 0) return false; // [MQTT-4.7.3-1]
  // No UTF-16 code unit encodes to more than 3 UTF-8 bytes (a surrogate pair is 2 units, 4 bytes).
  const mustCount = length * 3 > MAX_TOPIC_BYTES;
  let bytes = 0;
  for (let i = 0; i < length; i++) {
    const c = s.charCodeAt(i);
    if (c === NUL) return false; // [MQTT-4.7.3-2]
    if (c === PLUS || c === HASH) {
      if (!wildcards) return false; // [MQTT-3.3.2-2] [MQTT-4.7.1-1]
      const atLevelStart = i === 0 || s.charCodeAt(i - 1) === SLASH;
      const atLevelEnd = i + 1 === length || s.charCodeAt(i + 1) === SLASH;
      if (!atLevelStart || !atLevelEnd) return false; // [MQTT-4.7.1-2] [MQTT-4.7.1-3]: alone in its level
      if (c === HASH && i + 1 !== length) return false; // [MQTT-4.7.1-2]: '#' is the last character
    } else if (c >= 0xd800 && c <= 0xdfff) {
      // [MQTT-1.5.3-1] no lone surrogates: they have no well-formed UTF-8 encoding.
      if (c >= 0xdc00) return false;
      const next = s.charCodeAt(i + 1); // NaN past the end
      if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
      i++;
      bytes += 4;
      continue;
    }
    if (mustCount) bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
  }
  return !mustCount || bytes <= MAX_TOPIC_BYTES; // [MQTT-4.7.3-3]
}

/** True when `topic` may be published to: a PUBLISH topic name or a will topic. */
export function isValidTopicName(topic: string): boolean {
  return isValidTopicString(topic, false);
}

/**
 * True when `filter` may be subscribed to. `$share/{group}/{filter}` is checked as a shared subscription:
 * the group is non-empty and holds no `/`, `+` or `#`, and the inner filter is itself valid.
 */
export function isValidTopicFilter(filter: string): boolean {
  if (!filter.startsWith(SHARED_PREFIX)) return isValidTopicString(filter, true);
  // The length limit applies to the whole string on the wire, not to the inner filter alone.
  if (!isValidTopicString(filter, true)) return false;
  const shared = parseSharedSubscription(filter);
  if (shared === undefined) return false; // [MQTT-4.8.2-2 v5]: the group must be followed by '/'
  const { group } = shared;
  if (group.length === 0) return false; // [MQTT-4.8.2-1 v5]
  // [MQTT-4.8.2-2 v5] no '/', '+' or '#' in the group ('/' cannot occur: the group ends at the first one)
  if (group.includes('+') || group.includes('#')) return false;
  return shared.filter.length > 0; // [MQTT-4.8.2-2 v5]: '/' followed by a topic filter
}

/**
 * Splits `$share/{group}/{filter}` into its group and inner filter; undefined when `filter` does not start
 * with `$share/` or has no `/` after the group. Purely syntactic: check `isValidTopicFilter` first.
 */
export function parseSharedSubscription(filter: string): { group: string; filter: string } | undefined {
  if (!filter.startsWith(SHARED_PREFIX)) return undefined;
  const slash = filter.indexOf('/', SHARED_PREFIX.length);
  if (slash === -1) return undefined;
  return { group: filter.slice(SHARED_PREFIX.length, slash), filter: filter.slice(slash + 1) };
}

/** True when `filter` holds a `+` or `#` (in a valid shared filter these can only be in the inner filter). */
export function hasWildcard(filter: string): boolean {
  for (let i = 0; i < filter.length; i++) {
    const c = filter.charCodeAt(i);
    if (c === PLUS || c === HASH) return true;
  }
  return false;
}
