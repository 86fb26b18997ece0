// Durability before acknowledgement [DESIGN §3]: a publisher's PUBACK leaves only once every subscriber's
// copy is stored. Here one subscriber's storage is unreadable (its SQLite file corrupted while the runtime
// was down, a real fault of the real object): its store fails, so the publisher gets no acknowledgement.
import { copyFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { startBroker, tempPersistDir } from './broker.js';
import { connectClient, end, publish, recorder, subscribe } from './clients.js';

/** The SQLite files of one Durable Object class under a persist directory. */
function objectFiles(dir: string, className: string): string[] {
  const classDir = readdirSync(dir).find((name) => name.endsWith(`-${className}`));
  if (!classDir) return [];
  return readdirSync(join(dir, classDir))
    .filter((name) => name.endsWith('.sqlite') && name !== 'metadata.sqlite')
    .map((name) => join(dir, classDir, name));
}

/** Resolves with the PUBACK's outcome, or 'no-ack' if none came while the connection lived (or in time). */
function publishOutcome(client: MqttClient, topic: string, payload: string, timeoutMs: number): Promise<'acked' | 'no-ack'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('no-ack'), timeoutMs);
    client.publish(topic, payload, { qos: 1 }, (error) => {
      clearTimeout(timer);
      resolve(error ? 'no-ack' : 'acked');
    });
  });
}

const ADMIN = 'durability-admin-secret';

describe('durability before acknowledgement', () => {
  it('[MQTT-4.3.2-2] a QoS 1 PUBLISH whose copy cannot be stored at a subscriber gets no PUBACK, and the connection closes (HTTP: 503)', async () => {
    const persistDir = tempPersistDir();
    const first = await startBroker({ persistDir });
    const sub = await connectClient(first.mqttUrl, { clientId: 'broken-store', clean: false });
    await subscribe(sub, 'durable/fail', 1);
    await end(sub);
    await first.stop();
    // The subscriber's session is the only session object so far.
    const [sessionFile, ...others] = objectFiles(persistDir, 'SessionDO');
    expect(sessionFile).toBeDefined();
    expect(others).toEqual([]);
    // SQLite in WAL mode: the database is the file and its write-ahead log; both are overwritten with junk.
    const parts = [sessionFile!, `${sessionFile}-wal`, `${sessionFile}-shm`];
    for (const part of parts) {
      copyFileSync(part, `${part}.good`);
      writeFileSync(part, Buffer.alloc(8192, 0x5a));
    }

    const broken = await startBroker({ persistDir, vars: { ADMIN_TOKEN: ADMIN } });
    try {
      const pub = await connectClient(broken.mqttUrl, { clientId: 'publisher' });
      const closed = new Promise<void>((resolve) => pub.once('close', () => resolve()));
      expect(await publishOutcome(pub, 'durable/fail', 'must-not-be-acked', 4000)).toBe('no-ack');
      // Without an acknowledgement the client resends after it reconnects [MQTT-4.4.0-1]; the broker ends the
      // connection rather than leave the message waiting.
      await closed;
      pub.end(true);
      // The same for an HTTP publish: 503 with a JSON error, never a 200 for a message not stored.
      const response = await broken.miniflare.dispatchFetch(`${broken.httpUrl}/api/v1/tenants/default/publish`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ topic: 'durable/fail', payload: 'over http', qos: 1 }),
      });
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({ error: expect.stringContaining('not stored') });
    } finally {
      await broken.stop();
    }

    // Storage repaired: the message the client resends is stored and delivered.
    for (const part of parts) copyFileSync(`${part}.good`, part);
    const repaired = await startBroker({ persistDir });
    try {
      const back = await connectClient(repaired.mqttUrl, { clientId: 'broken-store', clean: false });
      const got = recorder(back);
      const pub = await connectClient(repaired.mqttUrl, { clientId: 'publisher' });
      await publish(pub, 'durable/fail', 'resent', { qos: 1 });
      await got.waitFor(1);
      expect(got.messages.map((m) => m.payload)).toEqual(['resent']);
      await Promise.all([end(back), end(pub)]);
    } finally {
      await repaired.stop();
    }
  }, 60_000);
});
