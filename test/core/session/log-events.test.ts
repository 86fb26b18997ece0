// The event log entries a session writes: connect, disconnect (by whom and why), limit hits.
import { describe, expect, it } from 'vitest';
import { ReasonCode } from '../../../core/reason-codes.js';
import { limitEvent, limitOfCounter, reasonName } from '../../../core/session/log-events.js';
import type { Effect } from '../../../core/session/effects.js';
import { SessionHarness, token } from './harness.js';

const logs = (effects: Effect[]) => effects.filter((e): e is Extract<Effect, { type: 'log' }> => e.type === 'log').map((e) => e.event);

describe('event log entries of a session', () => {
  it('a CONNECT logs protocol, keepalive, session state and the token', () => {
    const h = new SessionHarness();
    const effects = h.connect('c1', { protocolVersion: 5, keepAlive: 30, properties: { sessionExpiryInterval: 60 } }, { token: token([{ filter: '#', rights: ['pub', 'sub'] }]) });
    const [entry] = logs(effects);
    expect(entry).toMatchObject({ kind: 'connect', clientId: 'device-1', tokenId: 'tok1', detail: { protocol: '5.0', keepAlive: 30, sessionExpiry: 60 } });
    expect(entry!.message).toContain('MQTT 5.0, keepalive 30 s');
  });

  it('[MQTT-3.14.4-3] a client DISCONNECT, a lost socket, a kick and a server reason are told apart', () => {
    const h = new SessionHarness();
    h.connect('c1');
    expect(logs(h.packet('c1', { type: 'disconnect', reasonCode: 0 }))[0]).toMatchObject({ kind: 'disconnect', message: 'client sent DISCONNECT' });
    h.connect('c2');
    expect(logs(h.input({ type: 'socketClosed', connectionId: 'c2', cause: 'client' }))[0]!.message).toContain('connection lost');
    h.connect('c3');
    expect(logs(h.input({ type: 'kick' }))[0]).toMatchObject({ kind: 'kick', reasonCode: ReasonCode.AdministrativeAction });
    h.connect('c4');
    const timeout = logs(h.input({ type: 'keepaliveTimeout', connectionId: 'c4' }))[0]!;
    expect(timeout).toMatchObject({ kind: 'disconnect', reasonCode: ReasonCode.KeepAliveTimeout });
    expect(timeout.message).toBe('closed by the server: 0x8d Keep alive timeout');
  });

  it('limit counters become limit entries; other counters do not', () => {
    expect(limitOfCounter('limit_publish_rate')).toBe('publish_rate');
    expect(limitOfCounter('qos2_duplicate')).toBeUndefined();
    const record = { tenant: 't', clientId: 'd', token: { id: 'k', acl: [], limits: {} } } as never;
    expect(limitEvent('limit_subscriptions', 2, record, 5)).toMatchObject({ at: 5, kind: 'limit', limit: 'subscriptions', count: 2, clientId: 'd', tokenId: 'k' });
    expect(limitEvent('acl_dropped', 1, record, 5)).toBeUndefined();
  });

  it('reason codes read as words', () => {
    expect(reasonName(0)).toBe('Normal disconnection');
    expect(reasonName(0x9b)).toBe('QoS not supported');
    expect(reasonName(0x8e)).toBe('Session taken over');
  });
});
