// Second brokers for the bridge tests: an aedes (MQTT 3.1.1) in this process, and mosquitto (5.0) as a child
// process where it is installed, each on a free port of 127.0.0.1.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes, type AedesOptions, type Client } from 'aedes';
import { freePort } from './broker.js';
import { sleep, waitUntil } from './clients.js';

export interface AedesBroker {
  port: number;
  url: string;
  aedes: Aedes;
  /** Destroys the socket of the client with this id (a network cut as the bridge sees it). */
  cut(clientId: string): boolean;
  /** Ids of the clients connected now. */
  connected(): string[];
  close(): Promise<void>;
}

/** An aedes on a free port: its default in-memory persistence keeps offline QoS 1 sessions. */
export async function startAedes(options: AedesOptions = {}): Promise<AedesBroker> {
  const aedes = await Aedes.createBroker(options);
  const clients = new Map<string, Client>();
  aedes.on('client', (client) => clients.set(client.id, client));
  aedes.on('clientDisconnect', (client) => {
    if (clients.get(client.id) === client) clients.delete(client.id);
  });
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    aedes.handle(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const bound = (server.address() as AddressInfo).port;
  return {
    port: bound,
    url: `mqtt://127.0.0.1:${bound}`,
    aedes,
    cut(clientId) {
      const client = clients.get(clientId);
      if (!client) return false;
      (client.conn as unknown as Socket).destroy();
      return true;
    },
    connected: () => [...clients.keys()],
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    },
  };
}

export const MOSQUITTO = '/usr/sbin/mosquitto';
export const hasMosquitto = existsSync(MOSQUITTO);

export interface Mosquitto {
  port: number;
  url: string;
  /** Stops it (SIGTERM: it saves its sessions and queued messages to disk) and waits for the exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same persistence file. */
  start(): Promise<void>;
}

/** mosquitto on a free port with persistence in a temp directory (sessions survive stop/start). */
export async function startMosquitto(): Promise<Mosquitto> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bridge-mosquitto-'));
  const config = join(dir, 'mosquitto.conf');
  writeFileSync(
    config,
    [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence true', `persistence_location ${dir}/`, 'max_queued_messages 100000', 'max_inflight_messages 100', 'log_dest none', ''].join('\n'),
  );
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(MOSQUITTO, ['-c', config], { stdio: 'ignore' });
    await waitUntil(() => canConnect(port), { timeoutMs: 5000, what: `mosquitto on port ${port}` });
  };
  await start();
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    start,
    async stop() {
      const running = child;
      if (!running || running.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
      running.kill('SIGTERM');
      await exited;
      await sleep(50);
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(port, '127.0.0.1');
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

