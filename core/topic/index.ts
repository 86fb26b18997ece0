// Topics: validation, matching, the subscription trie and shard placement.
export {
  MAX_TOPIC_BYTES,
  SHARED_PREFIX,
  hasWildcard,
  isValidTopicFilter,
  isValidTopicName,
  parseSharedSubscription,
} from './validate.js';
export { topicMatchesFilter } from './match.js';
export { SubscriptionTrie } from './trie.js';
export type { TrieEntry } from './trie.js';
export { shardOf, shardsForFilter } from './shard.js';
