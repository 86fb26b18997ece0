// Deployment defaults and limits: anonymous clients refused, oversize packets rejected.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionOffline, startBroker, type RunningBroker } from './broker.js';
import { RawClient, connectBytes, connectClient, end, publishBytes, recorder, sentinel, sleep, subscribe } from './clients.js';

let strict: RunningBroker;
beforeAll(async () => {
  strict = await startBroker({ vars: { ALLOW_ANONYMOUS: 'false', MAX_PACKET_SIZE: '1024' } });
});
afterAll(async () => {
  await strict?.stop();
});

describe('limits', () => {
  it('[MQTT-3.2.2-3] a deployment without anonymous access answers CONNACK 0x05 and closes', async () => {
    const raw = new RawClient(strict.mqttUrl);
    await raw.send(connectBytes({ clientId: 'anon' }));
    expect(await raw.waitClosed()).toBe(true);
    expect([...raw.bytes()]).toEqual([0x20, 0x02, 0x00, 0x05]);
  });
});

describe('maximum packet size', () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startBroker({ vars: { MAX_PACKET_SIZE: '1024' } });
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('[MQTT-4.8.0-1] a packet over the maximum size closes the connection and nothing is delivered', async () => {
    const sub = await connectClient(broker.mqttUrl, { clientId: 'big-sub' });
    const got = recorder(sub);
    await subscribe(sub, 'big/#', 0);
    const raw = new RawClient(broker.mqttUrl);
    await raw.send(connectBytes({ clientId: 'big-pub' }));
    await raw.until((b) => b.length >= 4);
    await raw.send(publishBytes('big/ok', 'x'.repeat(900)));
    await got.waitFor(1);
    // The remaining length alone announces 2,000 bytes: refused before it is buffered.
    await raw.send(publishBytes('big/too', 'y'.repeat(2000)).subarray(0, 10));
    expect(await raw.waitClosed()).toBe(true);
    // Once its session let the connection go, a marker from the same client id on the same topic comes after
    // anything that connection published.
    await sessionOffline(broker, 'big-pub');
    const again = await connectClient(broker.mqttUrl, { clientId: 'big-pub' });
    await sentinel(again, 'big/too', got);
    expect(got.messages.map((m) => m.topic)).toEqual(['big/ok']);
    await Promise.all([end(sub), end(again)]);
  });
});

describe('admin statistics route', () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startBroker({ vars: { ADMIN_TOKEN: 'test-admin-secret' } });
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('answers 401 with a JSON error without the admin token, and the relay counters with it', async () => {
    const denied = await broker.miniflare.dispatchFetch(`${broker.httpUrl}/api/v1/stats`, { headers: { Authorization: 'Bearer wrong' } });
    expect(denied.status).toBe(401);
    expect(await denied.json()).toEqual({ error: 'missing or invalid bearer token' });
    const client = await connectClient(broker.mqttUrl, { clientId: 'stats-client' });
    const allowed = await broker.miniflare.dispatchFetch(`${broker.httpUrl}/api/v1/stats`, { headers: { Authorization: 'Bearer test-admin-secret' } });
    expect(allowed.status).toBe(200);
    const body = (await allowed.json()) as { relay: { connections: number; framesRelayed: number } };
    expect(body.relay.connections).toBeGreaterThanOrEqual(1);
    expect(body.relay.framesRelayed).toBeGreaterThanOrEqual(1);
    await end(client);
  });
});

describe('a packet left half-sent', () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startBroker({ vars: { PACKET_TIMEOUT: '1' } });
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('[MQTT-3.1.2-23] keepalive 0 does not let a client hold half a packet forever: closed after PACKET_TIMEOUT', async () => {
    const raw = new RawClient(broker.mqttUrl);
    await raw.send(connectBytes({ clientId: 'half-sender', keepAlive: 0 }));
    await raw.until((b) => b.length >= 4);
    expect([...raw.bytes().subarray(0, 4)]).toEqual([0x20, 0x02, 0x00, 0x00]);
    const started = Date.now();
    await raw.send(publishBytes('half/packet', 'z'.repeat(50_000)).subarray(0, 1000));
    expect(await raw.waitClosed(5000)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('[MQTT-3.1.2-23] a keepalive-0 client that sends whole packets, slowly, stays connected', async () => {
    const raw = new RawClient(broker.mqttUrl);
    await raw.send(connectBytes({ clientId: 'slow-sender', keepAlive: 0 }));
    await raw.until((b) => b.length >= 4);
    const packet = publishBytes('slow/packet', 'ok');
    await raw.send(packet.subarray(0, 5));
    await sleep(500);
    await raw.send(packet.subarray(5));
    await sleep(1200);
    expect(raw.closed).toBe(false);
    raw.close();
  });
});

describe('ALLOWED_ORIGINS', () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startBroker({ vars: { ALLOWED_ORIGINS: 'https://app.example.com' } });
  });
  afterAll(async () => {
    await broker?.stop();
  });

  const upgrade = (origin?: string) =>
    broker.miniflare.dispatchFetch(`${broker.httpUrl}/mqtt`, {
      headers: { Upgrade: 'websocket', 'Sec-WebSocket-Protocol': 'mqtt', ...(origin ? { Origin: origin } : {}) },
    });

  it('(RFC 6455 §10.2) a browser page from another origin is refused with 403; listed, own and absent origins connect', async () => {
    const refused = await upgrade('https://evil.example');
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({ error: expect.stringContaining('ALLOWED_ORIGINS') });
    for (const origin of ['https://app.example.com', broker.httpUrl, undefined]) {
      const accepted = await upgrade(origin);
      expect(accepted.status, String(origin)).toBe(101);
      accepted.webSocket?.accept();
      accepted.webSocket?.close();
    }
  });
});
