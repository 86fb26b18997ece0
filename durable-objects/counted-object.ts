// The base every Durable Object class shares: counted SQLite access and its invocation counts.
import { DurableObject } from 'cloudflare:workers';
import type { Env } from './env.js';
import { CountedSql, newInvocationCounts } from './invocation-counters.js';

export abstract class CountedObject extends DurableObject<Env> {
  /** What woke this object and what it cost, since it last started (no storage write). */
  protected readonly invocations = newInvocationCounts();
  protected readonly sql: CountedSql;

  constructor(ctx: DurableObjectState, env: Env, schema?: string) {
    super(ctx, env);
    this.sql = new CountedSql(ctx.storage.sql, this.invocations);
    if (schema) this.sql.run(schema);
  }

  /** Invocation counts since this object last started (RPC for tests and benchmarks; not itself counted). */
  async invocationCounts() {
    return { ...this.invocations };
  }
}
