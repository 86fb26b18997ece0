// The API's token input schema: what it accepts, and what it says about what it does not.
import { describe, expect, it } from 'vitest';
import { checkTokenInput } from '../../../worker/api/token-input.js';

const acl = [{ filter: 'devices/%c/#', rights: ['pub', 'sub'] }];

describe('token input', () => {
  it('the schema says what is wrong, by path', () => {
    const problem = (input: unknown) => {
      const checked = checkTokenInput(input);
      return checked.ok ? undefined : checked.error;
    };
    expect(problem({ acl })).toBeUndefined();
    expect(problem({ acl: 'x' })).toBe('body.acl must be an array');
    expect(problem({ acl: [{ filter: 'a/#/b', rights: ['pub'] }] })).toBe('body.acl[0].filter must be a valid MQTT topic filter (with optional %c / %u)');
    expect(problem({ acl: [{ filter: 'a', rights: [] }] })).toBe('body.acl[0].rights must have at least 1 item(s)');
    expect(problem({ acl: [{ filter: 'a', rights: ['write'] }] })).toBe('body.acl[0].rights[0] must be one of "pub", "sub"');
    expect(problem({ acl: [{ rights: ['pub'] }] })).toBe('body.acl[0].filter is required');
    expect(problem({ limits: { maxConnections: 0 } })).toBe('body.limits.maxConnections must be at least 1');
    expect(problem({ limits: { maxFoo: 1 } })).toBe('body.limits has an unknown field "maxFoo"');
    expect(problem({ expiresAt: null })).toBeUndefined();
    expect(problem({ expiresAt: 'soon' })).toBe('body.expiresAt must be an integer or null');
    expect(problem([])).toBe('body must be a JSON object');
    const folded = checkTokenInput({ acl: [{ filter: 'a', rights: ['pub', 'pub'] }] });
    expect(folded.ok && folded.value.acl?.[0]?.rights).toEqual(['pub']);
  });

  it('deny entries keep their access through normalisation; absent stays absent (= allow)', () => {
    const checked = checkTokenInput({ acl: [{ filter: 'a', rights: ['sub'], access: 'deny' }, { filter: '#', rights: ['sub'] }] });
    expect(checked.ok && checked.value.acl).toEqual([{ filter: 'a', rights: ['sub'], access: 'deny' }, { filter: '#', rights: ['sub'] }]);
    expect(checkTokenInput({ acl: [{ filter: 'a', rights: ['sub'], access: 'no' }] })).toEqual({ ok: false, error: 'body.acl[0].access must be one of "allow", "deny"' });
  });

  it('clientIds: 1-256 characters each, at most 50, well-formed', () => {
    expect(checkTokenInput({ clientIds: ['dev-%u-*'] }).ok).toBe(true);
    expect(checkTokenInput({ clientIds: [] }).ok).toBe(true);
    expect(checkTokenInput({ clientIds: [''] })).toEqual({ ok: false, error: 'body.clientIds[0] must have at least 1 characters' });
    expect(checkTokenInput({ clientIds: ['\udfff'] })).toEqual({ ok: false, error: 'body.clientIds[0] must be well-formed Unicode (no lone surrogate)' });
  });

  it('expiresAt is bounded (a Durable Object alarm cannot be set past 2262); a lone surrogate in the name is refused', () => {
    expect(checkTokenInput({ expiresAt: 4102444800000 }).ok).toBe(true);
    expect(checkTokenInput({ expiresAt: 1e13 })).toEqual({ ok: false, error: 'body.expiresAt must be at most 4102444800000' });
    expect(checkTokenInput({ name: 'a\ud800' })).toEqual({ ok: false, error: 'body.name must be well-formed Unicode (no lone surrogate)' });
    expect(checkTokenInput({ name: 'a\ud83d\ude80' }).ok).toBe(true);
  });
});
