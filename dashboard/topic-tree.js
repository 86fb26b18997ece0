// A tree of topic levels for browsing retained messages.
//
//   ['a/b', 'a/c/d', 'a', '/x']  →  (root)
//                                     ├─ a        message of 'a'
//                                     │  ├─ b     message of 'a/b'
//                                     │  └─ c
//                                     │     └─ d  message of 'a/c/d'
//                                     └─ ''       (an empty first level)
//                                        └─ x     message of '/x'

/**
 * @template T
 * @param {Array<T & { topic: string }>} messages
 * @returns {{ level: string, path: string, message?: T, count: number, children: Map<string, any> }}
 */
export function buildTopicTree(messages) {
  const root = { level: '', path: '', count: 0, children: new Map() };
  for (const message of messages) {
    let node = root;
    node.count++;
    const levels = message.topic.split('/');
    levels.forEach((level, i) => {
      let child = node.children.get(level);
      if (!child) {
        child = { level, path: levels.slice(0, i + 1).join('/'), count: 0, children: new Map() };
        node.children.set(level, child);
      }
      child.count++;
      node = child;
    });
    node.message = message;
  }
  return root;
}

/** Children in a stable, human order (numbers by value: device/2 before device/10). */
export function sortedChildren(node) {
  return [...node.children.values()].sort((a, b) => a.level.localeCompare(b.level, undefined, { numeric: true }));
}
