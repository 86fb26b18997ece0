// In-memory counts of what woke a Durable Object and what it cost: no storage write, reset on eviction.

export interface InvocationCounts {
  fetch: number;
  webSocketMessage: number;
  webSocketClose: number;
  rpc: number;
  alarm: number;
  /** SQLite rows read and written (billed per row). */
  rowsRead: number;
  rowsWritten: number;
  /** Application messages received and sent by this object. */
  messagesIn: number;
  messagesOut: number;
  /**
   * RPC calls this object made to other objects (deliveries, relay hand-offs, publishes): with messagesIn,
   * the calls one object makes per message, the figure a fan-out must keep bounded (DESIGN §7).
   */
  callsMade: number;
  /** When counting started (the object's last start), ms since the epoch. */
  since: number;
}

export function newInvocationCounts(): InvocationCounts {
  return {
    fetch: 0,
    webSocketMessage: 0,
    webSocketClose: 0,
    rpc: 0,
    alarm: 0,
    rowsRead: 0,
    rowsWritten: 0,
    messagesIn: 0,
    messagesOut: 0,
    callsMade: 0,
    since: Date.now(),
  };
}

type Bindable = ArrayBuffer | ArrayBufferView | string | number | null;

/** SQLite access that counts the rows each statement read and wrote. Results are materialised. */
export class CountedSql {
  constructor(
    private readonly sql: SqlStorage,
    private readonly counts: InvocationCounts,
  ) {}

  all<T extends Record<string, SqlStorageValue>>(query: string, ...bindings: Bindable[]): T[] {
    const cursor = this.sql.exec<T>(query, ...bindings);
    const rows = cursor.toArray();
    this.counts.rowsRead += cursor.rowsRead;
    this.counts.rowsWritten += cursor.rowsWritten;
    return rows;
  }

  one<T extends Record<string, SqlStorageValue>>(query: string, ...bindings: Bindable[]): T | undefined {
    return this.all<T>(query, ...bindings)[0];
  }

  run(query: string, ...bindings: Bindable[]): void {
    this.all(query, ...bindings);
  }
}
