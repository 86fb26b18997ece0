// A tenant's rules in its rules object's SQLite: one row per rule (its settings and webhook secret), one per
// rule for what it has done (counters, written now and then) and for a batch that is being retried (written
// when an attempt fails, so the attempt count and the delivery id survive an eviction).
import { newCounters, type RuleCounters } from '../../core/rules/counters.js';
import type { Rule } from '../../core/rules/rule.js';
import type { CountedSql } from '../invocation-counters.js';

export const RULES_SCHEMA = `
CREATE TABLE IF NOT EXISTS rules (name TEXT PRIMARY KEY, rule TEXT NOT NULL, secret TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, fresh_session INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rule_state (name TEXT PRIMARY KEY, counters TEXT NOT NULL, retry TEXT);`;

/** A batch waiting for its next attempt, as kept across evictions. */
export interface RetryState {
  deliveryId: string;
  /** Messages of the batch: after a restart, the first this many the session sends again form it anew. */
  size: number;
  attempts: number;
  firstAttemptAt: number;
  nextAttemptAt: number;
}

export interface StoredRule {
  rule: Rule;
  secret: string | undefined;
  createdAt: number;
  updatedAt: number;
  /** The next session link starts a clean session (a new rule, a changed filter) and subscribes. */
  freshSession: boolean;
  counters: RuleCounters;
  retry: RetryState | undefined;
}

type Row = Record<string, SqlStorageValue>;

export class RuleStore {
  constructor(private readonly sql: CountedSql) {}

  all(): StoredRule[] {
    const rows = this.sql.all<Row>('SELECT r.name, r.rule, r.secret, r.created_at, r.updated_at, r.fresh_session, s.counters, s.retry FROM rules r LEFT JOIN rule_state s ON s.name = r.name ORDER BY r.name');
    return rows.map((row) => ({
      rule: JSON.parse(row.rule as string) as Rule,
      secret: (row.secret as string | null) ?? undefined,
      createdAt: row.created_at as number,
      updatedAt: row.updated_at as number,
      freshSession: row.fresh_session === 1,
      counters: row.counters ? { ...newCounters(), ...(JSON.parse(row.counters as string) as RuleCounters) } : newCounters(),
      retry: row.retry ? (JSON.parse(row.retry as string) as RetryState) : undefined,
    }));
  }

  put(stored: Pick<StoredRule, 'rule' | 'secret' | 'createdAt' | 'updatedAt' | 'freshSession'>): void {
    this.sql.run(
      'INSERT OR REPLACE INTO rules (name, rule, secret, created_at, updated_at, fresh_session) VALUES (?, ?, ?, ?, ?, ?)',
      stored.rule.name,
      JSON.stringify(stored.rule),
      stored.secret ?? null,
      stored.createdAt,
      stored.updatedAt,
      stored.freshSession ? 1 : 0,
    );
  }

  sessionStarted(name: string): void {
    this.sql.run('UPDATE rules SET fresh_session = 0 WHERE name = ?', name);
  }

  delete(name: string): void {
    this.sql.run('DELETE FROM rules WHERE name = ?', name);
    this.sql.run('DELETE FROM rule_state WHERE name = ?', name);
  }

  saveCounters(name: string, counters: RuleCounters): void {
    this.sql.run('INSERT INTO rule_state (name, counters) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET counters = excluded.counters', name, JSON.stringify(counters));
  }

  saveRetry(name: string, retry: RetryState | undefined, counters: RuleCounters): void {
    this.sql.run(
      'INSERT INTO rule_state (name, counters, retry) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET counters = excluded.counters, retry = excluded.retry',
      name,
      JSON.stringify(counters),
      retry ? JSON.stringify(retry) : null,
    );
  }
}
