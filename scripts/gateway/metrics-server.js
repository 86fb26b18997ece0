// @ts-check
// `--metrics-port`: GET /metrics (Prometheus text) and GET /stats (JSON) of the gateway's counters.
import { createServer } from 'node:http';
import { renderPrometheus } from './counters.js';

/**
 * @param {{ port: number, host: string, stats: () => import('./index.js').GatewayStats }} options
 * @returns {Promise<import('node:http').Server>} listening
 */
export function startMetricsServer({ port, host, stats }) {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET') {
      response.writeHead(405, { Allow: 'GET' }).end();
    } else if (path === '/metrics') {
      response.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }).end(renderPrometheus(stats()));
    } else if (path === '/stats') {
      response.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(stats()));
    } else {
      response.writeHead(404, { 'Content-Type': 'text/plain' }).end('GET /metrics or /stats\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
