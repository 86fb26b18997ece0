// Security headers of the responses the Worker makes (the API's JSON, /mqtt refusals, /health). The
// dashboard's static assets get theirs from dashboard/_headers, applied by Workers static assets (and by
// wrangler dev); that file never reaches a response the Worker makes, hence this one.
import type { MiddlewareHandler } from 'hono';

/** JSON is never a document: nothing to load, nothing to frame, no Referer to leak. */
export const WORKER_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

/** Adds WORKER_SECURITY_HEADERS to the response, except a WebSocket upgrade's. */
export const securityHeaders: MiddlewareHandler = async (c, next) => {
  await next();
  if (c.res.status === 101) return;
  for (const [name, value] of Object.entries(WORKER_SECURITY_HEADERS)) {
    if (!c.res.headers.has(name)) c.res.headers.set(name, value);
  }
};
