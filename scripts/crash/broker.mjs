// The broker under test, started the way the README says (`npm start`) in its own process group, so that one
// SIGKILL takes down npm, wrangler, esbuild and both workerd processes at once, as a crash of the machine would.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { Socket, createServer } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import mqtt from 'mqtt';

const READY_TIMEOUT_MS = 90_000;
const PROBE_INTERVAL_MS = 100;

/** A TCP port free on 127.0.0.1 right now (the kernel picks it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** One MQTT CONNECT with a throw-away clean session: resolves on CONNACK, rejects on anything else. */
function probe(url) {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { protocolVersion: 4, clean: true, reconnectPeriod: 0, connectTimeout: 2_000 });
    const done = (error) => {
      client.removeAllListeners();
      client.on('error', () => {});
      client.end(true);
      if (error) reject(error);
      else resolve();
    };
    client.once('connect', () => done());
    client.once('error', (error) => done(error));
    client.once('close', () => done(new Error('closed before CONNACK')));
  });
}

export class Broker {
  /** @param {{ root: string, port: number, persistDir: string, logPath: string }} options */
  constructor({ root, port, persistDir, logPath }) {
    this.root = root;
    this.port = port;
    this.persistDir = persistDir;
    this.logPath = logPath;
    this.url = `ws://127.0.0.1:${port}/mqtt`;
    /** @type {import('node:child_process').ChildProcess | undefined} */
    this.child = undefined;
    this.exited = undefined;
    this.starts = 0;
  }

  /**
   * Spawns `npm start -- --port P --persist-to DIR` and waits for the first CONNACK.
   * Returns how long that took: the recovery time when it follows a kill.
   */
  async start() {
    const log = openSync(this.logPath, 'a');
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const spawnedAt = performance.now();
    const child = spawn(npm, ['start', '--', '--port', String(this.port), '--persist-to', this.persistDir], {
      cwd: this.root,
      // Its own process group: process.kill(-pid) then reaches every descendant, and nothing else.
      detached: true,
      stdio: ['ignore', log, log],
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
    });
    closeSync(log);
    this.child = child;
    this.starts++;
    this.exited = new Promise((resolve) => child.once('exit', resolve));
    const deadline = spawnedAt + READY_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`broker exited during start; see ${this.logPath}`);
      try {
        await probe(this.url);
        return { spawnedAt, readyMs: performance.now() - spawnedAt };
      } catch {
        if (performance.now() > deadline) throw new Error(`broker not ready after ${READY_TIMEOUT_MS} ms; see ${this.logPath}`);
        await sleep(PROBE_INTERVAL_MS);
      }
    }
  }

  /** SIGKILL to the whole process group; resolves once the group leader is gone. */
  async kill() {
    const child = this.child;
    if (!child) return;
    this.killNow('SIGKILL');
    await this.exited;
    // The leader (npm) can be reaped a moment before workerd lets go of the port: wait until nobody listens.
    const deadline = performance.now() + 5_000;
    while (performance.now() < deadline && (await isListening(this.port))) await sleep(20);
  }

  /** Synchronous kill for exit paths (errors, SIGINT, the global timeout). Safe to call twice. */
  killNow(signal = 'SIGKILL') {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // the group is already gone
    }
  }

  /**
   * How often wrangler dev reloaded the Worker because a source file changed: in a working tree that others
   * edit, a run that reloaded tested more than one version of the code.
   */
  reloads() {
    try {
      return readFileSync(this.logPath, 'utf8').split('Reloading local server').length - 1;
    } catch {
      return 0;
    }
  }

  /** The admin token of local development (`npm start` writes .dev.vars before it starts wrangler). */
  adminToken() {
    const path = join(this.root, '.dev.vars');
    if (!existsSync(path)) return undefined;
    return readFileSync(path, 'utf8').match(/^\s*ADMIN_TOKEN\s*=\s*(.*?)\s*$/m)?.[1];
  }

  /** GET /api/v1/tenants/{tenant}/sessions: each session's queue depth as the broker sees it. */
  async sessions(tenant = 'default') {
    const token = this.adminToken();
    if (!token) return undefined;
    const response = await fetch(`http://127.0.0.1:${this.port}/api/v1/tenants/${tenant}/sessions`, { headers: { authorization: `Bearer ${token}` } });
    if (!response.ok) return undefined;
    return (await response.json()).sessions;
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function isListening(port) {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.connect(port, '127.0.0.1');
  });
}
