// Starts the real Worker and Durable Objects in workerd (Miniflare, configured from wrangler.toml).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import WebSocket from 'ws';
import { build } from 'esbuild';
import { Log, LogLevel, Miniflare } from 'miniflare';
import { unstable_getMiniflareWorkerOptions } from 'wrangler';
import { waitUntil } from './clients.js';

const root = resolve(import.meta.dirname, '../..');
const bundles = new Map<string | undefined, Promise<string>>();

/** Bundles worker/index.ts (or a test's own entry module) once per test process, as wrangler would. */
function bundleWorker(entry?: string): Promise<string> {
  let bundle = bundles.get(entry);
  if (bundle) return bundle;
  bundle = (async () => {
    const outdir = mkdtempSync(join(tmpdir(), 'edge-mqtt-bundle-'));
    const outfile = join(outdir, 'index.js');
    await build({
      ...(entry === undefined ? { entryPoints: [join(root, 'worker/index.ts')] } : { stdin: { contents: entry, resolveDir: root, sourcefile: 'entry.ts', loader: 'ts' as const } }),
      bundle: true,
      format: 'esm',
      target: 'es2022',
      platform: 'neutral',
      external: ['cloudflare:*'],
      outfile,
      logLevel: 'silent',
    });
    return outfile;
  })();
  bundles.set(entry, bundle);
  return bundle;
}

export interface BrokerOptions {
  /** Directory for Durable Object storage; the same directory across restarts keeps sessions. */
  persistDir?: string;
  /** Overrides of wrangler.toml [vars]. */
  vars?: Record<string, string>;
  /** The Worker's entry module instead of worker/index.ts (source text, imports relative to the repository). */
  entry?: string;
  /** Opens workerd's DevTools inspector on this port (CPU profiles: bench/profile.mjs). */
  inspectorPort?: number;
  /**
   * Collects what the broker reports: workerd's stdout and stderr, and each uncaught exception as the inspector
   * reports it (a line "Uncaught …": what `wrangler dev` prints as ✘ [ERROR]; workerd writes none to stderr).
   */
  output?: string[];
  /** More Miniflare worker options (e.g. queueProducers / queueConsumers for a test's own Queue). */
  extraOptions?: Record<string, unknown>;
}

export interface RunningBroker {
  /** ws://127.0.0.1:PORT/mqtt */
  mqttUrl: string;
  httpUrl: string;
  miniflare: Miniflare;
  stop(): Promise<void>;
}

export async function startBroker(options: BrokerOptions = {}): Promise<RunningBroker> {
  const scriptPath = await bundleWorker(options.entry);
  const output = options.output;
  const inspectorPort = options.inspectorPort ?? (output ? await freePort() : undefined);
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(root, 'wrangler.toml'));
  const miniflare = new Miniflare({
    ...workerOptions,
    name: 'edge-mqtt-broker',
    modules: true,
    scriptPath,
    // Module names are relative to this root; the bundle lives in a temp directory.
    modulesRoot: dirname(scriptPath),
    modulesRules: undefined,
    // wrangler.toml [vars] only: a developer's local .dev.vars must not change what the tests see.
    // Local workerd has no Durable Object jurisdictions: emulated, as npm start does (addresses.ts).
    bindings: { ...withoutDevVars(workerOptions.bindings), ALLOW_ANONYMOUS: 'true', EMULATE_JURISDICTIONS: 'true', ...options.vars },
    host: '127.0.0.1',
    port: 0,
    durableObjectsPersist: options.persistDir ?? false,
    ...(inspectorPort === undefined ? {} : { inspectorPort }),
    ...(output ? { handleRuntimeStdio: collectInto(output) } : {}),
    ...options.extraOptions,
    // BROKER_LOG=debug shows the Worker's and objects' console output.
    log: new Log(process.env.BROKER_LOG === 'debug' ? LogLevel.DEBUG : LogLevel.WARN),
  } as ConstructorParameters<typeof Miniflare>[0]);
  const url = await miniflare.ready;
  const httpUrl = url.href.replace(/\/$/, '');
  const inspector = output && inspectorPort !== undefined ? await watchExceptions(inspectorPort, output) : undefined;
  return {
    httpUrl,
    mqttUrl: `${httpUrl.replace(/^http/, 'ws')}/mqtt`,
    miniflare,
    stop: async () => {
      inspector?.close();
      await miniflare.dispose();
    },
  };
}

/** workerd's stdout and stderr, chunk by chunk, into `lines` instead of this process's own streams. */
function collectInto(lines: string[]): (stdout: Readable, stderr: Readable) => void {
  return (stdout, stderr) => {
    for (const stream of [stdout, stderr]) stream.on('data', (chunk: Buffer) => lines.push(chunk.toString('utf8')));
  };
}

/** Listens on the broker's inspector, as `wrangler dev` does, for the uncaught exceptions of its Worker. */
async function watchExceptions(port: number, lines: string[]): Promise<WebSocket> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{ webSocketDebuggerUrl: string }>;
  const target = targets.find((t) => t.webSocketDebuggerUrl.endsWith('/core:user:edge-mqtt-broker'));
  if (!target) throw new Error('no inspector target for the broker Worker');
  const socket = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  socket.on('message', (data: Buffer) => {
    const message = JSON.parse(data.toString()) as { method?: string; params?: { exceptionDetails?: { text: string; url?: string; stackTrace?: unknown } } };
    const details = message.method === 'Runtime.exceptionThrown' ? message.params?.exceptionDetails : undefined;
    if (details) lines.push(`${details.text}${details.stackTrace ? ` ${JSON.stringify(details.stackTrace)}` : ''}\n`);
  });
  socket.send(JSON.stringify({ id: 1, method: 'Runtime.enable' }));
  return socket;
}

/** A TCP port free on 127.0.0.1 right now (for a process that must be told its port). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function withoutDevVars(bindings: Record<string, unknown> | undefined): Record<string, unknown> {
  const { ADMIN_TOKEN: _admin, ...rest } = bindings ?? {};
  return rest;
}

/** A fresh directory for persisted Durable Object storage. */
export function tempPersistDir(): string {
  return mkdtempSync(join(tmpdir(), 'edge-mqtt-state-'));
}

export interface SessionDescription {
  connected: boolean;
  subscriptions: Array<{ filter: string; qos: number }>;
  queued: number;
  inflight: number;
}

/** A session object's own account of itself (what the sessions API shows), over RPC; undefined once it ended. */
export async function describeSession(target: RunningBroker, clientId: string, tenant = 'default'): Promise<SessionDescription | undefined> {
  const namespace = await target.miniflare.getDurableObjectNamespace('SESSION');
  const stub = namespace.get(namespace.idFromName(`${tenant}\u0000${clientId}`)) as unknown as { describe(): Promise<SessionDescription | undefined> };
  return stub.describe();
}

/** Waits until the session object has processed the loss or end of its connection (offline, or ended). */
export function sessionOffline(target: RunningBroker, clientId: string, tenant = 'default'): Promise<void> {
  return waitUntil(async () => !(await describeSession(target, clientId, tenant))?.connected, { what: `session ${clientId} offline` });
}

/** Waits until the session object holds no unacknowledged outbound message and nothing queued. */
export function sessionSettled(target: RunningBroker, clientId: string, tenant = 'default', timeoutMs = 5000): Promise<void> {
  return waitUntil(
    async () => {
      const session = await describeSession(target, clientId, tenant);
      return session !== undefined && session.inflight === 0 && session.queued === 0;
    },
    { timeoutMs, what: `session ${clientId}: every message acknowledged` },
  );
}
