// The relay socket's contract: the upgrade request's headers, and the close codes that say who lost a connection.
import { describe, expect, it } from 'vitest';
import { RelayCloseCode, RelayHeader, connectionLoss, relayHeaders } from '../../durable-objects/relay-protocol.js';

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

describe('relayHeaders: the upgrade request to a session object', () => {
  it('carries the client id and the token URI-encoded (client ids are any UTF-8), and only the optional headers given', () => {
    const token = { id: 'tok1', acl: [{ filter: 'a/#', rights: ['pub' as const] }], limits: {} };
    const headers = relayHeaders({ tenant: 'acme', clientId: 'sensor ä/1', clientIdAssigned: false, keepAlive: 30, token });
    expect(headers).toStrictEqual({
      Upgrade: 'websocket',
      [RelayHeader.tenant]: 'acme',
      [RelayHeader.clientId]: encodeURIComponent('sensor ä/1'),
      [RelayHeader.clientIdAssigned]: '0',
      [RelayHeader.keepAlive]: '30',
      [RelayHeader.token]: encodeURIComponent(JSON.stringify(token)),
    });
    expect(decodeURIComponent(headers[RelayHeader.clientId]!)).toBe('sensor ä/1');
    expect(JSON.parse(decodeURIComponent(headers[RelayHeader.token]!))).toEqual(token);
    const anonymous = relayHeaders({ tenant: 'default', clientId: 'x', clientIdAssigned: true, keepAlive: 60, serverKeepAlive: 60, remoteAddress: '203.0.113.7' });
    expect(anonymous).toMatchObject({ [RelayHeader.clientIdAssigned]: '1', [RelayHeader.serverKeepAlive]: '60', [RelayHeader.remoteAddress]: '203.0.113.7' });
    expect(anonymous[RelayHeader.token]).toBeUndefined();
  });
});
