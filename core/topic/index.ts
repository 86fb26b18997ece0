// Topics: validation, matching and the subscription trie.
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
