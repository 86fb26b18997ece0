// A rule whose destination is a Cloudflare Queue, with Miniflare's own Queues: the broker is started with a
// test-only producer binding (RULES_OUT) and a consumer in the same Worker that hands each Queue batch to an
// HTTP receiver in this process, so the test sees what a Queue consumer would.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from './broker.js';
import { connectClient, end, waitUntil } from './clients.js';
import { api, newTenant, newToken } from './tenants.js';
import { startReceiver, type WebhookReceiver } from './webhook-receiver.js';

const ADMIN = 'rules-queue-admin';
let broker: RunningBroker;
let consumer: WebhookReceiver;

/** The Worker with a queue() handler added: each Queue batch is POSTed to the test's receiver. */
const entry = (url: string) => `
import app from './worker/index.ts';
export * from './worker/index.ts';
export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
  async queue(batch) {
    await fetch(${JSON.stringify(url)}, { method: 'POST', body: JSON.stringify(batch.messages.map((m) => m.body)) });
    batch.ackAll();
  },
};`;

beforeAll(async () => {
  consumer = await startReceiver();
  broker = await startBroker({
    vars: { ADMIN_TOKEN: ADMIN, ALLOW_ANONYMOUS: 'false' },
    entry: entry(consumer.url),
    extraOptions: { queueProducers: { RULES_OUT: { queueName: 'rules-out' } }, queueConsumers: { 'rules-out': { maxBatchSize: 100, maxBatchTimeout: 1 } } },
  });
});

afterAll(async () => {
  await broker?.stop();
  await consumer?.close();
});

it('a queue rule sends each message as one JSON Queue message (payload in base64), in order; an unknown binding is a 400', async () => {
  const master = await newTenant(broker, ADMIN, 'q');
  expect((await api(broker, 'POST', '/tenants/q/rules', master, { name: 'bad', filter: 'a', destination: { type: 'queue', binding: 'NOPE' } })).status).toBe(400);
  const created = await api(broker, 'POST', '/tenants/q/rules', master, { name: 'to-queue', filter: 'sensors/#', destination: { type: 'queue', binding: 'RULES_OUT' }, batch: { maxWaitMs: 50 } });
  expect(created.status, JSON.stringify(created.json)).toBe(201);
  expect(created.json.secret).toBeUndefined();
  expect(created.json.rule.destination).toEqual({ type: 'queue', binding: 'RULES_OUT' });
  await waitUntil(async () => (await api(broker, 'GET', '/tenants/q/rules/to-queue', master)).json.rule.status.link === 'connected', { what: 'rule connected' });
  const device = await newToken(broker, 'q', master, { name: 'd', acl: [{ filter: '#', rights: ['pub'] }] });
  const client = await connectClient(broker.mqttUrl, { username: device.token, clientId: 'd', protocolVersion: 5 });
  const N = 150;
  await Promise.all(Array.from({ length: N }, (_, i) => client.publishAsync(`sensors/${i % 2}`, String(i), { qos: 1 })));
  await end(client);
  const received = () => consumer.requests.flatMap((r) => JSON.parse(r.body.toString()) as Array<{ rule: string; tenant: string; topic: string; payload: string }>);
  await waitUntil(() => received().length >= N, { what: `${N} Queue messages`, timeoutMs: 15_000 });
  const messages = received();
  expect(messages[0]).toMatchObject({ rule: 'to-queue', tenant: 'q', topic: 'sensors/0', payload: Buffer.from('0').toString('base64'), qos: 1, retain: false });
  const perTopic = (topic: string) => messages.filter((m) => m.topic === topic).map((m) => Number(Buffer.from(m.payload, 'base64').toString()));
  for (const topic of ['sensors/0', 'sensors/1']) expect(perTopic(topic)).toEqual([...perTopic(topic)].sort((a, b) => a - b));
  expect(new Set(messages.map((m) => m.payload)).size).toBe(N);
  const rule = (await api(broker, 'GET', '/tenants/q/rules/to-queue', master)).json.rule;
  expect(rule.counters).toMatchObject({ deliveredMessages: N, failedAttempts: 0 });
  expect((await api(broker, 'POST', '/tenants/q/rules/to-queue/test', master)).json).toMatchObject({ ok: true });
});
