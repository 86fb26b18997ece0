// core/tenancy/reservations.ts: admitted CONNECTs hold their slot until their session reports (finding M2).
import { describe, expect, it } from 'vitest';
import { ConnectReservations } from '../../../core/tenancy/reservations.js';

describe('ConnectReservations', () => {
  it('[DESIGN §5] a reservation counts until its session reports, and lapses after its time-to-live', () => {
    const reservations = new ConnectReservations(30_000);
    reservations.reserve('a', 'tok1', 0);
    reservations.reserve('b', 'tok2', 10);
    expect(reservations.held(20)).toEqual([
      { clientId: 'a', tokenId: 'tok1' },
      { clientId: 'b', tokenId: 'tok2' },
    ]);
    reservations.release('a');
    expect(reservations.held(20)).toEqual([{ clientId: 'b', tokenId: 'tok2' }]);
    expect(reservations.held(30_010)).toEqual([]);
  });

  it('[DESIGN §5] a client id does not count against itself (a take-over replaces its own slot), and renewing keeps one slot', () => {
    const reservations = new ConnectReservations(30_000);
    reservations.reserve('a', null, 0);
    reservations.reserve('a', null, 5);
    expect(reservations.held(10)).toHaveLength(1);
    expect(reservations.held(10, 'a')).toEqual([]);
    // Renewed at 5: still held at 30,004.
    expect(reservations.held(30_004)).toHaveLength(1);
  });
});
