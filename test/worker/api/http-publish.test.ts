// HTTP publish against the broker's limits: sizes answer 413 before anything breaks, a token's publishRate 429.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishBodyLimit, publishPacketSize } from '../../../worker/api/http-publish.js';
import { MAXIMUM_STORABLE_PACKET } from '../../../durable-objects/config.js';
import { ADMIN, startWorkerApi, type WorkerApi } from './worker-api.js';

const MiB = 1024 * 1024;

describe('HTTP publish sizes (MAX_PACKET_SIZE 1 MiB)', () => {
  let api: WorkerApi;
  let master: string;
  beforeAll(async () => {
    api = await startWorkerApi();
    master = await api.newTenant('sizes');
  });
  afterAll(() => api?.stop());

  const publish = (body: unknown, bearer = master) => api.call('POST', '/tenants/sizes/publish', bearer, body);

  it('an 8 MiB payload is refused with 413, by the admin too', async () => {
    const big = { topic: 'big/a', payload: 'x'.repeat(8 * MiB) };
    for (const bearer of [master, ADMIN]) {
      const answer = await publish(big, bearer);
      expect(answer.status).toBe(413);
      expect(answer.json.error).toMatch(/larger than this broker's limit/);
    }
  });

  it('a 3 MiB retained payload answers 413, not 500 (a Durable Object row stops at 2 MB)', async () => {
    const answer = await publish({ topic: 'big/retained', payload: 'x'.repeat(3 * MiB), retain: true });
    expect(answer.status).toBe(413);
    expect(answer.json).toHaveProperty('error');
  });

  it('a 40 MiB chunked body without Content-Length is refused with 413 without being buffered whole', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(MiB));
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"topic":"big/stream","payload":"'));
      },
      pull(controller) {
        if (pulled++ < 40) controller.enqueue(chunk);
        else {
          controller.enqueue(new TextEncoder().encode('"}'));
          controller.close();
        }
      },
    });
    const response = await api.broker.miniflare.dispatchFetch(`${api.broker.httpUrl}/api/v1/tenants/sizes/publish`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${master}`, 'Content-Type': 'application/json' },
      body: body as never,
      duplex: 'half',
    } as never);
    expect(response.status).toBe(413);
    expect(response.headers.get('Content-Length')).not.toBe(String(41 * MiB));
    expect((await response.json()) as unknown).toHaveProperty('error');
  });

  it('a declared Content-Length past the body limit is refused before reading', async () => {
    const limit = publishBodyLimit(MiB);
    const answer = await publish(JSON.stringify({ topic: 'big/declared', payload: 'y'.repeat(limit) }));
    expect(answer.status).toBe(413);
  });

  it('a base64 payload that fills the packet exactly is accepted, one byte more is 413', async () => {
    const topic = 'fit/exactly';
    let payloadLength = MiB;
    while (publishPacketSize(topic, payloadLength, 1) > MiB) payloadLength--;
    const base64 = (n: number) => Buffer.alloc(n, 0xab).toString('base64');
    const fits = await publish({ topic, payload: base64(payloadLength), encoding: 'base64', qos: 1, retain: true });
    expect(fits.status, JSON.stringify(fits.json)).toBe(200);
    const over = await publish({ topic, payload: base64(payloadLength + 1), encoding: 'base64', qos: 1 });
    expect(over.status).toBe(413);
    expect(over.json.error).toBe(`the message is larger than this broker's maximum packet size of ${MiB} bytes`);
    const stored = await api.call('GET', `/tenants/sizes/retained?filter=${encodeURIComponent(topic)}`, master);
    expect(stored.json.messages.map((m: { bytes: number }) => m.bytes)).toEqual([payloadLength]);
  });

  it("a token's maxMessageSize answers 413", async () => {
    const small = await api.newToken('sizes', master, { acl: [{ filter: '#', rights: ['pub'] }], limits: { maxMessageSize: 10 } });
    expect((await publish({ topic: 'small/a', payload: 'x'.repeat(10) }, small.token)).status).toBe(200);
    const over = await publish({ topic: 'small/a', payload: 'x'.repeat(11) }, small.token);
    expect(over).toMatchObject({ status: 413, json: { error: "payload is larger than this token's limit of 10 bytes" } });
  });
});

describe('HTTP publish sizes (MAX_PACKET_SIZE 8 MiB)', () => {
  let api: WorkerApi;
  beforeAll(async () => {
    api = await startWorkerApi({ MAX_PACKET_SIZE: String(8 * MiB) });
    await api.newTenant('large');
  });
  afterAll(() => api?.stop());

  it('a payload a Durable Object row cannot hold is 413 even when MAX_PACKET_SIZE allows it', async () => {
    const threeMiB = await api.call('POST', '/tenants/large/publish', ADMIN, { topic: 'big/r', payload: 'x'.repeat(3 * MiB), retain: true });
    expect(threeMiB.status).toBe(413);
    const over = await api.call('POST', '/tenants/large/publish', ADMIN, { topic: 'big/r', payload: 'x'.repeat(2_100_000), retain: true });
    expect(over.status).toBe(413);
    expect(over.json.error).toBe(`the message is larger than this broker's maximum packet size of ${MAXIMUM_STORABLE_PACKET} bytes`);
    const fits = await api.call('POST', '/tenants/large/publish', ADMIN, { topic: 'big/r', payload: 'x'.repeat(MAXIMUM_STORABLE_PACKET - 16), retain: true });
    expect(fits.status, JSON.stringify(fits.json)).toBe(200);
    const stored = await api.call('GET', '/tenants/large/retained?filter=big%2Fr', ADMIN);
    expect(stored.json.messages[0].bytes).toBe(MAXIMUM_STORABLE_PACKET - 16);
  });
});

describe('HTTP publish rate', () => {
  let api: WorkerApi;
  let master: string;
  beforeAll(async () => {
    api = await startWorkerApi();
    master = await api.newTenant('rate');
  });
  afterAll(() => api?.stop());

  it("[DESIGN §5] a token's publishRate holds for HTTP publishes: 429 with Retry-After past it, counted", async () => {
    const slow = await api.newToken('rate', master, { acl: [{ filter: '#', rights: ['pub'] }], limits: { publishRate: 1 } });
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => api.call('POST', '/tenants/rate/publish', slow.token, { topic: `r/${i}`, payload: 'x' })),
    );
    const accepted = answers.filter((a) => a.status === 200).length;
    const refused = answers.filter((a) => a.status === 429);
    // One second of burst at 1/s: one publish, or two if the burst straddled a refill.
    expect(accepted).toBeGreaterThanOrEqual(1);
    expect(accepted).toBeLessThanOrEqual(2);
    expect(refused.length).toBe(10 - accepted);
    expect(refused[0]!.json).toEqual({ error: 'this token may publish 1 messages per second' });
    expect(refused[0]!.headers.get('Retry-After')).toBe('1');
    const stats = await api.call('GET', '/tenants/rate/stats', master);
    expect(stats.json.limitHits.http_publish_rate).toBe(refused.length);

    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await api.call('POST', '/tenants/rate/publish', slow.token, { topic: 'r/later', payload: 'x' })).status).toBe(200);
  });

  it('the bucket is per token: another token and the admin are not held back by it', async () => {
    const first = await api.newToken('rate', master, { acl: [{ filter: '#', rights: ['pub'] }], limits: { publishRate: 2 } });
    const second = await api.newToken('rate', master, { acl: [{ filter: '#', rights: ['pub'] }], limits: { publishRate: 2 } });
    const burst = (token: string) =>
      Promise.all(Array.from({ length: 6 }, () => api.call('POST', '/tenants/rate/publish', token, { topic: 'r/x', payload: 'x' }).then((a) => a.status)));
    const firstStatuses = await burst(first.token);
    expect(firstStatuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(3);
    const secondStatuses = await burst(second.token);
    expect(secondStatuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(2);
    const admin = await Promise.all(Array.from({ length: 20 }, () => api.call('POST', '/tenants/rate/publish', ADMIN, { topic: 'r/a', payload: 'x' })));
    expect(admin.map((a) => a.status)).toEqual(Array(20).fill(200));
  });
});
