// A real HTTP receiver for rule tests, on 127.0.0.1 in the test process: it records every request, checks its
// HMAC signature, and answers as told: 200, another status, or a closed socket (a receiver that is down).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  at: number;
  path: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  /** The answer given: an HTTP status, or 'reset' for a closed socket. */
  answer: number | 'reset';
}

/** What the receiver does with the next request: answer 2xx, another status, or close the socket. */
export type Behaviour = { status: number; retryAfter?: string } | { reset: true };

export interface WebhookReceiver {
  url: string;
  requests: ReceivedRequest[];
  /** Requests answered 2xx. */
  accepted(): ReceivedRequest[];
  behave(behaviour: Behaviour | ((request: ReceivedRequest) => Behaviour)): void;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<WebhookReceiver> {
  const requests: ReceivedRequest[] = [];
  let decide: (request: ReceivedRequest) => Behaviour = () => ({ status: 200 });
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: ReceivedRequest = { at: Date.now(), path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks), answer: 200 };
      const behaviour = decide(request);
      requests.push(request);
      if ('reset' in behaviour) {
        request.answer = 'reset';
        req.socket.destroy();
        return;
      }
      request.answer = behaviour.status;
      res.writeHead(behaviour.status, { 'Content-Type': 'text/plain', ...(behaviour.retryAfter ? { 'Retry-After': behaviour.retryAfter } : {}) });
      res.end(behaviour.status < 300 ? 'ok' : `receiver says ${behaviour.status}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    accepted: () => requests.filter((r) => typeof r.answer === 'number' && r.answer < 300),
    behave(behaviour) {
      decide = typeof behaviour === 'function' ? behaviour : () => behaviour;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The receiver's side of the signature (what the README shows): HMAC-SHA256(secret, timestamp + "." + body). */
export function signatureValid(request: ReceivedRequest, secret: string): boolean {
  const timestamp = request.headers['x-edge-mqtt-timestamp'];
  const signature = request.headers['x-edge-mqtt-signature'];
  if (typeof timestamp !== 'string' || typeof signature !== 'string') return false;
  const expected = `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(request.body).digest('hex')}`;
  return expected.length === signature.length && timingSafeEqual(Buffer.from(expected), Buffer.from(signature));
}

/** The messages of a JSON batch request, payloads decoded. */
export function batchMessages(request: ReceivedRequest): Array<{ topic: string; payload: string; qos: number; retain: boolean; redelivered?: boolean }> {
  const body = JSON.parse(request.body.toString('utf8')) as { messages: Array<{ topic: string; payload: string; qos: number; retain: boolean; redelivered?: boolean }> };
  return body.messages.map((m) => ({ ...m, payload: Buffer.from(m.payload, 'base64').toString('utf8') }));
}
