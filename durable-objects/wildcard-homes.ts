// A tenant's wildcard homes as one store (core/routing/wildcard-homes.ts): calls grouped by home, in parallel.
import type { SubscriptionRow } from '../core/routing/shard-protocol.js';
import { byHome, HOME_PAGE_ROWS, slices, type SubscriptionKey } from '../core/routing/wildcard-homes.js';
import { wildcardStub } from './addresses.js';
import type { Env } from './env.js';

/** Rows one call of a migration registers at most. */
const REGISTER_ROWS = 500;

export class WildcardHomes {
  constructor(
    private readonly env: Env,
    private readonly tenant: string,
    private readonly homes: number,
  ) {}

  /** Writes subscriptions to their homes (a SUBSCRIBE, before the shards are told). */
  async put(rows: readonly SubscriptionRow[]): Promise<void> {
    await this.each(rows, (home, group) => this.stub(home).put(group));
  }

  /** Adds the subscriptions their homes do not hold yet (a shard's migration), in bounded calls. */
  async register(rows: readonly SubscriptionRow[]): Promise<void> {
    await this.each(rows, async (home, group) => {
      for (const slice of slices(group, REGISTER_ROWS)) await this.stub(home).register(slice);
    });
  }

  async remove(keys: readonly SubscriptionKey[]): Promise<void> {
    await this.each(keys, (home, group) => this.stub(home).remove(group));
  }

  /** Every home's rows, page by page (homes in parallel): `take` gets each page as it arrives. */
  async load(take: (rows: SubscriptionRow[]) => void): Promise<void> {
    await Promise.all(
      Array.from({ length: this.homes }, async (_, home) => {
        let after: string[] = [];
        for (;;) {
          const page = await this.stub(home).page(after, HOME_PAGE_ROWS);
          // RPC typing widens the rows; they are what the home stored.
          take(page.rows as SubscriptionRow[]);
          if (!page.next) return;
          after = page.next;
        }
      }),
    );
  }

  private stub(home: number) {
    return wildcardStub(this.env, this.tenant, home);
  }

  private async each<T extends { filter: string }>(items: readonly T[], call: (home: number, group: T[]) => Promise<void>): Promise<void> {
    if (items.length === 0) return;
    await Promise.all([...byHome(items, this.homes)].map(([home, group]) => call(home, group)));
  }
}
