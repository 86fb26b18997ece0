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
});
