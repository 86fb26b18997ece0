// GET /retained in pages: ?limit= and the cursor ?after=, { messages, next }, a byte budget per page, and
// shards that read a page from their index rather than every match.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareTopics } from '../../../worker/api/retained-page.js';
import { ADMIN, startWorkerApi, type WorkerApi } from './worker-api.js';

let api: WorkerApi;
/** Every retained topic published below, by filter group. */
const devices = Array.from({ length: 120 }, (_, i) => `dev/${i}/temp`);
const others = [...Array.from({ length: 60 }, (_, i) => `dev/${i}/humidity`), 'dev', 'dev-x/temp', 'devices', 'zeta/\u{1F600}', 'zeta/\uFFFD', 'zeta/a'];
const heavy = Array.from({ length: 6 }, (_, i) => `heavy/${i}`);
const HEAVY_BYTES = 900_000;

async function retain(topics: readonly string[], payload: (topic: string) => string): Promise<void> {
  for (let i = 0; i < topics.length; i += 20) {
    const answers = await Promise.all(topics.slice(i, i + 20).map((topic) => api.call('POST', '/tenants/paged/publish', ADMIN, { topic, payload: payload(topic), retain: true })));
    for (const answer of answers) expect(answer.status, JSON.stringify(answer.json)).toBe(200);
  }
}

/** Follows next from the first page; the topics of every page, and how many pages it took. */
async function allPages(query: string): Promise<{ pages: string[][]; topics: string[] }> {
  const pages: string[][] = [];
  let after: string | null = '';
  while (after !== null) {
    const answer = await api.call('GET', `/tenants/paged/retained?${query}${after ? `&after=${encodeURIComponent(after)}` : ''}`, ADMIN);
    expect(answer.status, JSON.stringify(answer.json)).toBe(200);
    pages.push(answer.json.messages.map((m: { topic: string }) => m.topic));
    after = answer.json.next;
    expect(pages.length).toBeLessThan(100);
  }
  return { pages, topics: pages.flat() };
}

beforeAll(async () => {
  api = await startWorkerApi();
  await api.newTenant('paged');
  await retain([...devices, ...others], (topic) => `v:${topic}`);
  await retain(heavy, () => 'h'.repeat(HEAVY_BYTES));
}, 120_000);
afterAll(() => api?.stop());

describe('GET /tenants/{tenant}/retained pages', () => {
  it('answers the first 100 in topic order with a next cursor; following it returns each message once', async () => {
    const first = await api.call('GET', '/tenants/paged/retained?filter=dev%2F%23', ADMIN);
    expect(first.json.messages).toHaveLength(100);
    expect(typeof first.json.next).toBe('string');
    expect(first.json.messages[0]).toEqual({ topic: 'dev', qos: 0, bytes: 5, payload: 'v:dev', encoding: 'utf8' });
    const expected = ['dev', ...devices, ...others.filter((t) => t.startsWith('dev/'))].sort(compareTopics);
    const { pages, topics } = await allPages('filter=dev%2F%23');
    expect(topics).toEqual(expected);
    expect(pages.map((p) => p.length)).toEqual([100, 81]);
  });

  it('?limit= sets the page size (at most 1000); next is null on the last page', async () => {
    const everything = [...devices, ...others, ...heavy].sort(compareTopics);
    const { pages, topics } = await allPages('limit=7');
    expect(topics).toEqual(everything);
    expect(pages.slice(0, -1).every((p) => p.length === 7 || p.some((t) => t.startsWith('heavy/')))).toBe(true);
    const one = await api.call('GET', '/tenants/paged/retained?filter=dev%2F%2B%2Ftemp&limit=1000', ADMIN);
    expect(one.json.messages.map((m: { topic: string }) => m.topic)).toEqual([...devices].sort(compareTopics));
    expect(one.json.next).toBeNull();
    for (const bad of ['0', '1001', 'x', '-5']) {
      expect(await api.call('GET', `/tenants/paged/retained?limit=${bad}`, ADMIN)).toMatchObject({ status: 400, json: { error: 'limit must be an integer from 1 to 1000' } });
    }
  });

  it('a filter with a wildcard first level pages through topics it does not match', async () => {
    const { topics } = await allPages('filter=%2B%2F5%2F%2B&limit=1');
    expect(topics).toEqual(['dev/5/humidity', 'dev/5/temp']);
  });

  it('topics beyond U+FFFF sort as the shards sort them: each page continues where the last ended', async () => {
    const { topics } = await allPages('filter=zeta%2F%23&limit=1');
    expect(topics).toEqual(['zeta/a', 'zeta/\uFFFD', 'zeta/\u{1F600}']);
  });

  it('a page ends past 4 MiB of payload, and the next one goes on', async () => {
    const first = await api.call('GET', '/tenants/paged/retained?filter=heavy%2F%23&limit=100', ADMIN);
    const bytes = first.json.messages.reduce((sum: number, m: { bytes: number }) => sum + m.bytes, 0);
    expect(first.json.messages).toHaveLength(4);
    expect(bytes).toBeLessThanOrEqual(4 * 1024 * 1024);
    expect(first.json.next).toBe('heavy/3');
    const { topics } = await allPages('filter=heavy%2F%23&limit=100');
    expect(topics).toEqual(heavy);
  });

  it('a small page reads a small part of each shard, not every retained row', async () => {
    const namespace = await api.broker.miniflare.getDurableObjectNamespace('SHARD');
    const shards = Array.from({ length: 4 }, (_, index) => namespace.get(namespace.idFromName(`paged\u0000shard\u0000${index}`)) as unknown as { invocationCounts(): Promise<{ rowsRead: number }> });
    const rowsRead = async () => (await Promise.all(shards.map((shard) => shard.invocationCounts()))).reduce((sum, counts) => sum + counts.rowsRead, 0);
    const before = await rowsRead();
    const page = await api.call('GET', '/tenants/paged/retained?limit=5', ADMIN);
    expect(page.json.messages).toHaveLength(5);
    const read = (await rowsRead()) - before;
    const stored = devices.length + others.length + heavy.length;
    // Each shard reads its first 6 (the page and one more) and the 5 payloads returned; reading every row
    // would be all of them.
    expect(read).toBeLessThan(stored / 4);
  });
});
