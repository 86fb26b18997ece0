// A session object's entries for the tenant's event log (core/session/log-events.ts builds them): adds what
// only the adapter knows, the connection's remote address from the Worker's upgrade, and sends them.
import type { LogEvent } from '../core/tenancy/event-log.js';
import type { Env } from './env.js';
import { EventSender } from './event-sender.js';

export class SessionEventLog {
  private readonly sender: EventSender;
  /** Each connection's remote address until its connect entry is written (memory only). */
  private readonly remoteAddresses = new Map<string, string>();

  constructor(env: Env) {
    this.sender = new EventSender(env);
  }

  opened(connectionId: string, remoteAddress: string | null): void {
    if (remoteAddress) this.remoteAddresses.set(connectionId, remoteAddress);
  }

  closed(connectionId: string): void {
    this.remoteAddresses.delete(connectionId);
  }

  /** Sends an entry; a connect entry of `connectionId` gets its remote address. Resolves once it is written. */
  write(tenant: string, event: LogEvent, connectionId: string | null | undefined): Promise<void> | undefined {
    const remoteAddress = event.kind === 'connect' && connectionId ? this.remoteAddresses.get(connectionId) : undefined;
    if (remoteAddress) {
      event.detail = { ...event.detail, remoteAddress };
      event.message += `, from ${remoteAddress}`;
      this.remoteAddresses.delete(connectionId!);
    }
    return this.sender.add(tenant, event);
  }
}
