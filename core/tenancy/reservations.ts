// Connection slots taken between "this CONNECT may come in" and the session's own report that it did.
//
// The tenant object admits a CONNECT (token connection limit, tenant session limit) before the session
// object sends the CONNACK and reports its presence. Counting only reported sessions let 12 concurrent
// CONNECTs through `maxConnections: 1`: each was admitted before any had reported. So each admission
// reserves its slot at once, and the session's first report (connected, offline or ended) replaces it.
//
//   t=0  A admitted → reserved(A)        t=0  B admitted? live 0 + reserved 1 ≥ 1 → refused
//   t=5  A reports connected → released(A), now counted as a live session
//
// A reservation whose session never reports (its CONNECT was refused by the session, the Worker died)
// lapses after `ttlMs`, longer than the CONNECT timeout, so a lost one costs a slot only briefly.
// Memory only: the tenant object answers every CONNECT of its tenant, so concurrent admissions meet here;
// after a restart the reports of the sessions that did connect arrive within the CONNECT timeout.

interface Reservation {
  tokenId: string | null;
  until: number;
}

export class ConnectReservations {
  private readonly byClientId = new Map<string, Reservation>();

  constructor(private readonly ttlMs: number) {}

  /** Takes (or renews) the slot of a client id about to connect with a token (null: anonymous). */
  reserve(clientId: string, tokenId: string | null, now: number): void {
    this.byClientId.set(clientId, { tokenId, until: now + this.ttlMs });
  }

  /** The session reported itself: its slot is counted from the sessions it reports now. */
  release(clientId: string): void {
    this.byClientId.delete(clientId);
  }

  /** The live reservations (lapsed ones are dropped on the way), except `except`'s (a client id replacing its own). */
  held(now: number, except?: string): Array<{ clientId: string; tokenId: string | null }> {
    const held: Array<{ clientId: string; tokenId: string | null }> = [];
    for (const [clientId, reservation] of this.byClientId) {
      if (reservation.until <= now) this.byClientId.delete(clientId);
      else if (clientId !== except) held.push({ clientId, tokenId: reservation.tokenId });
    }
    return held;
  }
}
