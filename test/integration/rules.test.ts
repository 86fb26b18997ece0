// Rules end to end: the real Worker and Durable Objects in workerd, real mqtt.js publishers, and a real HTTP
// receiver on 127.0.0.1 in this process (one that answers, one that fails and recovers, one that never does).
// What is checked is what the issue asks: at least once, in order per topic, memory bounded by one batch
// while the receiver is down, delivery resumed by the alarm after a restart, counters and errors in the API,
// the secret answered once.
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeSession, startBroker, tempPersistDir, type RunningBroker } from './broker.js';
import { connectClient, end, waitUntil } from './clients.js';
import { api, newTenant, newToken } from './tenants.js';
import { batchMessages, signatureValid, startReceiver, type ReceivedRequest, type WebhookReceiver } from './webhook-receiver.js';

const ADMIN = 'rules-admin-secret';
const TENANT = 'acme';
const VARS = { ADMIN_TOKEN: ADMIN, ALLOW_ANONYMOUS: 'false' };

let broker: RunningBroker;
let master: string;
let publisher: MqttClient;
const receivers: WebhookReceiver[] = [];

async function receiver(): Promise<WebhookReceiver> {
  const started = await startReceiver();
  receivers.push(started);
  return started;
}

const rulesApi = (method: string, path: string, body?: unknown, bearer = master) => api(broker, method, `/tenants/${TENANT}/rules${path}`, bearer, body);

/** Creates a rule and waits until its session link is up; answers the generated secret. */
async function createRule(body: Record<string, unknown>): Promise<string | undefined> {
  const created = await rulesApi('POST', '', body);
  expect(created.status, JSON.stringify(created.json)).toBe(201);
  await waitUntil(async () => (await rulesApi('GET', `/${body.name as string}`)).json.rule.status.link === 'connected', { what: `rule ${body.name as string} connected` });
  return created.json.secret as string | undefined;
}

async function rule(name: string) {
  const answer = await rulesApi('GET', `/${name}`);
  expect(answer.status).toBe(200);
  return answer.json.rule;
}

/** Publishes at most this many at once: mqtt.js does not keep to the broker's Receive Maximum (1024) itself. */
const PUBLISH_WINDOW = 500;

/** Publishes all at QoS 1, in order, and resolves once every PUBACK arrived. */
async function publishAll(messages: Array<{ topic: string; payload: string | Buffer; properties?: Record<string, unknown> }>, client = publisher): Promise<void> {
  for (let i = 0; i < messages.length; i += PUBLISH_WINDOW) {
    await Promise.all(messages.slice(i, i + PUBLISH_WINDOW).map((m) => client.publishAsync(m.topic, m.payload, { qos: 1, ...(m.properties ? { properties: m.properties } : {}) })));
  }
}

/** Every message in the requests the receiver accepted, in the order it accepted them. */
function acceptedMessages(target: WebhookReceiver) {
  return target.accepted().flatMap(batchMessages);
}

/** Per topic, the sequence numbers received (payload "<n>"): in order means each first sighting is increasing. */
function orderReport(received: Array<{ topic: string; payload: string }>, published: number) {
  const seen = new Set<string>();
  let duplicates = 0;
  let outOfOrder = 0;
  const last = new Map<string, number>();
  for (const { topic, payload } of received) {
    const key = `${topic} ${payload}`;
    if (seen.has(key)) {
      duplicates++;
      continue;
    }
    seen.add(key);
    const n = Number(payload);
    if ((last.get(topic) ?? -1) > n) outOfOrder++;
    last.set(topic, n);
  }
  return { published, received: received.length, unique: seen.size, duplicates, outOfOrder };
}

beforeAll(async () => {
  broker = await startBroker({ vars: VARS });
  master = await newTenant(broker, ADMIN, TENANT);
  const device = await newToken(broker, TENANT, master, { name: 'device', acl: [{ filter: '#', rights: ['pub', 'sub'] }] });
  publisher = await connectClient(broker.mqttUrl, { username: device.token, clientId: 'publisher', protocolVersion: 5 });
});

afterAll(async () => {
  if (publisher) await end(publisher, true);
  await broker?.stop();
  await Promise.all(receivers.map((r) => r.close()));
});

describe('rules: messages out to a webhook', () => {
  it('JSON batches: base64 payloads, MQTT 5 properties, at most maxMessages each, signed with HMAC-SHA256 over timestamp.body', async () => {
    const hook = await receiver();
    const secret = await createRule({ name: 'json', filter: 'json/#', destination: { type: 'webhook', url: hook.url }, batch: { maxMessages: 10, maxWaitMs: 200 } });
    expect(secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    const binary = Buffer.from([0, 255, 1, 128]);
    await publishAll([
      ...Array.from({ length: 23 }, (_, i) => ({ topic: `json/${i % 3}`, payload: String(i) })),
      { topic: 'json/binary', payload: binary },
      { topic: 'json/props', payload: '{"t":21.5}', properties: { contentType: 'application/json', userProperties: { site: 'north' } } },
    ]);
    await waitUntil(() => acceptedMessages(hook).length >= 25, { what: '25 messages at the receiver' });
    const requests = hook.accepted();
    for (const request of requests) {
      expect(signatureValid(request, secret!)).toBe(true);
      expect(signatureValid(request, `${secret!}x`)).toBe(false);
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.headers['x-edge-mqtt-rule']).toBe('json');
      expect(request.headers['x-edge-mqtt-attempt']).toBe('1');
      expect(Math.abs(Number(request.headers['x-edge-mqtt-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
      const body = JSON.parse(request.body.toString());
      expect(body).toMatchObject({ rule: 'json', tenant: TENANT, deliveryId: request.headers['x-edge-mqtt-delivery'] });
      expect(body.messages.length).toBeLessThanOrEqual(10);
    }
    expect(new Set(requests.map((r) => r.headers['x-edge-mqtt-delivery'])).size).toBe(requests.length);
    const all = requests.flatMap((r) => JSON.parse(r.body.toString()).messages);
    expect(Buffer.from(all.find((m: { topic: string }) => m.topic === 'json/binary').payload, 'base64')).toEqual(binary);
    expect(all.find((m: { topic: string }) => m.topic === 'json/props')).toMatchObject({
      qos: 1,
      retain: false,
      contentType: 'application/json',
      userProperties: [['site', 'north']],
      payload: Buffer.from('{"t":21.5}').toString('base64'),
    });
    expect(orderReport(acceptedMessages(hook).filter((m) => /^json\/\d$/.test(m.topic)), 23)).toMatchObject({ unique: 23, duplicates: 0, outOfOrder: 0 });
    const counters = (await rule('json')).counters;
    expect(counters).toMatchObject({ deliveredMessages: 25, deliveredBatches: requests.length, failedAttempts: 0, deadLetteredMessages: 0, lastError: null });
  });

  it('raw format: one signed POST per message, the payload as body, the topic URI-encoded in X-Mqtt-Topic', async () => {
    const hook = await receiver();
    const secret = 'a-secret-of-the-receivers-choice';
    expect(await createRule({ name: 'raw', filter: 'raw/+', destination: { type: 'webhook', url: hook.url, format: 'raw', secret, headers: [{ name: 'Authorization', value: 'Bearer receiver-token' }] } })).toBeUndefined();
    await publishAll([
      { topic: 'raw/ä ö', payload: Buffer.from([1, 2, 3]) },
      { topic: 'raw/b', payload: 'text', properties: { contentType: 'text/plain' } },
    ]);
    await waitUntil(() => hook.accepted().length >= 2, { what: 'two raw POSTs' });
    const [first, second] = hook.accepted() as [ReceivedRequest, ReceivedRequest];
    expect(decodeURIComponent(first.headers['x-mqtt-topic'] as string)).toBe('raw/ä ö');
    expect(first.body).toEqual(Buffer.from([1, 2, 3]));
    expect(first.headers['content-type']).toBe('application/octet-stream');
    expect(first.headers['x-mqtt-qos']).toBe('1');
    expect(first.headers.authorization).toBe('Bearer receiver-token');
    expect(second.body.toString()).toBe('text');
    expect(second.headers['content-type']).toBe('text/plain');
    expect(first.headers['x-edge-mqtt-delivery']).toMatch(/\.0$/);
    for (const request of [first, second]) expect(signatureValid(request, secret)).toBe(true);
  });

  it('header values are write-only like the secret: answers name them only, and a name alone keeps the stored value', async () => {
    const hook = await receiver();
    const destination = { type: 'webhook', url: hook.url, format: 'raw', headers: [{ name: 'Authorization', value: 'Bearer kept-credential' }] };
    await createRule({ name: 'auth', filter: 'auth/+', destination });
    const shown = await rulesApi('GET', '/auth');
    expect(shown.json.rule.destination.headers).toEqual([{ name: 'Authorization' }]);
    expect(JSON.stringify((await rulesApi('GET', '')).json)).not.toContain('kept-credential');
    // An edit that names the header alone keeps its value; one that gives a value replaces it.
    const kept = await rulesApi('PUT', '/auth', { filter: 'auth/+', destination: { ...destination, headers: [{ name: 'Authorization' }, { name: 'X-Site', value: 'north' }] } });
    expect(kept.status, JSON.stringify(kept.json)).toBe(200);
    expect(kept.json.rule.destination.headers).toEqual([{ name: 'Authorization' }, { name: 'X-Site' }]);
    expect(JSON.stringify(kept.json)).not.toContain('kept-credential');
    await waitUntil(async () => (await rulesApi('GET', '/auth')).json.rule.status.link === 'connected', { what: 'rule auth connected again' });
    await publishAll([{ topic: 'auth/1', payload: 'x' }]);
    await waitUntil(() => hook.accepted().length >= 1, { what: 'a POST with the kept header' });
    expect(hook.accepted()[0]!.headers).toMatchObject({ authorization: 'Bearer kept-credential', 'x-site': 'north' });
    // A name alone with nothing stored under it is refused, at creation or edit.
    const refused = await rulesApi('POST', '', { name: 'auth2', filter: 'a/#', destination: { type: 'webhook', url: hook.url, headers: [{ name: 'Authorization' }] } });
    expect(refused.status).toBe(400);
    expect(refused.json.error).toMatch(/header "Authorization" has no value/);
    expect((await rulesApi('DELETE', '/auth')).status).toBe(204);
  });

  it('a receiver that fails (500s and closed sockets) and recovers: every acknowledged message arrives, in order per topic', async () => {
    const hook = await receiver();
    const failUntil = Date.now() + 3000;
    let failures = 0;
    hook.behave(() => (Date.now() < failUntil ? (failures++ % 2 === 0 ? { status: 500 } : { reset: true }) : { status: 200 }));
    await createRule({
      name: 'flaky',
      filter: 'flaky/#',
      destination: { type: 'webhook', url: hook.url, timeoutMs: 2000 },
      batch: { maxMessages: 50, maxWaitMs: 50 },
      retry: { initialDelayMs: 100, maxDelayMs: 800, maxAttempts: 100 },
    });
    const N = 1200;
    const started = Date.now();
    await publishAll(Array.from({ length: N }, (_, i) => ({ topic: `flaky/${i % 4}`, payload: String(i) })));
    const acknowledgedAt = Date.now();
    await waitUntil(() => new Set(acceptedMessages(hook).map((m) => m.payload)).size >= N, { what: `${N} messages after the receiver recovered`, timeoutMs: 30_000 });
    const report = orderReport(acceptedMessages(hook), N);
    const failed = hook.requests.filter((r) => r.answer === 'reset' || r.answer >= 300);
    const view = await rule('flaky');
    console.log(
      `[rules] fail-and-recover: published ${N} (all PUBACKed in ${acknowledgedAt - started} ms), received ${report.received}, unique ${report.unique}, duplicates ${report.duplicates}, out of order ${report.outOfOrder}; ` +
        `requests ${hook.requests.length} (${failed.length} failed: ${failed.filter((r) => r.answer === 'reset').length} closed sockets, ${failed.filter((r) => r.answer !== 'reset').length} HTTP 500), ` +
        `all delivered ${Date.now() - failUntil} ms after recovery; rule held at most ${view.status.maxHeld} messages`,
    );
    expect(report).toMatchObject({ unique: N, outOfOrder: 0 });
    expect(failed.length).toBeGreaterThan(2);
    expect(view.counters.failedAttempts).toBe(failed.length);
    expect(view.counters.deadLetteredMessages).toBe(0);
    expect(view.counters.deliveredMessages).toBeGreaterThanOrEqual(N);
    expect(view.counters.recentErrors.length).toBeGreaterThan(0);
    expect(view.status.maxHeld).toBeLessThanOrEqual(50);
    // A retried batch keeps its delivery id: the receiver saw the same id fail and then succeed.
    const succeededIds = new Set(hook.accepted().map((r) => r.headers['x-edge-mqtt-delivery']));
    expect(failed.some((r) => succeededIds.has(r.headers['x-edge-mqtt-delivery']))).toBe(true);
    expect(failed.filter((r) => r.answer !== 'reset').some((r) => Number(r.headers['x-edge-mqtt-attempt']) > 1)).toBe(true);
  });

  it('a receiver that never recovers: each batch is dead-lettered after maxAttempts, counted, and the rule moves on', async () => {
    const hook = await receiver();
    hook.behave({ status: 503 });
    await createRule({
      name: 'dead',
      filter: 'dead/#',
      destination: { type: 'webhook', url: hook.url },
      batch: { maxMessages: 5, maxWaitMs: 50 },
      retry: { initialDelayMs: 50, maxDelayMs: 100, maxAttempts: 3 },
    });
    await publishAll(Array.from({ length: 12 }, (_, i) => ({ topic: 'dead/x', payload: String(i) })));
    await waitUntil(async () => (await rule('dead')).counters.deadLetteredMessages === 12, { what: '12 dead-lettered', timeoutMs: 10_000 });
    let view = await rule('dead');
    expect(view.counters.failedAttempts).toBe(3 * view.counters.deadLetteredBatches);
    expect(hook.requests.length).toBe(3 * view.counters.deadLetteredBatches);
    expect(view.counters.lastError).toMatchObject({ status: 503, message: expect.stringContaining('no success in 3 attempts') });
    expect(view.counters.lastDeadLetterAt).toBeGreaterThan(0);
    expect(view.session).toEqual({ queued: 0, inflight: 0 });
    // It moved on: the receiver is back, the next messages go through.
    hook.behave({ status: 200 });
    await publishAll([{ topic: 'dead/x', payload: 'after' }]);
    await waitUntil(() => acceptedMessages(hook).some((m) => m.payload === 'after'), { what: 'the next message delivered' });
    // A 400 says the content is refused: dead-lettered at the first attempt, not retried.
    hook.behave({ status: 400 });
    const failedBefore = (await rule('dead')).counters.failedAttempts;
    await publishAll([{ topic: 'dead/x', payload: 'refused' }]);
    await waitUntil(async () => (await rule('dead')).counters.deadLetteredMessages === 13, { what: 'the refused message dead-lettered' });
    view = await rule('dead');
    expect(view.counters.failedAttempts).toBe(failedBefore + 1);
    expect(view.counters.lastError.message).toContain('refused by the receiver (HTTP 400)');
  });

  it('bounded memory: while the receiver is down the rule holds one batch and the session queues the rest; all arrive in order once it is back', async () => {
    const hook = await receiver();
    hook.behave({ status: 503 });
    await createRule({
      name: 'backlog',
      filter: 'backlog/#',
      destination: { type: 'webhook', url: hook.url },
      batch: { maxMessages: 20, maxWaitMs: 20 },
      retry: { initialDelayMs: 300, maxDelayMs: 600, maxAttempts: 1000 },
    });
    const N = 4000;
    const started = Date.now();
    await publishAll(Array.from({ length: N }, (_, i) => ({ topic: `backlog/${i % 8}`, payload: String(i) })));
    const publishMs = Date.now() - started;
    const down = await rule('backlog');
    expect(down.status.maxHeld).toBeLessThanOrEqual(20);
    expect(down.session.queued + down.session.inflight).toBe(N);
    expect(down.session.inflight).toBeLessThanOrEqual(20);
    const recoveredAt = Date.now();
    hook.behave({ status: 200 });
    await waitUntil(() => acceptedMessages(hook).length >= N, { what: `${N} messages after recovery`, timeoutMs: 60_000 });
    const drainMs = Date.now() - recoveredAt;
    const report = orderReport(acceptedMessages(hook), N);
    const up = await rule('backlog');
    console.log(
      `[rules] bounded memory: ${N} messages published while the receiver was down (${publishMs} ms, all PUBACKed); rule held at most ${up.status.maxHeld} (maxMessages 20), ` +
        `its session queued ${down.session.queued} + ${down.session.inflight} in flight; drained in ${drainMs} ms after recovery in ${hook.accepted().length} batches; ` +
        `received ${report.received}, unique ${report.unique}, duplicates ${report.duplicates}, out of order ${report.outOfOrder}`,
    );
    expect(report).toMatchObject({ unique: N, duplicates: 0, outOfOrder: 0 });
    expect(up.status.maxHeld).toBeLessThanOrEqual(20);
    await waitUntil(async () => (await rule('backlog')).session.queued === 0, { what: 'the session queue empty' });
  });

  it('a disabled rule holds its session, which queues; enabling it delivers the backlog; a changed filter starts a clean session', async () => {
    const hook = await receiver();
    const body = { name: 'pause', filter: 'pause/a', destination: { type: 'webhook', url: hook.url }, batch: { maxWaitMs: 20 } };
    await createRule(body);
    expect((await rulesApi('PUT', '/pause', { ...body, enabled: false })).status).toBe(200);
    await waitUntil(async () => (await rule('pause')).status.link === 'disabled', { what: 'the link closed' });
    await publishAll([{ topic: 'pause/a', payload: '1' }, { topic: 'pause/a', payload: '2' }]);
    await waitUntil(async () => (await rule('pause')).session?.queued === 2, { what: 'two queued while disabled' });
    expect(hook.requests).toHaveLength(0);
    expect((await rulesApi('PUT', '/pause', body)).status).toBe(200);
    await waitUntil(() => acceptedMessages(hook).length === 2, { what: 'the backlog delivered' });
    // A new filter: what the old session queued matched the old one, so it starts afresh.
    expect((await rulesApi('PUT', '/pause', { ...body, filter: 'pause/b', enabled: false })).status).toBe(200);
    await publishAll([{ topic: 'pause/a', payload: 'old' }]);
    expect((await rulesApi('PUT', '/pause', { ...body, filter: 'pause/b' })).status).toBe(200);
    await waitUntil(async () => (await rule('pause')).status.link === 'connected', { what: 'reconnected' });
    await publishAll([{ topic: 'pause/b', payload: 'new' }]);
    await waitUntil(() => acceptedMessages(hook).some((m) => m.payload === 'new'), { what: 'the new filter delivered' });
    expect(acceptedMessages(hook).map((m) => m.payload)).toEqual(['1', '2', 'new']);
    // Deleting the rule ends its session.
    expect((await rulesApi('DELETE', '/pause')).status).toBe(204);
    await waitUntil(async () => (await describeSession(broker, '$rule/pause', TENANT)) === undefined, { what: 'the rule session ended' });
    expect((await rulesApi('GET', '/pause')).status).toBe(404);
  });

  it('the API: counters and last errors, a test send, the secret answered only at creation (kept or replaced by PUT)', async () => {
    const hook = await receiver();
    const body = { name: 'api', filter: 'api/#', destination: { type: 'webhook', url: hook.url }, batch: { maxWaitMs: 20 } };
    const created = await rulesApi('POST', '', body);
    const secret = created.json.secret as string;
    expect(created.json.rule.destination).toEqual({ type: 'webhook', url: hook.url, format: 'json', timeoutMs: 10_000, secretSet: true });
    // Never again: not in the rule, the list, a replace that keeps it, or one that sets a new one.
    const replaced = await rulesApi('PUT', '/api', body);
    expect(replaced.json.secret).toBeUndefined();
    const newSecret = 'the-receivers-new-secret-0123';
    const replacedWithSecret = await rulesApi('PUT', '/api', { ...body, destination: { ...body.destination, secret: newSecret } });
    for (const answer of [await rulesApi('GET', ''), await rulesApi('GET', '/api'), replaced, replacedWithSecret]) {
      expect(answer.status).toBe(200);
      expect(JSON.stringify(answer.json)).not.toContain(secret);
      expect(JSON.stringify(answer.json)).not.toContain(newSecret);
      expect(JSON.stringify(answer.json)).not.toMatch(/"secret"/);
    }
    // The test send: a sample message, signed with the current secret.
    const tested = await rulesApi('POST', '/api/test');
    expect(tested.json).toMatchObject({ ok: true });
    expect(signatureValid(hook.requests.at(-1)!, newSecret)).toBe(true);
    expect(batchMessages(hook.requests.at(-1)!)[0]).toMatchObject({ topic: 'api/test' });
    hook.behave({ status: 500 });
    expect((await rulesApi('POST', '/api/test')).json).toMatchObject({ ok: false, status: 500, error: 'HTTP 500: receiver says 500' });
    // A failure shows in the counters with its status and time.
    await publishAll([{ topic: 'api/x', payload: 'p' }]);
    await waitUntil(async () => (await rule('api')).counters.failedAttempts > 0, { what: 'a failed attempt counted' });
    const view = await rule('api');
    expect(view.counters.lastError).toMatchObject({ status: 500, message: 'HTTP 500: receiver says 500', attempt: 1 });
    expect(view.status.retry).toMatchObject({ attempts: 1 });
    hook.behave({ status: 200 });
    await waitUntil(async () => (await rule('api')).counters.deliveredMessages === 1, { what: 'delivered after the retry', timeoutMs: 8000 });
    expect((await rule('api')).counters.lastSuccessAt).toBeGreaterThan(view.counters.lastError.at);
    const listed = (await rulesApi('GET', '')).json.rules.map((r: { name: string }) => r.name);
    expect(listed).toContain('api');
  });

  it('400 on bad input, 404 for a missing rule, 409 for a duplicate or past the cap, 403 for a token that is not a master', async () => {
    const url = 'https://example.com/hook';
    const bad: Array<[unknown, string]> = [
      [{ name: 'x', filter: 'a/#', destination: { type: 'webhook', url: 'http://example.com/hook' } }, 'body.destination.url must be https:// (http:// only to localhost or 127.0.0.1)'],
      [{ name: 'x', filter: 'a/#', destination: { type: 'webhook', url: 'ftp://example.com' } }, 'body.destination.url must be an http(s) URL without a fragment'],
      [{ name: 'x', filter: 'a/#', destination: { type: 'webhook', url: 'https://user:pw@example.com' } }, 'body.destination.url must not carry credentials (use headers)'],
      [{ name: 'x', filter: 'a/#/b', destination: { type: 'webhook', url } }, 'body.filter must be a valid MQTT topic filter'],
      [{ name: 'x', filter: '$share/g/a', destination: { type: 'webhook', url } }, 'body.filter must be a plain topic filter, not a shared subscription'],
      [{ name: 'x', filter: '$SYS/#', destination: { type: 'webhook', url } }, "body.filter must not start with $ (rules see the tenant's own topics)"],
      [{ name: 'Bad Name', filter: 'a', destination: { type: 'webhook', url } }, 'body.name must match ^[a-z0-9][a-z0-9_-]{0,63}$'],
      [{ filter: 'a', destination: { type: 'webhook', url } }, 'body.name is required'],
      [{ name: 'x', filter: 'a', destination: { type: 'webhook' } }, 'body.destination .url is required for a webhook'],
      [{ name: 'x', filter: 'a', destination: { type: 'queue', binding: 'NO_SUCH_QUEUE' } }, 'body.destination.binding: this Worker has no Queue producer binding "NO_SUCH_QUEUE" (add [[queues.producers]] to wrangler.toml)'],
      [{ name: 'x', filter: 'a', destination: { type: 'queue', binding: 'Q', url } }, 'body.destination .url is for webhook destinations only'],
      [{ name: 'x', filter: 'a', destination: { type: 'webhook', url, secret: 'short' } }, 'body.destination.secret must have at least 16 characters'],
      [{ name: 'x', filter: 'a', destination: { type: 'webhook', url, headers: [{ name: 'X-Edge-Mqtt-Signature', value: 'forged' }] } }, 'body.destination.headers[0] header "X-Edge-Mqtt-Signature" is set by the rule itself'],
      [{ name: 'x', filter: 'a', destination: { type: 'webhook', url }, batch: { maxMessages: 0 } }, 'body.batch.maxMessages must be at least 1'],
      [{ name: 'x', filter: 'a', destination: { type: 'webhook', url }, retry: { initialDelayMs: 5000, maxDelayMs: 1000 } }, 'body.retry.initialDelayMs must not exceed maxDelayMs'],
      [{ name: 'x', filter: 'a', destination: { type: 'webhook', url }, extra: 1 }, 'body has an unknown field "extra"'],
      ['not json', 'body must be valid JSON'],
    ];
    for (const [body, error] of bad) expect(await rulesApi('POST', '', body), JSON.stringify(body)).toMatchObject({ status: 400, json: { error } });
    expect((await rulesApi('PUT', '/json', { name: 'other', filter: 'a', destination: { type: 'webhook', url } })).json).toEqual({ error: 'body.name must be the name in the path (a rule cannot be renamed)' });
    expect((await rulesApi('GET', '/nope')).status).toBe(404);
    expect((await rulesApi('PUT', '/nope', { filter: 'a', destination: { type: 'webhook', url } })).status).toBe(404);
    expect((await rulesApi('DELETE', '/nope')).status).toBe(404);
    expect((await rulesApi('POST', '/nope/test')).status).toBe(404);
    expect((await rulesApi('GET', '/Bad%20Name')).status).toBe(400);
    expect((await rulesApi('POST', '', { name: 'json', filter: 'a', destination: { type: 'webhook', url } })).status).toBe(409);
    const device = await newToken(broker, TENANT, master, { name: 'not-master', acl: [] });
    expect((await rulesApi('GET', '', undefined, device.token)).status).toBe(403);
    expect((await api(broker, 'GET', `/tenants/${TENANT}/rules`, '')).status).toBe(401);
    const document = (await api(broker, 'GET', '/openapi.json', '')).json;
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(['/api/v1/tenants/{tenant}/rules', '/api/v1/tenants/{tenant}/rules/{name}', '/api/v1/tenants/{tenant}/rules/{name}/test']));
    expect(document.components.schemas.RuleInput.required).toEqual(['filter', 'destination']);
    // The admin may use them too.
    expect((await api(broker, 'GET', `/tenants/${TENANT}/rules`, ADMIN)).status).toBe(200);
    // At most 20 rules per tenant: the 21st is refused.
    const other = await newTenant(broker, ADMIN, 'capped');
    for (let i = 0; i < 20; i++) {
      const made = await api(broker, 'POST', '/tenants/capped/rules', other, { name: `r${i}`, filter: `c/${i}`, enabled: false, destination: { type: 'webhook', url } });
      expect(made.status).toBe(201);
    }
    expect((await api(broker, 'POST', '/tenants/capped/rules', other, { name: 'r20', filter: 'c/20', destination: { type: 'webhook', url } })).json).toEqual({ error: 'a tenant may have at most 20 rules' });
  });
});

describe('rules across a restart of the runtime', () => {
  it('messages pending when the runtime stops are delivered after it starts again, woken by the alarm, without any client reconnecting', async () => {
    const dir = tempPersistDir();
    const hook = await receiver();
    hook.behave({ status: 503 });
    let running = await startBroker({ vars: VARS, persistDir: dir });
    try {
      const token = await newTenant(running, ADMIN, 'restart');
      const made = await api(running, 'POST', '/tenants/restart/rules', token, {
        name: 'survivor',
        filter: 'r/#',
        destination: { type: 'webhook', url: hook.url },
        batch: { maxMessages: 25, maxWaitMs: 20 },
        retry: { initialDelayMs: 200, maxDelayMs: 1000, maxAttempts: 1000 },
      });
      expect(made.status).toBe(201);
      const device = await newToken(running, 'restart', token, { name: 'd', acl: [{ filter: '#', rights: ['pub'] }] });
      const client = await connectClient(running.mqttUrl, { username: device.token, clientId: 'd', protocolVersion: 5 });
      const N = 300;
      await publishAll(Array.from({ length: N }, (_, i) => ({ topic: `r/${i % 3}`, payload: String(i) })), client);
      await end(client);
      await waitUntil(() => hook.requests.length >= 2, { what: 'failed attempts before the restart' });
      const before = (await api(running, 'GET', '/tenants/restart/rules/survivor', token)).json.rule;
      expect(before.status.retry).not.toBeNull();
      await running.stop();
      hook.behave({ status: 200 });
      const restartedAt = Date.now();
      running = await startBroker({ vars: VARS, persistDir: dir });
      await waitUntil(() => acceptedMessages(hook).length >= N, { what: `${N} messages after the restart`, timeoutMs: 45_000 });
      const report = orderReport(acceptedMessages(hook), N);
      const firstAccepted = hook.accepted()[0]!;
      console.log(
        `[rules] restart: ${N} messages pending (${before.status.retry.attempts} failed attempts, batch of ${before.status.inFlight} in flight); first delivery ${firstAccepted.at - restartedAt} ms after the restart (attempt ${firstAccepted.headers['x-edge-mqtt-attempt']}), ` +
          `all ${Date.now() - restartedAt} ms after; received ${report.received}, unique ${report.unique}, duplicates ${report.duplicates}, out of order ${report.outOfOrder}`,
      );
      expect(report).toMatchObject({ unique: N, outOfOrder: 0 });
      // The batch that was being retried kept its attempt count across the restart.
      expect(Number(firstAccepted.headers['x-edge-mqtt-attempt'])).toBeGreaterThan(1);
    } finally {
      await running.stop();
    }
  });
});
