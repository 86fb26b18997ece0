// TokenStore in workerd's real SQLite (a probe Durable Object around it, in Miniflare): a tokens table from
// before client-id binding survives the migration, and clientIds round-trip.
import { resolve } from 'node:path';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

// The tokens table as it was before client_ids (commit 914db7b), with one token in it.
const PROBE = `
import { DurableObject } from 'cloudflare:workers';
import { TOKEN_SCHEMA, TokenStore, MAX_EXPIRES_AT } from './durable-objects/token-store.ts';
import { CountedSql, newInvocationCounts } from './durable-objects/invocation-counters.ts';

const OLD_SCHEMA = 'CREATE TABLE tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL, secret_hash TEXT NOT NULL, acl TEXT NOT NULL, limits TEXT NOT NULL, expires_at INTEGER, enabled INTEGER NOT NULL, master INTEGER NOT NULL, created_at INTEGER NOT NULL)';

export class Probe extends DurableObject {
  store() {
    const sql = new CountedSql(this.ctx.storage.sql, newInvocationCounts());
    sql.run(TOKEN_SCHEMA);
    return new TokenStore(sql);
  }
  async oldTable() {
    this.ctx.storage.sql.exec(OLD_SCHEMA);
    this.ctx.storage.sql.exec("INSERT INTO tokens VALUES ('old', 'legacy', 'h', '[{\\"filter\\":\\"#\\",\\"rights\\":[\\"pub\\"]}]', '{}', NULL, 1, 0, 1)");
  }
  async list() { return this.store().list(); }
  async update(id, clientIds) {
    const store = this.store();
    const token = store.get(id).info;
    store.update({ ...token, clientIds });
    return this.store().get(id).info;
  }
  async insert(token) {
    const store = this.store();
    store.insert(token, 'h');
    return store.get(token.id).info;
  }
  async nextExpiry(now) { return this.store().nextExpiry(now) ?? null; }
  async maxExpiresAt() { return MAX_EXPIRES_AT; }
}
export default { fetch: () => new Response('probe') };
`;

type Stub = Record<string, (...args: unknown[]) => Promise<any>>;
let miniflare: Miniflare;

async function probe(name: string): Promise<Stub> {
  const namespace = await miniflare.getDurableObjectNamespace('PROBE');
  return namespace.get(namespace.idFromName(name)) as unknown as Stub;
}

beforeAll(async () => {
  const bundle = await build({
    stdin: { contents: PROBE, resolveDir: root, sourcefile: 'probe.js', loader: 'js' },
    bundle: true,
    format: 'esm',
    target: 'es2022',
    platform: 'neutral',
    external: ['cloudflare:*'],
    write: false,
    logLevel: 'silent',
  });
  miniflare = new Miniflare({
    modules: true,
    script: bundle.outputFiles[0]!.text,
    compatibilityDate: '2026-04-20',
    durableObjects: { PROBE: { className: 'Probe', useSQLite: true } },
  });
  await miniflare.ready;
});
afterAll(async () => {
  await miniflare?.dispose();
});

const fresh = { id: 'new', name: 'n', acl: [], limits: {}, expiresAt: null, enabled: true, master: false, createdAt: 2 };

describe('TokenStore', () => {
  it('a tokens table from before client-id binding gains the column and keeps its tokens (clientIds: any)', async () => {
    const stub = await probe('old');
    await stub.oldTable!();
    const [legacy] = await stub.list!();
    expect(legacy).toMatchObject({ id: 'old', name: 'legacy', acl: [{ filter: '#', rights: ['pub'] }], clientIds: [] });
    // The migration is idempotent: every store opened afterwards finds the column.
    expect(await stub.update!('old', ['dev-%u-*'])).toMatchObject({ id: 'old', clientIds: ['dev-%u-*'] });
    expect(await stub.update!('old', [])).toMatchObject({ clientIds: [] });
  });

  it('clientIds round-trip through insert and update in a new table', async () => {
    const stub = await probe('new');
    expect(await stub.insert!({ ...fresh, clientIds: ['a', 'b-*'] })).toMatchObject({ clientIds: ['a', 'b-*'] });
    expect(await stub.update!('new', ['%u'])).toMatchObject({ clientIds: ['%u'] });
  });

  it('an expiry past what an alarm can hold (stored before the API bounded it) does not become the next alarm', async () => {
    const stub = await probe('expiry');
    const max = (await stub.maxExpiresAt!()) as number;
    await stub.insert!({ ...fresh, id: 'far', expiresAt: 1e13, clientIds: [] });
    expect(await stub.nextExpiry!(0)).toBeNull();
    await stub.insert!({ ...fresh, id: 'near', expiresAt: max, clientIds: [] });
    expect(await stub.nextExpiry!(0)).toBe(max);
  });
});
