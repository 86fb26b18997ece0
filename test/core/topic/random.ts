// Seeded randomness for the topic tests (mulberry32) and a generator of valid topic names and filters.

/** A deterministic PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pick<T>(rand: () => number, items: readonly T[]): T {
  const item = items[Math.floor(rand() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

/** Few distinct levels, so random filters and topics collide often; '' and '$' levels on purpose. */
const LEVELS = ['a', 'b', 'ab', '', 'ü', '$x'] as const;
const FIRST_LEVELS = [...LEVELS, '$SYS'] as const;

export function randomTopic(rand: () => number): string {
  const depth = 1 + Math.floor(rand() * 4);
  const levels = [pick(rand, FIRST_LEVELS)];
  for (let i = 1; i < depth; i++) levels.push(pick(rand, LEVELS));
  const topic = levels.join('/');
  return topic === '' ? 'a' : topic; // a topic name is never empty
}

export function randomFilter(rand: () => number): string {
  const depth = 1 + Math.floor(rand() * 4);
  const levels: string[] = [];
  for (let i = 0; i < depth; i++) {
    const r = rand();
    levels.push(r < 0.25 ? '+' : pick(rand, i === 0 ? FIRST_LEVELS : LEVELS));
  }
  if (rand() < 0.3) levels.push('#');
  const filter = levels.join('/');
  return filter === '' ? '#' : filter;
}
