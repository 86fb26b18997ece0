// The operator's view end to end (issue 13): exact counters across a restart of the runtime, every limit hit
// counted, and the tenant's event log (connects, disconnects with their reason, auth failures, kicks, limit
// hits, token changes) paged and filtered through the API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogEvent } from '../../core/tenancy/event-log.js';
import { startBroker, tempPersistDir, type RunningBroker } from './broker.js';
import { connectClient, end, publish, recorder, sleep, subscribe, waitUntil } from './clients.js';
import { api as callApi, newTenant, newToken, refusedCode } from './tenants.js';

const ADMIN = 'operator-admin-secret';
const VARS = { ADMIN_TOKEN: ADMIN, ALLOW_ANONYMOUS: 'false' };

/** An event as GET /events answers it: the log's entry with its id (worker/api/events-routes.ts). */
type LoggedEvent = LogEvent & { id: string };

describe('[issue 13] counters are exact across an eviction of every object', () => {
  const dir = tempPersistDir();
  let broker: RunningBroker;
  afterAll(async () => {
    await broker?.stop();
  });

  it('messages received and sent, and the per-minute history, match what was delivered, with the runtime restarted between publishes', async () => {
    broker = await startBroker({ persistDir: dir, vars: VARS });
    const master = await newTenant(broker, ADMIN, 'counted');
    const device = await newToken(broker, 'counted', master, { name: 'device', acl: [{ filter: 'c/#', rights: ['pub', 'sub'] }] });
    const round = async (first: number) => {
      const subscriber = await connectClient(broker.mqttUrl, { clientId: 'counter-sub', username: device.token });
      const got = recorder(subscriber);
      await subscribe(subscriber, 'c/#', 1);
      const publisher = await connectClient(broker.mqttUrl, { clientId: 'counter-pub', username: device.token });
      for (let i = first; i < first + 3; i++) await publish(publisher, `c/${i}`, `m${i}`, { qos: 1 });
      await waitUntil(() => got.messages.length === 3, { what: '3 messages delivered' });
      await end(publisher);
      await end(subscriber);
      return got.messages.length;
    };
    let delivered = await round(0);
    // Quiet for longer than a count may wait in memory (a second at its sender, a second at its counter), then
    // every object goes: a restart.
    await sleep(2_500);
    await broker.stop();
    broker = await startBroker({ persistDir: dir, vars: VARS });
    delivered += await round(3);
    await sleep(2_500);
    await broker.stop();
    broker = await startBroker({ persistDir: dir, vars: VARS });

    const stats = await callApi(broker, 'GET', '/tenants/counted/stats', master);
    expect(stats.status).toBe(200);
    expect(delivered).toBe(6);
    expect(stats.json.messagesReceived).toBe(6);
    expect(stats.json.messagesSent).toBe(6);
    const history = await callApi(broker, 'GET', '/tenants/counted/stats/history?minutes=10', master);
    expect(history.status).toBe(200);
    const sum = (name: string) => history.json.minutes.reduce((total: number, point: Record<string, number>) => total + (point[name] ?? 0), 0);
    expect(sum('messages_in')).toBe(6);
    expect(sum('messages_out')).toBe(6);
    expect(sum('bytes_in')).toBe(12);
    expect(sum('connects')).toBe(4);
    expect(sum('disconnects')).toBe(4);
    expect(sum('do_requests')).toBeGreaterThan(0);
    expect(sum('do_rows_written')).toBeGreaterThan(0);
    // Per-token usage: the device token published all six.
    const usage = history.json.tokens.find((entry: { tokenId: string }) => entry.tokenId === device.id);
    expect(usage).toMatchObject({ messages_in: 6, bytes_in: 12, connects: 4 });
    // One point per minute, each with its time.
    expect(history.json.minutes).toHaveLength(10);
    expect(history.json.minutes[9].at).toBe(Math.floor(Date.now() / 60_000) * 60_000);
  });
});

describe('[issue 13] limit hits and the event log', () => {
  let broker: RunningBroker;
  let master: string;
  beforeAll(async () => {
    broker = await startBroker({ vars: VARS });
    master = await newTenant(broker, ADMIN, 'logged');
  });
  afterAll(async () => {
    await broker?.stop();
  });
  const api = (method: string, path: string, body?: unknown) => callApi(broker, method, `/tenants/logged${path}`, master, body);
  const events = async (query = ''): Promise<{ events: LoggedEvent[]; next: string | null }> => {
    const answer = await api('GET', `/events${query}`);
    expect(answer.status, JSON.stringify(answer.json)).toBe(200);
    return answer.json;
  };
  /** The first entry of the query's first page that matches, once there is one. */
  const logged = async (query: string, what: string, match: (event: LoggedEvent) => boolean): Promise<LoggedEvent> => {
    let found: LoggedEvent | undefined;
    await waitUntil(async () => (found = (await events(query)).events.find(match)) !== undefined, { what });
    return found!;
  };

  it('(5.0 §3.4.2.1, §3.9.3, §3.14.2.1: PUBACK 0x97, SUBACK 0x97, DISCONNECT 0x96) publish rate, message size and subscriptions hits are counted in the statistics and logged', async () => {
    const limited = await newToken(broker, 'logged', master, {
      name: 'limited',
      acl: [{ filter: '#', rights: ['pub', 'sub'] }],
      limits: { maxMessageSize: 10, maxSubscriptions: 1, publishRate: 1 },
    });
    const client = await connectClient(broker.mqttUrl, { clientId: 'limited-1', username: limited.token, protocolVersion: 5 });
    // Message size: 5.0 PUBACK 0x97, the connection stays.
    const sizeAck = await new Promise<number | undefined>((resolve) =>
      client.publish('t/a', 'x'.repeat(20), { qos: 1 }, (error, packet) => resolve((packet as { reasonCode?: number } | undefined)?.reasonCode ?? (error as { code?: number } | undefined)?.code)),
    );
    expect(sizeAck).toBe(0x97);
    // Subscriptions: the second filter is refused in its SUBACK slot.
    const refused = await new Promise<string>((resolve) => client.subscribe({ 's/1': { qos: 0 }, 's/2': { qos: 0 } }, (error) => resolve(String(error))));
    expect(refused).toContain('Quota exceeded');
    // Publish rate: past one per second (a burst of one), DISCONNECT 0x96.
    const cut = new Promise<number | undefined>((resolve) => client.once('disconnect', (packet) => resolve(packet.reasonCode)));
    for (let i = 0; i < 5; i++) client.publish('t/b', 'ok', { qos: 0 });
    expect(await cut).toBe(0x96);
    await end(client, true);

    await waitUntil(
      async () => {
        const hits = (await api('GET', '/stats')).json.limitHits;
        return hits.message_size >= 1 && hits.subscriptions >= 1 && hits.publish_rate >= 1 ? hits : undefined;
      },
      { what: 'message_size, subscriptions and publish_rate in limitHits' },
    );
    for (const limit of ['message_size', 'subscriptions', 'publish_rate']) {
      const entry = await logged('?kind=limit', `a ${limit} limit entry`, (e) => e.limit === limit);
      expect(entry).toMatchObject({ kind: 'limit', clientId: 'limited-1', tokenId: limited.id });
    }
    const disconnect = await logged('?clientId=limited-1&kind=disconnect', 'the rate disconnect', () => true);
    expect(disconnect).toMatchObject({ reasonCode: 0x96 });
    expect(disconnect!.message).toContain('Message rate too high');
  });

  it('connects carry client id, token, protocol and remote address; disconnects their reason; kicks and auth failures are logged', async () => {
    const device = await newToken(broker, 'logged', master, { name: 'device', acl: [{ filter: '#', rights: ['pub', 'sub'] }] });
    const client = await connectClient(broker.mqttUrl, { clientId: 'log-1', username: device.token, protocolVersion: 5, keepalive: 30 });
    const connect = await logged('?clientId=log-1&kind=connect', 'the connect entry', () => true);
    expect(connect).toMatchObject({ kind: 'connect', clientId: 'log-1', tokenId: device.id, detail: { protocol: '5.0', keepAlive: 30 } });
    expect(connect!.detail!.remoteAddress).toEqual(expect.any(String));

    // An admin kick: DISCONNECT 0x98, logged as a kick.
    const kicked = await api('DELETE', '/sessions/log-1');
    expect(kicked.status).toBe(204);
    const kick = await logged('?clientId=log-1&kind=kick', 'the kick entry', () => true);
    expect(kick).toMatchObject({ reasonCode: 0x98, tokenId: device.id });
    await end(client, true);

    // A client that goes with DISCONNECT, and one whose socket just closes.
    const polite = await connectClient(broker.mqttUrl, { clientId: 'log-2', username: device.token });
    await end(polite);
    expect((await logged('?clientId=log-2&kind=disconnect', 'a DISCONNECT', () => true))!.message).toContain('client sent DISCONNECT');
    const rude = await connectClient(broker.mqttUrl, { clientId: 'log-3', username: device.token, reconnectPeriod: 0 });
    (rude as unknown as { stream: { destroy(): void } }).stream.destroy();
    expect((await logged('?clientId=log-3&kind=disconnect', 'a lost connection', () => true))!.message).toContain('connection lost');

    // A wrong secret for a real token of the tenant: an authentication failure, with the token's id.
    const wrong = device.token.slice(0, -4) + (device.token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expect(await refusedCode(broker.mqttUrl, { clientId: 'log-4', username: wrong, protocolVersion: 5 })).toBe(0x86);
    const failure = await logged('?kind=auth_failure', 'the auth failure', (e) => e.clientId === 'log-4');
    expect(failure).toMatchObject({ tokenId: device.id, reasonCode: 0x86 });

    // Token changes.
    expect((await api('PATCH', `/tokens/${device.id}`, { name: 'device-renamed' })).status).toBe(200);
    const change = await logged(`?tokenId=${device.id}&kind=token`, 'the token change', (e) => e.message.includes('changed'));
    expect(change!.message).toContain('device-renamed');

    // Filter by token: every entry is of that token.
    const ofToken = await events(`?tokenId=${device.id}`);
    expect(ofToken.events.length).toBeGreaterThanOrEqual(6);
    expect(ofToken.events.every((e) => e.tokenId === device.id)).toBe(true);
    const stats = (await api('GET', '/stats')).json;
    expect(stats.limitHits).toBeDefined();
  });

  it('pages are newest first, continue without gaps or repeats, and bad queries get a 400 saying what is wrong', async () => {
    const device = await newToken(broker, 'logged', master, { name: 'pager', acl: [{ filter: '#', rights: ['pub', 'sub'] }] });
    for (let i = 0; i < 6; i++) await end(await connectClient(broker.mqttUrl, { clientId: `page-${i}`, username: device.token }));
    await waitUntil(async () => (await events(`?tokenId=${device.id}&kind=disconnect`)).events.length === 6, { what: '6 disconnects' });
    const all = (await events(`?tokenId=${device.id}`)).events;
    const paged: LoggedEvent[] = [];
    let next: string | null = '';
    while (next !== null) {
      const page: { events: LoggedEvent[]; next: string | null } = await events(`?tokenId=${device.id}&limit=5${next ? `&before=${next}` : ''}`);
      paged.push(...page.events);
      next = page.next;
    }
    expect(paged.map((e) => e.id)).toEqual(all.map((e) => e.id));
    // 6 connects, 6 disconnects and the token's creation.
    expect(new Set(paged.map((e) => e.id)).size).toBe(13);
    for (let i = 1; i < paged.length; i++) expect(paged[i - 1]!.at).toBeGreaterThanOrEqual(paged[i]!.at);

    for (const [query, error] of [
      ['?limit=0', 'limit must be an integer'],
      ['?before=yesterday', 'before must be the "next"'],
      ['?kind=party', 'kind must be a comma-separated list'],
    ] as const) {
      const answer = await api('GET', `/events${query}`);
      expect(answer.status).toBe(400);
      expect(answer.json.error).toContain(error);
    }
    expect((await api('GET', '/stats/history?minutes=2000')).status).toBe(400);
    // Only a master token (or the admin) reads the log.
    expect((await callApi(broker, 'GET', '/tenants/logged/events', device.token)).status).toBe(403);
  });
});
