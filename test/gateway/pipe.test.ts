// The gateway's pipe against a local `ws` server standing in for the broker: bytes, the first packet, timeouts,
// close propagation both ways, bounds, refusals, metrics and shutdown. No broker: each case is deterministic.
import mqttPacket from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { connectBytes, publishBytes, sleep, waitUntil } from '../integration/clients.js';
import { TcpClient, gatewayFor, patternBytes, startSilentTarget, startTarget } from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(options: Parameters<typeof gatewayFor>[1] = {}, target?: Awaited<ReturnType<typeof startTarget>>) {
  const broker = target ?? (await startTarget());
  const gateway = await gatewayFor(broker.url, options);
  cleanups.push(() => broker.close(), () => gateway.close());
  return { broker, gateway };
}

function tcp(port: number): TcpClient {
  const client = new TcpClient(port);
  cleanups.push(async () => void client.socket.destroy());
  return client;
}

const CONNECT = connectBytes({ clientId: 'pipe-1' });

describe('bytes', () => {
  it('pass unchanged both ways, as binary frames of subprotocol mqtt, a CONNECT dribbled one byte at a time', async () => {
    const { broker, gateway } = await setup();
    const client = tcp(gateway.port);
    for (const byte of CONNECT) await client.write([byte]);
    const upstream = patternBytes(256 * 1024);
    await client.write(upstream);
    const seen = await broker.connection();
    await waitUntil(() => seen.bytes().length === CONNECT.length + upstream.length, { what: 'every client byte at the target' });
    expect(seen.bytes().equals(Buffer.concat([CONNECT, upstream]))).toBe(true);
    expect(seen.protocol).toBe('mqtt');
    expect(seen.textFrames).toBe(0);

    const downstream = patternBytes(300 * 1024, 7);
    for (let i = 0; i < downstream.length; i += 10_000) seen.socket.send(downstream.subarray(i, i + 10_000));
    await waitUntil(() => client.bytes().length === downstream.length, { what: 'every target byte at the client' });
    expect(client.bytes().equals(downstream)).toBe(true);
    expect(gateway.stats()).toMatchObject({ bytesUpstream: CONNECT.length + upstream.length, bytesDownstream: downstream.length, connectionsActive: 1 });
  });

  it('the first packet is held until it is whole: the target sees none of a partial CONNECT', async () => {
    const { broker, gateway } = await setup();
    const client = tcp(gateway.port);
    await client.write(CONNECT.subarray(0, 5));
    const seen = await broker.connection(); // the WebSocket opens at once; the bytes wait
    await sleep(100);
    expect(seen.bytes().length).toBe(0);
    await client.write(CONNECT.subarray(5));
    await waitUntil(() => seen.bytes().equals(CONNECT), { what: 'the whole CONNECT' });
  });

  it('--username rewrites the CONNECT; a PUBLISH in the same TCP segment follows unchanged', async () => {
    const { broker, gateway } = await setup({ username: 'tenant.tok.secret' });
    const client = tcp(gateway.port);
    const connect = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'rw', clean: true, keepalive: 30, username: 'me', password: Buffer.from('pw') });
    const publish = publishBytes('a/b', 'payload', { qos: 1, packetId: 9 });
    await client.write(Buffer.concat([connect, publish]));
    const seen = await broker.connection();
    const expected = Buffer.concat([mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'rw', clean: true, keepalive: 30, username: 'tenant.tok.secret' }), publish]);
    await waitUntil(() => seen.bytes().length >= expected.length, { what: 'the rewritten CONNECT and the PUBLISH' });
    expect(seen.bytes().equals(expected)).toBe(true);
  });

  it('--username: a malformed CONNECT closes the connection and nothing reaches the target', async () => {
    const { broker, gateway } = await setup({ username: 'tok' });
    const client = tcp(gateway.port);
    await client.write(connectBytes({ clientId: 'bad', flags: 0x03 })); // [MQTT-3.1.2-3] reserved flag set
    await client.waitClosed();
    await waitUntil(() => gateway.stats().closes['malformed-connect'] === 1, { what: 'the close counted' });
    // The WebSocket was still opening, or opened and closed: either way it carried nothing.
    for (const seen of broker.connections) expect(seen.bytes().length).toBe(0);
    expect(gateway.lines.some((line) => /^close #1 127\.0\.0\.1:\d+ up=\d+B down=0B [\d.]+s malformed-connect \(reserved connect flag set\)$/.test(line))).toBe(true);
  });

  it('a first packet larger than the maximum packet size closes the connection', async () => {
    const { gateway } = await setup({ maxPacketBytes: 1024 });
    const client = tcp(gateway.port);
    await client.write([0x10, 0x80, 0x10]); // remaining length 2048
    await client.waitClosed();
    await waitUntil(() => gateway.stats().closes['connect-too-large'] === 1, { what: 'the close counted' });
  });
});

describe('timeouts', () => {
  it('CONNECT timeout: no whole first packet within it closes the connection', async () => {
    const { broker, gateway } = await setup({ connectTimeoutMs: 300 });
    const client = tcp(gateway.port);
    await client.write(CONNECT.subarray(0, 3));
    const started = Date.now();
    await client.waitClosed();
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    await (await broker.connection()).closed;
    await waitUntil(() => gateway.stats().connectTimeouts === 1 && gateway.stats().connectionsActive === 0, { what: 'the timeout counted' });
    expect(gateway.stats().closes).toEqual({ 'connect-timeout': 1 });
  });

  it('a whole CONNECT ends the CONNECT timeout', async () => {
    const { gateway } = await setup({ connectTimeoutMs: 200 });
    const client = tcp(gateway.port);
    await client.write(CONNECT);
    await sleep(400);
    expect(client.closed).toBe(false);
  });

  it('idle timeout: bytes either way keep a connection open, none for the timeout closes it', async () => {
    const { broker, gateway } = await setup({ idleTimeoutMs: 300 });
    const client = tcp(gateway.port);
    await client.write(CONNECT);
    const seen = await broker.connection();
    for (let i = 0; i < 4; i++) {
      await sleep(150);
      if (i % 2 === 0) await client.write([0xc0, 0x00]);
      else seen.socket.send(Buffer.from([0xd0, 0x00]));
    }
    expect(client.closed).toBe(false);
    await client.waitClosed();
    await waitUntil(() => gateway.stats().idleTimeouts === 1, { what: 'the idle timeout counted' });
  });
});

describe('close propagation', () => {
  it('the target closing its WebSocket ends the TCP connection, after what it sent', async () => {
    const { broker, gateway } = await setup();
    const client = tcp(gateway.port);
    await client.write(CONNECT);
    const seen = await broker.connection();
    seen.socket.send(Buffer.from([0x20, 0x02, 0x00, 0x00])); // CONNACK
    seen.socket.close(1000);
    await client.waitClosed();
    expect(client.ended).toBe(true);
    expect(client.bytes()).toEqual(Buffer.from([0x20, 0x02, 0x00, 0x00]));
    await waitUntil(() => gateway.stats().closes['upstream-closed'] === 1, { what: 'the close counted' });
  });

  it('the target dropping its TCP connection (no close frame) closes the client connection', async () => {
    const { broker, gateway } = await setup();
    const client = tcp(gateway.port);
    await client.write(CONNECT);
    (await broker.connection()).socket.terminate();
    await client.waitClosed();
  });

  it('the client ending its TCP connection closes the WebSocket; a client reset does too', async () => {
    const { broker, gateway } = await setup();
    const polite = tcp(gateway.port);
    await polite.write(CONNECT);
    const first = await broker.connection(0);
    polite.socket.end();
    expect(await first.closed).toBe(1000);
    const rude = tcp(gateway.port);
    await rude.write(CONNECT);
    const second = await broker.connection(1);
    await waitUntil(() => second.bytes().length === CONNECT.length, { what: 'the CONNECT' });
    rude.socket.resetAndDestroy();
    await second.closed;
    await waitUntil(() => gateway.stats().connectionsActive === 0, { what: 'both closed' });
    expect(gateway.stats().closes).toEqual({ 'client-closed': 1, 'client-error': 1 });
  });

  it('a client that sends and leaves while the WebSocket still opens: its bytes reach the target, then the close', async () => {
    const target = await startTarget({ verifyClient: (_info, done) => setTimeout(() => done(true), 200) });
    const { gateway } = await setup({}, target);
    const client = tcp(gateway.port);
    const publish = publishBytes('t', 'fire and forget');
    await client.write(Buffer.concat([CONNECT, publish, Buffer.from([0xe0, 0x00])]));
    client.socket.end();
    const seen = await target.connection();
    await seen.closed;
    expect(seen.bytes().equals(Buffer.concat([CONNECT, publish, Buffer.from([0xe0, 0x00])]))).toBe(true);
  });
});

describe('bounds and refusals', () => {
  it('bytes held while the WebSocket opens are bounded (2 × the maximum packet size): past that the connection closes', async () => {
    const silent = await startSilentTarget();
    const gateway = await gatewayFor(silent.url, { maxPacketBytes: 1024 });
    cleanups.push(() => silent.close(), () => gateway.close());
    const client = tcp(gateway.port);
    await client.write(CONNECT);
    await client.write(publishBytes('t', 'x'.repeat(900)));
    await sleep(50);
    expect(client.closed).toBe(false);
    await client.write(publishBytes('t', 'x'.repeat(1200)));
    await client.waitClosed();
    await waitUntil(() => gateway.stats().closes['buffer-overflow'] === 1, { what: 'the overflow counted' });
  });

  it('an unreachable target: the TCP connection closes and the failed upstream connect is counted', async () => {
    const gone = await startTarget();
    await gone.close();
    const gateway = await gatewayFor(gone.url);
    cleanups.push(() => gateway.close());
    const client = tcp(gateway.port);
    await client.write(CONNECT);
    await client.waitClosed();
    await waitUntil(() => gateway.stats().upstreamFailures === 1, { what: 'the failure counted' });
    expect(gateway.stats().closes).toEqual({ 'upstream-failed': 1 });
  });

  it('a target that refuses the upgrade (HTTP 401) counts as a failed upstream connect', async () => {
    const target = await startTarget({ verifyClient: (_info, done) => done(false, 401) });
    const { gateway } = await setup({}, target);
    const client = tcp(gateway.port);
    await client.write(CONNECT);
    await client.waitClosed();
    await waitUntil(() => gateway.stats().upstreamFailures === 1, { what: 'the failure counted' });
  });

  it('--max-connections: the connection beyond is refused at accept and counted', async () => {
    const { broker, gateway } = await setup({ maxConnections: 2 });
    const a = tcp(gateway.port);
    const b = tcp(gateway.port);
    await Promise.all([a.open(), b.open()]);
    await broker.connection(1);
    const c = tcp(gateway.port);
    await c.waitClosed();
    expect(c.bytes().length).toBe(0);
    expect(gateway.stats()).toMatchObject({ connectionsActive: 2, connectionsTotal: 2, connectionsRefused: 1 });
    a.socket.destroy();
    await waitUntil(() => gateway.stats().connectionsActive === 1, { what: 'a slot free' });
    const d = tcp(gateway.port);
    await d.write(CONNECT);
    await waitUntil(async () => (await broker.connection(2)).bytes().length > 0, { what: 'the next connection through' });
  });
});

describe('operations', () => {
  it('GET /metrics serves Prometheus text and GET /stats JSON', async () => {
    const { gateway } = await setup({ metricsPort: 0 });
    const client = tcp(gateway.port);
    await client.write(CONNECT);
    await waitUntil(() => gateway.stats().bytesUpstream === CONNECT.length, { what: 'the CONNECT counted' });
    const metrics = await fetch(`http://127.0.0.1:${gateway.metricsPort}/metrics`);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await metrics.text();
    expect(text).toContain('# TYPE edge_mqtt_gateway_connections_active gauge\nedge_mqtt_gateway_connections_active 1\n');
    expect(text).toContain(`edge_mqtt_gateway_bytes_total{direction="upstream"} ${CONNECT.length}\n`);
    expect(text).toContain('edge_mqtt_gateway_timeouts_total{kind="connect"} 0\n');
    const stats = await (await fetch(`http://127.0.0.1:${gateway.metricsPort}/stats`)).json();
    expect(stats).toEqual(gateway.stats());
    expect((await fetch(`http://127.0.0.1:${gateway.metricsPort}/other`)).status).toBe(404);
  });

  it('close() closes every connection (the target sees 1001 going away) and the listener', async () => {
    const broker = await startTarget();
    cleanups.push(() => broker.close());
    const gateway = await gatewayFor(broker.url);
    const clients = [tcp(gateway.port), tcp(gateway.port)];
    for (const client of clients) await client.write(CONNECT);
    await broker.connection(1);
    await gateway.close();
    for (const client of clients) await client.waitClosed();
    expect(await Promise.all(broker.connections.map((c) => c.closed))).toEqual([1001, 1001]);
    const late = tcp(gateway.port);
    await expect(late.open()).rejects.toThrow(/ECONNREFUSED/);
    expect(gateway.stats()).toMatchObject({ connectionsActive: 0, closes: { shutdown: 2 } });
  });
});
