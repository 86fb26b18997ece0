// The subscription trie: (filter, subscriber key) -> value, matched against a topic in O(levels), not O(subscriptions).
//
// One node per filter level; `+` and `#` get their own slots beside the literal children, and a node holds the
// subscriptions whose filter ends there. Subscriptions a:{c1}, b:{c2}, c:{c3}, d:{c4} to
//   sport/tennis/player1 (a)   sport/tennis/+ (b)   sport/# (c)   # (d)
// give
//   root ─ # ............................ d
//        └ sport ─ # ..................... c
//                └ tennis ─ player1 ...... a
//                         └ + ............ b
// and match('sport/tennis/player1') walks root(# → d), sport(# → c), tennis, then both player1 (a) and + (b).
// Only the branches the topic can reach are visited: `+` and `#` slots and the one literal child per level.
// A topic starting with `$` skips the root's `+` and `#` [MQTT-4.7.2-1].
//
// Leaves are keyed by subscriber key (the client id), so a re-subscribe replaces the value (the QoS and
// options). Shared subscriptions `$share/{group}/{filter}` are indexed under their inner filter, kept apart
// per full filter string, and reported with the full filter, so the caller can pick one member per group.
import { isValidTopicFilter, parseSharedSubscription } from './validate.js';

/** One subscription found by `match` or listed by `entries`. */
export interface TrieEntry<V> {
  /** The filter as subscribed, `$share/{group}/…` included. */
  filter: string;
  key: string;
  value: V;
}

interface TrieNode<V> {
  /** Literal levels below this one; created on first use. */
  children: Map<string, TrieNode<V>> | undefined;
  plus: TrieNode<V> | undefined;
  /** `#` ends a filter, so this node never has children of its own. */
  hash: TrieNode<V> | undefined;
  /** The plain filter ending here, set while `subs` is non-empty. */
  filter: string | undefined;
  /** key -> value for the plain filter ending here. */
  subs: Map<string, V> | undefined;
  /** full `$share/…` filter -> key -> value, for shared filters whose inner filter ends here. */
  shared: Map<string, Map<string, V>> | undefined;
}

function newNode<V>(): TrieNode<V> {
  return { children: undefined, plus: undefined, hash: undefined, filter: undefined, subs: undefined, shared: undefined };
}

function isEmpty<V>(node: TrieNode<V>): boolean {
  return (
    node.subs === undefined &&
    node.shared === undefined &&
    node.plus === undefined &&
    node.hash === undefined &&
    node.children === undefined
  );
}

/** A subscription index keyed by (filter, subscriber key). Filters must be valid; `add` throws otherwise. */
export class SubscriptionTrie<V> {
  #root: TrieNode<V> = newNode();
  #size = 0;
  #nodes = 1;

  /** The number of (filter, key) entries. */
  get size(): number {
    return this.#size;
  }

  /** The number of trie nodes, root included: 1 when empty. For memory statistics and pruning tests. */
  get nodeCount(): number {
    return this.#nodes;
  }

  /**
   * Subscribes `key` to `filter`. Returns true when the pair is new; a second add of the same pair replaces
   * the value and returns false (a re-subscribe replaces the subscription [MQTT-3.8.4-3]).
   */
  add(filter: string, key: string, value: V): boolean {
    if (!isValidTopicFilter(filter)) throw new RangeError(`invalid topic filter: ${JSON.stringify(filter)}`);
    const shared = parseSharedSubscription(filter);
    let node = this.#root;
    for (const level of (shared?.filter ?? filter).split('/')) {
      let next = level === '+' ? node.plus : level === '#' ? node.hash : node.children?.get(level);
      if (next === undefined) {
        next = newNode();
        this.#nodes++;
        if (level === '+') node.plus = next;
        else if (level === '#') node.hash = next;
        else (node.children ??= new Map()).set(level, next);
      }
      node = next;
    }
    let subs: Map<string, V>;
    if (shared === undefined) {
      subs = node.subs ??= new Map();
      node.filter = filter;
    } else {
      const byFilter = (node.shared ??= new Map());
      let group = byFilter.get(filter);
      if (group === undefined) {
        group = new Map();
        byFilter.set(filter, group);
      }
      subs = group;
    }
    const isNew = !subs.has(key);
    subs.set(key, value);
    if (isNew) this.#size++;
    return isNew;
  }

  /** The value `key` holds for `filter`, undefined when it does not hold it. */
  get(filter: string, key: string): V | undefined {
    const shared = parseSharedSubscription(filter);
    let node: TrieNode<V> | undefined = this.#root;
    for (const level of (shared?.filter ?? filter).split('/')) {
      node = level === '+' ? node.plus : level === '#' ? node.hash : node.children?.get(level);
      if (node === undefined) return undefined;
    }
    return shared === undefined ? node.subs?.get(key) : node.shared?.get(filter)?.get(key);
  }

  /** Unsubscribes `key` from `filter`, pruning nodes left empty. Returns false when there was no such pair. */
  remove(filter: string, key: string): boolean {
    const shared = parseSharedSubscription(filter);
    const levels = (shared?.filter ?? filter).split('/');
    // path[i] is the node reached after i levels; path[levels.length] is the node the filter ends at.
    const path: TrieNode<V>[] = [this.#root];
    let node: TrieNode<V> | undefined = this.#root;
    for (const level of levels) {
      node = level === '+' ? node.plus : level === '#' ? node.hash : node.children?.get(level);
      if (node === undefined) return false;
      path.push(node);
    }

    if (shared === undefined) {
      if (node.subs?.delete(key) !== true) return false;
      if (node.subs.size === 0) {
        node.subs = undefined;
        node.filter = undefined;
      }
    } else {
      const group = node.shared?.get(filter);
      if (group?.delete(key) !== true) return false;
      if (group.size === 0) {
        node.shared?.delete(filter);
        if (node.shared?.size === 0) node.shared = undefined;
      }
    }
    this.#size--;

    // Prune from the leaf up while nodes hold nothing.
    for (let i = levels.length; i > 0; i--) {
      const child = path[i];
      const parent = path[i - 1];
      const level = levels[i - 1];
      if (child === undefined || parent === undefined || level === undefined || !isEmpty(child)) break;
      this.#nodes--;
      if (level === '+') parent.plus = undefined;
      else if (level === '#') parent.hash = undefined;
      else if (parent.children !== undefined) {
        parent.children.delete(level);
        if (parent.children.size === 0) parent.children = undefined;
      }
    }
    return true;
  }

  /** Removes every subscription of `key` and returns how many there were. O(size): for session teardown. */
  removeAllFor(key: string): number {
    const filters: string[] = [];
    for (const entry of this.entries()) if (entry.key === key) filters.push(entry.filter);
    for (const filter of filters) this.remove(filter, key);
    return filters.length;
  }

  /** Every (filter, key) whose filter matches the topic name `topic`, each once, in no particular order. */
  match(topic: string): TrieEntry<V>[] {
    const out: TrieEntry<V>[] = [];
    const levels = topic.split('/');
    if (topic.charCodeAt(0) === 0x24 /* '$' */) {
      // [MQTT-4.7.2-1] skip the root's `+` and `#`: a `$` topic is reached only through a literal first level.
      const first = this.#root.children?.get(levels[0] ?? '');
      if (first !== undefined) collect(first, levels, 1, out);
      return out;
    }
    collect(this.#root, levels, 0, out);
    return out;
  }

  /** Every (filter, key, value), depth first. Do not add or remove while iterating. */
  *entries(): IterableIterator<TrieEntry<V>> {
    const stack: TrieNode<V>[] = [this.#root];
    for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
      yield* leaves(node);
      if (node.hash !== undefined) stack.push(node.hash);
      if (node.plus !== undefined) stack.push(node.plus);
      if (node.children !== undefined) for (const c of node.children.values()) stack.push(c);
    }
  }
}

/** Appends the subscriptions under `node` matching `levels[depth..]`; `node` matched `levels[0..depth)`. */
function collect<V>(node: TrieNode<V>, levels: readonly string[], depth: number, out: TrieEntry<V>[]): void {
  // '#' matches the remaining levels, none included ('sport/#' matches 'sport') [MQTT-4.7.1-2].
  if (node.hash !== undefined) emit(node.hash, out);
  const level = levels[depth];
  if (level === undefined) {
    emit(node, out);
    return;
  }
  const child = node.children?.get(level);
  if (child !== undefined) collect(child, levels, depth + 1, out);
  if (node.plus !== undefined) collect(node.plus, levels, depth + 1, out);
}

function emit<V>(node: TrieNode<V>, out: TrieEntry<V>[]): void {
  if (node.subs !== undefined && node.filter !== undefined) {
    const filter = node.filter;
    for (const [key, value] of node.subs) out.push({ filter, key, value });
  }
  if (node.shared !== undefined) {
    for (const [filter, group] of node.shared) for (const [key, value] of group) out.push({ filter, key, value });
  }
}

function* leaves<V>(node: TrieNode<V>): IterableIterator<TrieEntry<V>> {
  if (node.subs !== undefined && node.filter !== undefined) {
    const filter = node.filter;
    for (const [key, value] of node.subs) yield { filter, key, value };
  }
  if (node.shared !== undefined) {
    for (const [filter, group] of node.shared) for (const [key, value] of group) yield { filter, key, value };
  }
}
