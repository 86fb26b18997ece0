// Merging the shards' pages of retained messages into one: for GET /retained, and for a SUBSCRIBE's replay
// read from every shard of a region.
//
// Each shard answers its matches after the cursor in topic order, and `next`: the topic it examined up to
// when it stopped early (null once it has nothing more). The merged page may only reach as far as every
// shard has looked, the horizon: the smallest `next`.
//
//   shard 0: a c e   next e        shard 1: b f g   next null       limit 4
//   horizon e → a b c e, next e    (f and g wait: shard 0 may hold "ea" after e)
//   limit 3   → a b c,   next c
//
// Topics compare in code point order, which is UTF-8 byte order, which is how SQLite orders the shards' rows.

/** A page of retained messages from one or more shards: `next` is where it stopped, null once nothing more. */
export interface RetainedPage<T extends { topic: string; payload: Uint8Array }> {
  messages: T[];
  next: string | null;
}

/** Compares topics in code point order (JS `<` compares UTF-16 units: U+FFFF would sort after U+10000). */
export function compareTopics(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** Surrogates (U+D800–DFFF, halves of code points ≥ U+10000) rank above U+E000–FFFF; the rest keep their order. */
function codePointRank(unit: number): number {
  return unit >= 0xe000 ? unit - 0x800 : unit >= 0xd800 ? unit + 0x2000 : unit;
}

/** Merges the shards' pages into one of at most `limit` messages and about `maxBytes` of payload. */
export function mergeRetainedPages<T extends { topic: string; payload: Uint8Array }>(
  pages: readonly RetainedPage<T>[],
  limit: number,
  maxBytes: number,
): RetainedPage<T> {
  let horizon: string | null = null;
  for (const page of pages) {
    if (page.next !== null && (horizon === null || compareTopics(page.next, horizon) < 0)) horizon = page.next;
  }
  const candidates = pages
    .flatMap((page) => page.messages)
    .filter((message) => horizon === null || compareTopics(message.topic, horizon) <= 0)
    .sort((a, b) => compareTopics(a.topic, b.topic));
  const messages: T[] = [];
  let bytes = 0;
  for (const message of candidates) {
    if (messages.length === limit || (messages.length > 0 && bytes + message.payload.length > maxBytes)) {
      return { messages, next: messages[messages.length - 1]!.topic };
    }
    messages.push(message);
    bytes += message.payload.length;
  }
  return { messages, next: horizon };
}

