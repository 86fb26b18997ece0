// The real command, `edge-mqtt-gateway`, as a child process in front of the real broker, driven by other MQTT
// implementations over TCP: Python paho-mqtt and mosquitto_pub / mosquitto_sub. Each is skipped when absent.
import { execFile, execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeSession, startBroker, type RunningBroker } from '../integration/broker.js';
import { connectClient, end, recorder, subscribe, waitUntil } from '../integration/clients.js';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const PYTHON = '/usr/bin/python3'; // Debian's, with python3-paho-mqtt; `python3` on PATH may lack paho
const hasPaho = (() => {
  try {
    execFileSync(PYTHON, ['-c', 'import paho.mqtt.client'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const hasMosquitto = existsSync('/usr/bin/mosquitto_pub') && existsSync('/usr/bin/mosquitto_sub');

/** The command running as a child process, its output collected and its ports read from its log. */
class GatewayProcess {
  output = '';
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<number | null>;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [join(root, 'scripts/gateway/bin.js'), ...args], { cwd: root });
    for (const stream of [this.child.stdout, this.child.stderr]) stream.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  async port(kind: 'tcp' | 'metrics'): Promise<number> {
    const pattern = kind === 'tcp' ? /listening on tcp [\d.]+:(\d+)/ : /metrics on http:\/\/[\d.]+:(\d+)/;
    await waitUntil(() => pattern.test(this.output), { what: `the ${kind} port in the log:\n${this.output}` });
    return Number(this.output.match(pattern)![1]);
  }
}

let broker: RunningBroker;
let gateway: GatewayProcess;
let port: number;

beforeAll(async () => {
  broker = await startBroker();
  gateway = new GatewayProcess(['--listen', '0', '--host', '127.0.0.1', '--target', broker.mqttUrl, '--metrics-port', '0']);
  port = await gateway.port('tcp');
});
afterAll(async () => {
  if (gateway.child.exitCode === null) gateway.child.kill('SIGKILL');
  await broker?.stop();
});

describe('the command', () => {
  it('`npx edge-mqtt-gateway --help` resolves the package’s own bin and prints the usage', async () => {
    const { stdout } = await run('npx', ['--offline', 'edge-mqtt-gateway', '--help'], { cwd: root, timeout: 30_000 });
    expect(stdout).toMatch(/^edge-mqtt-gateway: plain MQTT over TCP/);
    expect(stdout).toContain('--target URL');
  });

  it('a bad flag exits 2 with the reason and the usage', async () => {
    const bad = new GatewayProcess(['--target', 'ws://127.0.0.1:1/mqtt', '--listen', 'nope']);
    expect(await bad.exited).toBe(2);
    expect(bad.output).toMatch(/^edge-mqtt-gateway: --listen: a whole number expected, got nope\n\nedge-mqtt-gateway: plain MQTT/);
  });

  it('logs one line per connection opened and closed, and serves its counters at /metrics', async () => {
    const client = await connectClient(`mqtt://127.0.0.1:${port}`, { clientId: 'cli-log' });
    await end(client);
    await waitUntil(() => /close #\d+ 127\.0\.0\.1:\d+ up=\d+B down=\d+B [\d.]+s client-closed/.test(gateway.output), { what: `a close line in\n${gateway.output}` });
    expect(gateway.output).toMatch(/open {2}#\d+ 127\.0\.0\.1:\d+ \(tcp\)/);
    const metrics = await (await fetch(`http://127.0.0.1:${await gateway.port('metrics')}/metrics`)).text();
    expect(metrics).toMatch(/^edge_mqtt_gateway_connections_total [1-9]\d*$/m);
  });
});

describe.skipIf(!hasPaho)('Python paho-mqtt (1.6, /usr/bin/python3)', () => {
  const script = `
import sys
import paho.mqtt.client as mqtt

port, version = int(sys.argv[1]), int(sys.argv[2])
client = mqtt.Client(client_id="paho-%d" % version, protocol=version)
client.on_connect = lambda c, *rest: c.subscribe("paho/t/%d" % version, qos=1)
client.on_subscribe = lambda c, *rest: c.publish("paho/t/%d" % version, "hello from paho", qos=1)
def on_message(c, userdata, message):
    print(message.topic, message.payload.decode(), message.qos, flush=True)
    c.disconnect()
client.on_message = on_message
client.connect("127.0.0.1", port, keepalive=30)
client.loop_forever()
`;
  it.each([
    [4, 'MQTT 3.1.1'],
    [5, 'MQTT 5.0'],
  ])('paho (%i, %s) connects over TCP, subscribes, publishes QoS 1 and receives it', async (version) => {
    const { stdout } = await run(PYTHON, ['-c', script, String(port), String(version)], { timeout: 15_000 });
    expect(stdout.trim()).toBe(`paho/t/${version} hello from paho 1`);
  });
});

describe.skipIf(!hasMosquitto)('mosquitto_pub / mosquitto_sub', () => {
  it.each(['mqttv311', 'mqttv5', 'mqttv31'])('mosquitto_pub -V %s through the gateway reaches mosquitto_sub and a WebSocket subscriber', async (version) => {
    const topic = `mos/${version}`;
    const watcher = await connectClient(broker.mqttUrl, { clientId: `mos-watch-${version}` });
    const got = recorder(watcher);
    await subscribe(watcher, topic, 1);
    const subId = `mos-sub-${version}`;
    const sub = run('/usr/bin/mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-t', topic, '-q', '1', '-C', '1', '-i', subId, '-V', version], { timeout: 15_000 });
    await waitUntil(async () => ((await describeSession(broker, subId))?.subscriptions.length ?? 0) > 0, { what: 'mosquitto_sub subscribed' });
    await run('/usr/bin/mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-t', topic, '-m', `hello from mosquitto ${version}`, '-q', '1', '-V', version], { timeout: 15_000 });
    expect((await sub).stdout.trim()).toBe(`hello from mosquitto ${version}`);
    const [message] = await got.waitFor(1);
    expect(message?.payload).toBe(`hello from mosquitto ${version}`);
    await end(watcher);
  });
});

describe('shutdown', () => {
  it('SIGTERM closes the listener and every connection, then the process exits 0', async () => {
    const client = await connectClient(`mqtt://127.0.0.1:${port}`, { clientId: 'cli-sigterm' });
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
    await closed;
    expect(gateway.output).toMatch(/SIGTERM: closing listeners and 1 connections/);
    expect(gateway.output).toMatch(/close #\d+ .* shutdown\n.*closed\n$/);
    await end(client, true);
  });
});
