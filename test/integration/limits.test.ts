// Deployment defaults and limits: anonymous clients refused, oversize packets rejected.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionOffline, startBroker, type RunningBroker } from './broker.js';
import { RawClient, connectBytes, connectClient, end, publishBytes, recorder, sentinel, subscribe } from './clients.js';

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
