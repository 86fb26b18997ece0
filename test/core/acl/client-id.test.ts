// Client-id binding: a token's client-id patterns (`*` any run, `%u` the token id) decide which ids it may use.
import { describe, expect, it } from 'vitest';
import { clientIdAllowed } from '../../../core/acl/client-id.js';

const TOKEN = 'k3x9abcdef12';

describe('clientIdAllowed', () => {
  it('no patterns (absent or empty) allow any client id', () => {
    expect(clientIdAllowed(undefined, 'anything', TOKEN)).toBe(true);
    expect(clientIdAllowed([], '', TOKEN)).toBe(true);
  });

  it.each([
    [['sensor-%u-*'], `sensor-${TOKEN}-1`, true],
    [['sensor-%u-*'], `sensor-${TOKEN}-`, true],
    [['sensor-%u-*'], 'sensor-other-1', false],
    [['%u'], TOKEN, true],
    [['%u'], `${TOKEN}x`, false],
    [['%u'], `x${TOKEN}`, false],
    [['*'], '', true],
    [['dev-*'], 'dev-', true],
    [['dev-*'], 'dev', false],
    [['*-dev'], 'a-dev', true],
    [['*-dev'], 'a-dev-x', false],
    [['a*b*c'], 'abc', true],
    [['a*b*c'], 'aXbYbZc', true],
    [['a*b*c'], 'acb', false],
    [['ab*ba'], 'aba', false],
    [['ab*ba'], 'abba', true],
    [['lobby', 'room-*'], 'room-7', true],
    [['lobby', 'room-*'], 'lobby', true],
    [['lobby', 'room-*'], 'hall', false],
  ])('%j with %s: %s', (patterns, clientId, allowed) => {
    expect(clientIdAllowed(patterns, clientId, TOKEN)).toBe(allowed);
  });

  it('regex characters in a pattern are literal', () => {
    expect(clientIdAllowed(['a.b'], 'axb', TOKEN)).toBe(false);
    expect(clientIdAllowed(['a.b'], 'a.b', TOKEN)).toBe(true);
    expect(clientIdAllowed(['(x)+[y]?$'], '(x)+[y]?$', TOKEN)).toBe(true);
    expect(clientIdAllowed(['^a$'], 'a', TOKEN)).toBe(false);
  });

  it('a pattern matches the whole id, not a part of it', () => {
    expect(clientIdAllowed(['dev'], 'my-dev-1', TOKEN)).toBe(false);
  });

  it('%u expands to the token id only: another token cannot take the id over', () => {
    expect(clientIdAllowed(['%u-*'], `${TOKEN}-1`, 'othertoken00')).toBe(false);
  });

  it('many stars against a long id stay fast (no backtracking)', () => {
    const pattern = `${'a*'.repeat(100)}b`;
    const started = performance.now();
    expect(clientIdAllowed([pattern], 'a'.repeat(60_000), TOKEN)).toBe(false);
    expect(performance.now() - started).toBeLessThan(500);
  });
});
