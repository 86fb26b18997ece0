// Token strings `<tenant>.<tokenId>.<secret>`: parsing, formatting, tenant names and the digest comparison.
import { describe, expect, it } from 'vitest';
import { TENANT_NAME, constantTimeEqual, formatToken, parseToken, type ParsedToken } from '../../../core/tenancy/token.js';

const TOKEN_ID = 'k3v9x2m4p8q1';
const SECRET = 'Qm9vZ2xlLWFjbWUtc2VjcmV0LTAxMjM0'; // 32 characters
const TOKEN = `acme.${TOKEN_ID}.${SECRET}`;

describe('parseToken / formatToken', () => {
  it('[DESIGN §5] splits a token into tenant, token id and secret', () => {
    expect(parseToken(TOKEN)).toEqual({ tenant: 'acme', tokenId: TOKEN_ID, secret: SECRET });
  });

  it.each<ParsedToken>([
    { tenant: 'acme', tokenId: TOKEN_ID, secret: SECRET },
    { tenant: '0', tokenId: '000000000000', secret: 'a'.repeat(32) },
    { tenant: 'a'.repeat(32), tokenId: 'zzzzzzzzzzzz', secret: 'Z'.repeat(64) },
    { tenant: 'my-tenant-2', tokenId: 'abcdef123456', secret: '_-'.repeat(20) },
  ])('[DESIGN §5] formatting and parsing round-trip: $tenant', (token) => {
    const formatted = formatToken(token);
    expect(formatted).toBe(`${token.tenant}.${token.tokenId}.${token.secret}`);
    expect(parseToken(formatted)).toEqual(token);
  });

  it.each([
    ['an empty string', ''],
    ['one part', 'acme'],
    ['two parts', `acme.${TOKEN_ID}`],
    ['four parts', `${TOKEN}.x`],
    ['a dot in the secret', `acme.${TOKEN_ID}.${SECRET.slice(0, 16)}.${SECRET.slice(16)}`],
    ['an empty tenant', `.${TOKEN_ID}.${SECRET}`],
    ['an upper-case tenant', `Acme.${TOKEN_ID}.${SECRET}`],
    ['a tenant starting with a dash', `-acme.${TOKEN_ID}.${SECRET}`],
    ['a tenant of 33 characters', `${'a'.repeat(33)}.${TOKEN_ID}.${SECRET}`],
    ['a tenant with an underscore', `ac_me.${TOKEN_ID}.${SECRET}`],
    ['a token id of 11 characters', `acme.${TOKEN_ID.slice(1)}.${SECRET}`],
    ['a token id of 13 characters', `acme.${TOKEN_ID}x.${SECRET}`],
    ['an upper-case token id', `acme.${TOKEN_ID.toUpperCase()}.${SECRET}`],
    ['a token id with a dash', `acme.k3v9x2-4p8q1.${SECRET}`],
    ['a secret of 31 characters', `acme.${TOKEN_ID}.${SECRET.slice(1)}`],
    ['a secret of 65 characters', `acme.${TOKEN_ID}.${'a'.repeat(65)}`],
    ['an empty secret', `acme.${TOKEN_ID}.`],
    ['a secret with base64 padding', `acme.${TOKEN_ID}.${SECRET.slice(1)}=`],
    ['a secret with a "+"', `acme.${TOKEN_ID}.${SECRET.slice(1)}+`],
    ['trailing white space', `${TOKEN} `],
  ])('[DESIGN §5] rejects %s', (_case, token) => {
    expect(parseToken(token)).toBeUndefined();
  });
});

describe('TENANT_NAME', () => {
  it.each(['a', '0', 'acme', 'my-tenant', 'a-', 'a'.repeat(32), 'default'])('[DESIGN §5] accepts %j', (name) => {
    expect(TENANT_NAME.test(name)).toBe(true);
  });

  it.each(['', '-a', 'Acme', 'a_b', 'a.b', 'a/b', 'a b', 'a'.repeat(33), 'é', 'a\u0000b', 'acme\n'])('[DESIGN §5] rejects %j', (name) => {
    expect(TENANT_NAME.test(name)).toBe(false);
  });
});

describe('constantTimeEqual', () => {
  const digest = 'a3f5c0de'.repeat(8);

  it('[DESIGN §5] equal digests are equal', () => {
    expect(constantTimeEqual(digest, `${digest}`)).toBe(true);
    expect(constantTimeEqual('', '')).toBe(true);
  });

  it.each([
    ['in the first character', `b${digest.slice(1)}`],
    ['in the last character', `${digest.slice(0, -1)}0`],
    ['in case only', digest.toUpperCase()],
  ])('[DESIGN §5] digests that differ %s are not equal', (_case, other) => {
    expect(constantTimeEqual(digest, other)).toBe(false);
    expect(constantTimeEqual(other, digest)).toBe(false);
  });

  it.each([
    ['a prefix', digest.slice(0, -1)],
    ['an extension', `${digest}0`],
    ['an extension by a NUL character', `${digest}\u0000`],
    ['an empty string', ''],
  ])('[DESIGN §5] a string of a different length is not equal, even %s', (_case, other) => {
    expect(constantTimeEqual(digest, other)).toBe(false);
    expect(constantTimeEqual(other, digest)).toBe(false);
  });
});
