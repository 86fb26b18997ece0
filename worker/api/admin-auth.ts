// Bearer authentication for the admin API: the deployment's ADMIN_TOKEN, compared in constant time.
import type { MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Env } from '../env.js';

/** Compares two strings in time that depends only on their lengths, not on where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const encoder = new TextEncoder();
  const left = encoder.encode(a);
  const right = encoder.encode(b);
  let difference = left.length ^ right.length;
  const length = Math.max(left.length, right.length);
  for (let i = 0; i < length; i++) difference |= (left[i] ?? 0) ^ (right[i] ?? 0);
  return difference === 0;
}

/** Requires `Authorization: Bearer <ADMIN_TOKEN>`; answers 401 with a JSON error otherwise. */
export const requireAdmin: MiddlewareHandler<{ Bindings: Env }> = async (c, next) => {
  const expected = c.env.ADMIN_TOKEN;
  if (!expected) {
    throw new HTTPException(503, { res: Response.json({ error: 'ADMIN_TOKEN is not configured (wrangler secret put ADMIN_TOKEN)' }, { status: 503 }) });
  }
  const header = c.req.header('Authorization') ?? '';
  const match = /^Bearer\s+(.+)$/i.exec(header);
  if (!match || !constantTimeEqual(match[1]!.trim(), expected)) {
    throw new HTTPException(401, { res: Response.json({ error: 'missing or invalid bearer token' }, { status: 401 }) });
  }
  await next();
};
