// MQTT topic filters for the web client's message list: which received topics a filter shows.
//
//   topicMatches('sensors/+/temp', 'sensors/kitchen/temp')   → true    '+' is exactly one level
//   topicMatches('sensors/#', 'sensors')                     → true    '#' is the parent and every level below
//   topicMatches('#', '$SYS/uptime')                          → false   wildcards do not start '$' topics
//
// The broker's own matcher is core/topic/match.ts; test/e2e/mqtt-client.test.ts checks the two agree.

/** A valid topic filter (section 4.7.1): not empty, '#' only as the whole last level, '+' only as a whole level. */
export function isValidTopicFilter(filter) {
  if (filter.length === 0) return false;
  const levels = filter.split('/');
  return levels.every((level, i) => {
    if (level.includes('#')) return level === '#' && i === levels.length - 1; // [MQTT-4.7.1-2]
    return !level.includes('+') || level === '+'; // [MQTT-4.7.1-3]
  });
}

/** True when the topic name `topic` matches the valid filter `filter` (section 4.7). */
export function topicMatches(filter, topic) {
  // [MQTT-4.7.2-1] '$SYS/x' is not matched by '#' or '+/x'.
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const want = filter.split('/');
  const have = topic.split('/');
  for (let i = 0; i < want.length; i++) {
    if (want[i] === '#') return true; // the rest, however many levels: 'a/#' matches 'a' too
    if (i >= have.length) return false;
    if (want[i] !== '+' && want[i] !== have[i]) return false;
  }
  return want.length === have.length;
}
