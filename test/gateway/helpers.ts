// What the gateway tests share: a local `ws` server to stand in for the broker, a raw TCP client, and a
// gateway started in-process on free ports.
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { WebSocketServer, type ServerOptions, type WebSocket } from 'ws';
import { startGateway, type Gateway, type GatewayOptions } from '../../scripts/gateway/index.js';
import { waitUntil } from '../integration/clients.js';

/** A gateway on free loopback ports, with its log lines collected. */
export async function gatewayFor(target: string, options: Partial<GatewayOptions> = {}): Promise<Gateway & { lines: string[] }> {
  const lines: string[] = [];
  const gateway = await startGateway({ target, host: '127.0.0.1', port: 0, log: (line) => lines.push(line), ...options });
  return Object.assign(gateway, { lines });
}

/** One connection as the stand-in broker sees it. */
export interface TargetConnection {
  socket: WebSocket;
  protocol: string;
  received: Buffer[];
  textFrames: number;
  closeCode: number | undefined;
  closed: Promise<number>;
  bytes(): Buffer;
}

/** A `ws` server speaking subprotocol mqtt that records what each connection sends it. */
export async function startTarget(options: Pick<ServerOptions, 'verifyClient'> = {}) {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false), ...options });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const connections: TargetConnection[] = [];
  server.on('connection', (socket) => {
    const connection: TargetConnection = {
      socket,
      protocol: socket.protocol,
      received: [],
      textFrames: 0,
      closeCode: undefined,
      closed: new Promise((resolve) => socket.once('close', (code) => resolve((connection.closeCode = code)))),
      bytes: () => Buffer.concat(connection.received),
    };
    socket.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) connection.textFrames++;
      connection.received.push(Buffer.from(data));
    });
    connections.push(connection);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/mqtt`,
    connections,
    /** The nth connection (0-based), once it is there. */
    async connection(index = 0): Promise<TargetConnection> {
      await waitUntil(() => connections.length > index, { what: `target connection ${index}` });
      return connections[index]!;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}

/** A TCP server that accepts the WebSocket upgrade request and never answers it: a handshake that hangs. */
export async function startSilentTarget(): Promise<{ url: string; sockets: Socket[]; close(): Promise<void> }> {
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => sockets.push(socket.on('error', () => {})));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/mqtt`,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A raw TCP client: collects what arrives and how the connection ended. */
export class TcpClient {
  readonly received: Buffer[] = [];
  ended = false;
  closed = false;
  error: Error | undefined;
  readonly socket: Socket;
  private readonly connected: Promise<void>;

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.connected = new Promise((resolve, reject) => this.socket.once('connect', resolve).once('error', reject));
    this.socket.on('data', (chunk) => this.received.push(chunk));
    this.socket.on('end', () => (this.ended = true));
    this.socket.on('error', (error) => (this.error = error));
    this.socket.on('close', () => (this.closed = true));
  }

  open(): Promise<void> {
    return this.connected;
  }

  async write(bytes: Uint8Array | number[]): Promise<void> {
    await this.connected;
    await new Promise<void>((resolve, reject) => this.socket.write(Buffer.from(bytes as Uint8Array), (error) => (error ? reject(error) : resolve())));
  }

  bytes(): Buffer {
    return Buffer.concat(this.received);
  }

  async waitClosed(timeoutMs = 5000): Promise<void> {
    await waitUntil(() => this.closed, { timeoutMs, what: 'the TCP connection to close' });
  }
}

/** `length` bytes counting 0, 1, … 255, 0, …: any loss, duplicate or reordering shows. */
export function patternBytes(length: number, offset = 0): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = (offset + i) & 0xff;
  return bytes;
}
