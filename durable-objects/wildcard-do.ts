// WildcardDO: one of a tenant's W wildcard homes (core/routing/wildcard-homes.ts): the durable rows of the
// wildcard subscriptions whose filter hashes here. Routers write them before telling the shards; a shard reads
// them all when it loads its trie. Shards keep wildcards in memory only.
import type { SubscriptionRow } from '../core/routing/shard-protocol.js';
import type { SubscriptionKey, WildcardPage } from '../core/routing/wildcard-homes.js';
import { CountedObject } from './counted-object.js';
import type { Env } from './env.js';
import type { Row } from './shard/schema.js';
import { subscriptionRow } from './shard/subscriptions-store.js';

const WILDCARD_SCHEMA = `
CREATE TABLE IF NOT EXISTS wildcards (
  filter TEXT NOT NULL,
  session TEXT NOT NULL,
  qos INTEGER NOT NULL,
  no_local INTEGER NOT NULL DEFAULT 0,
  retain_as_published INTEGER NOT NULL DEFAULT 0,
  subscription_identifier INTEGER,
  PRIMARY KEY (filter, session)
);
`;

const COLUMNS = 'filter, session, qos, no_local, retain_as_published, subscription_identifier';

export class WildcardDO extends CountedObject {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, WILDCARD_SCHEMA);
  }

  /** Adds or replaces subscriptions (a router's SUBSCRIBE, before it tells the shards). */
  async put(rows: SubscriptionRow[]): Promise<void> {
    this.invocations.rpc++;
    this.ctx.storage.transactionSync(() => {
      for (const row of rows) this.write(row, 'DO UPDATE SET qos = excluded.qos, no_local = excluded.no_local, retain_as_published = excluded.retain_as_published, subscription_identifier = excluded.subscription_identifier');
    });
  }

  /**
   * Adds the subscriptions it does not hold yet (a shard migrating its old wildcard rows): a row here was
   * written by a router after the shard's copy, so it is newer and is kept.
   */
  async register(rows: SubscriptionRow[]): Promise<void> {
    this.invocations.rpc++;
    this.ctx.storage.transactionSync(() => {
      for (const row of rows) this.write(row, 'DO NOTHING');
    });
  }

  async remove(keys: SubscriptionKey[]): Promise<void> {
    this.invocations.rpc++;
    this.ctx.storage.transactionSync(() => {
      for (const { filter, session } of keys) this.sql.run('DELETE FROM wildcards WHERE filter = ? AND session = ?', filter, session);
    });
  }

  /** The rows after the key `after` ([] = from the start), in key order, at most `limit`. */
  async page(after: string[], limit: number): Promise<WildcardPage> {
    this.invocations.rpc++;
    const rows =
      after.length === 2
        ? this.sql.all<Row>(`SELECT ${COLUMNS} FROM wildcards WHERE (filter, session) > (?, ?) ORDER BY filter, session LIMIT ?`, after[0]!, after[1]!, limit)
        : this.sql.all<Row>(`SELECT ${COLUMNS} FROM wildcards ORDER BY filter, session LIMIT ?`, limit);
    const last = rows[rows.length - 1];
    return { rows: rows.map(subscriptionRow), next: rows.length < limit || !last ? null : [last.filter as string, last.session as string] };
  }

  /** Rows held (tests, statistics). */
  async count(): Promise<number> {
    this.invocations.rpc++;
    return (this.sql.one<Row>('SELECT COUNT(*) AS n FROM wildcards')?.n as number | undefined) ?? 0;
  }

  private write(row: SubscriptionRow, onConflict: string): void {
    this.sql.run(
      `INSERT INTO wildcards (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (filter, session) ${onConflict}`,
      row.filter,
      row.session,
      row.qos,
      row.noLocal ? 1 : 0,
      row.retainAsPublished ? 1 : 0,
      row.subscriptionIdentifier ?? null,
    );
  }
}
