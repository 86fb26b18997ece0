// In-memory counts of what woke a Durable Object: cheap (no storage), reset when the object is evicted.

export interface InvocationCounts {
  fetch: number;
  webSocketMessage: number;
  webSocketClose: number;
  rpc: number;
  alarm: number;
  /** When counting started (the object's last start), ms since the epoch. */
  since: number;
}

export function newInvocationCounts(): InvocationCounts {
  return { fetch: 0, webSocketMessage: 0, webSocketClose: 0, rpc: 0, alarm: 0, since: Date.now() };
}
