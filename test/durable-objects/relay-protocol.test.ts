// The relay socket's close codes: who lost a connection, as the session object reads it from webSocketClose.
import { describe, expect, it } from 'vitest';
import { RelayCloseCode, connectionLoss } from '../../durable-objects/relay-protocol.js';

describe('connectionLoss', () => {
  it('the relay\'s own close (1000, the client went) is a client loss: the will is published', () => {
    expect(RelayCloseCode.ended).toBe(1000);
    expect(connectionLoss(RelayCloseCode.ended)).toBe('client');
  });

  it.each([
    [1001, 'going away'],
    [1005, 'no status'],
    [1006, 'abnormal closure (the isolate dropped)'],
    [1011, 'internal error'],
    [1012, 'service restart'],
  ])('%i (%s) is a platform loss: the will waits for the grace', (code) => {
    expect(connectionLoss(code)).toBe('platform');
  });

  it('an error event (no close code) is a platform loss', () => {
    expect(connectionLoss(undefined)).toBe('platform');
  });
});
