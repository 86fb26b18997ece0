// Does one topic filter match one topic name? A single forward scan of both strings: no split, no allocation.

const SLASH = 0x2f; // '/'
const PLUS = 0x2b; // '+'
const HASH = 0x23; // '#'
const DOLLAR = 0x24; // '$'

/**
 * True when the topic name `topic` matches the topic filter `filter` (MQTT 3.1.1 / 5.0 section 4.7).
 * `+` matches exactly one level (possibly empty), `#` the parent level and every level below it, and a
 * topic starting with `$` is not matched by a filter starting with a wildcard.
 *
 * Both arguments must be valid (`isValidTopicFilter`, `isValidTopicName`); for a shared subscription pass
 * the inner filter from `parseSharedSubscription`.
 */
export function topicMatchesFilter(filter: string, topic: string): boolean {
  const fl = filter.length;
  const tl = topic.length;
  const first = filter.charCodeAt(0);
  // [MQTT-4.7.2-1] '$SYS/x' is not matched by '#' or '+/x'.
  if (topic.charCodeAt(0) === DOLLAR && (first === PLUS || first === HASH)) return false;

  let fi = 0;
  let ti = 0;
  // Each turn matches one level; on entry fi and ti are at the start of a level.
  for (;;) {
    const c = filter.charCodeAt(fi);
    if (c === HASH) return true; // [MQTT-4.7.1-2] the rest of the topic, however many levels
    if (c === PLUS) {
      fi++;
      while (ti < tl && topic.charCodeAt(ti) !== SLASH) ti++;
    } else {
      // A literal level: equal code units up to the filter's next '/' or end.
      while (fi < fl && filter.charCodeAt(fi) !== SLASH) {
        if (ti === tl || topic.charCodeAt(ti) !== filter.charCodeAt(fi)) return false;
        fi++;
        ti++;
      }
      if (ti < tl && topic.charCodeAt(ti) !== SLASH) return false; // the topic's level is longer
    }
    // Both are now at a '/' or at their end.
    if (fi === fl) return ti === tl;
    fi++;
    if (ti === tl) {
      // The topic ran out first: only a final '#' still matches ('sport/#' matches 'sport') [MQTT-4.7.1-2].
      return fi + 1 === fl && filter.charCodeAt(fi) === HASH;
    }
    ti++;
  }
}
