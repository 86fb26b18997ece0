// Security headers as real response headers: the dashboard's assets (dashboard/_headers) and the Worker's own.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORKER_SECURITY_HEADERS } from '../../../worker/api/security-headers.js';
import { startWorkerApi, type WorkerApi } from './worker-api.js';

let api: WorkerApi;
beforeAll(async () => {
  api = await startWorkerApi();
});
afterAll(() => api?.stop());

async function headersOf(path: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers }> {
  const response = await api.broker.miniflare.dispatchFetch(`${api.broker.httpUrl}${path}`, init as never);
  await response.arrayBuffer();
  return { status: response.status, headers: response.headers as unknown as Headers };
}

/** A CSP header as { directive: sources }. */
function policy(header: string | null): Record<string, string[]> {
  return Object.fromEntries(
    (header ?? '')
      .split(';')
      .map((part) => part.trim().split(/\s+/))
      .filter((words) => words[0])
      .map(([name, ...sources]) => [name!, sources]),
  );
}

describe('dashboard assets', () => {
  it.each(['/', '/index.html', '/app.js', '/pages/retained.js', '/style.css'])('%s has the CSP (frame-ancestors none), nosniff and no-referrer as headers', async (path) => {
    const { status, headers } = await headersOf(path);
    expect(status).toBe(200);
    const csp = policy(headers.get('Content-Security-Policy'));
    expect(csp['frame-ancestors']).toEqual(["'none'"]);
    expect(headers.get('X-Content-Type-Options')).toBe('nosniff');
    expect(headers.get('Referrer-Policy')).toBe('no-referrer');
  });

  it('the policy still lets the dashboard run: its own modules and styles, WebSockets, no inline script', async () => {
    const csp = policy((await headersOf('/')).headers.get('Content-Security-Policy'));
    expect(csp['default-src']).toEqual(["'self'"]);
    expect(csp['script-src']).toEqual(["'self'"]);
    expect(csp['style-src']).toEqual(["'self'"]);
    expect(csp['connect-src']).toEqual(expect.arrayContaining(["'self'", 'ws:', 'wss:']));
    expect(csp['object-src']).toEqual(["'none'"]);
    // The header and the page's own meta policy agree (the header adds what a meta tag cannot carry).
    const html = readFileSync(resolve(import.meta.dirname, '../../../dashboard/index.html'), 'utf8');
    const meta = policy(/http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1] ?? null);
    for (const [directive, sources] of Object.entries(meta)) expect(csp[directive], directive).toEqual(sources);
  });

  it('the _headers file itself is not served', async () => {
    expect((await headersOf('/_headers')).status).toBe(404);
  });
});

describe("the Worker's responses", () => {
  it.each([
    ['/api/v1/openapi.json', 200, {}],
    ['/api/v1/tenants', 401, {}],
    ['/api/v1/no-such-route', 404, {}],
    ['/health', 200, {}],
    ['/mqtt', 426, {}],
  ] as const)('%s (%i) carries the security headers', async (path, expected, init) => {
    const { status, headers } = await headersOf(path, init);
    expect(status).toBe(expected);
    expect(policy(headers.get('Content-Security-Policy'))['frame-ancestors']).toEqual(["'none'"]);
    expect(headers.get('X-Content-Type-Options')).toBe('nosniff');
    expect(headers.get('Referrer-Policy')).toBe('no-referrer');
  });

  it('JSON from the Worker gets a policy that loads nothing', async () => {
    const { headers } = await headersOf('/api/v1/openapi.json');
    for (const [name, value] of Object.entries(WORKER_SECURITY_HEADERS)) expect(headers.get(name), name).toBe(value);
  });

  it('an error with its own headers keeps them (429 Retry-After) and gets the security headers too', async () => {
    const master = await api.newTenant('hdr');
    const slow = await api.newToken('hdr', master, { acl: [{ filter: '#', rights: ['pub'] }], limits: { publishRate: 1 } });
    const answers = await Promise.all(Array.from({ length: 4 }, () => api.call('POST', '/tenants/hdr/publish', slow.token, { topic: 't', payload: 'x' })));
    const refused = answers.find((a) => a.status === 429);
    expect(refused?.headers.get('Retry-After')).toBe('1');
    expect(refused?.headers.get('X-Content-Type-Options')).toBe('nosniff');
  });
});
