// What a rule may be: its filter, its webhook URL and its headers.
import { describe, expect, it } from 'vitest';
import { filterProblem, headerNames, headerProblem, resolveHeaders, ruleClientId, webhookUrlProblem } from '../../../core/rules/rule.js';

describe('webhookUrlProblem', () => {
  it.each(['https://example.com/hook', 'https://example.com:8443/a?b=c', 'http://localhost:3000/hook', 'http://127.0.0.1:9/x', 'http://[::1]:80/', 'HTTPS://EXAMPLE.COM'])('accepts %s', (url) => {
    expect(webhookUrlProblem(url)).toBeUndefined();
  });

  it.each([
    ['http://example.com/hook', 'must be https:// (http:// only to localhost or 127.0.0.1)'],
    ['http://127.0.0.1.evil.com/', 'must be https:// (http:// only to localhost or 127.0.0.1)'],
    ['https://u:p@example.com/', 'must not carry credentials (use headers)'],
    ['https:///path', 'must name a host'],
    ['https://example.com/#frag', 'must be an http(s) URL without a fragment'],
    ['ftp://example.com/', 'must be an http(s) URL without a fragment'],
    ['example.com', 'must be an http(s) URL without a fragment'],
  ])('refuses %s', (url, problem) => {
    expect(webhookUrlProblem(url)).toBe(problem);
  });
});

describe('filterProblem', () => {
  it('accepts plain filters, refuses invalid, shared and $ filters', () => {
    expect(filterProblem('plant/+/temp')).toBeUndefined();
    expect(filterProblem('#')).toBeUndefined();
    expect(filterProblem('a/#/b')).toBe('must be a valid MQTT topic filter');
    expect(filterProblem('$share/g/a')).toBe('must be a plain topic filter, not a shared subscription');
    expect(filterProblem('$SYS/#')).toMatch(/must not start with \$/);
  });
});

describe('headerProblem', () => {
  it('accepts ordinary headers, refuses the rule\'s own and the platform\'s', () => {
    expect(headerProblem('Authorization', 'Bearer x')).toBeUndefined();
    expect(headerProblem('X-Edge-Mqtt-Signature', 'x')).toMatch(/set by the rule itself/);
    expect(headerProblem('X-Mqtt-Topic', 'x')).toMatch(/set by the rule itself/);
    expect(headerProblem('Host', 'x')).toMatch(/cannot be set/);
    expect(headerProblem('Bad Name', 'x')).toMatch(/not a valid token/);
    expect(headerProblem('X-A', 'a\r\nb')).toMatch(/invalid value/);
  });
});

it('a rule\'s session has a client id no device mistakes for its own', () => {
  expect(ruleClientId('temps')).toBe('$rule/temps');
});

describe('resolveHeaders and headerNames: header values are write-only', () => {
  const stored = { Authorization: 'Bearer s3cret', 'X-Old': 'gone' };

  it('a value sets a header; a name alone keeps the stored value; a header left out goes', () => {
    expect(resolveHeaders([{ name: 'Authorization' }, { name: 'X-Site', value: 'north' }], stored)).toEqual({ headers: { Authorization: 'Bearer s3cret', 'X-Site': 'north' } });
  });

  it('no headers asked: none kept', () => {
    expect(resolveHeaders(undefined, stored)).toEqual({ headers: undefined });
    expect(resolveHeaders([], stored)).toEqual({ headers: undefined });
  });

  it('a name alone with nothing stored under it is a problem, not an empty header', () => {
    expect(resolveHeaders([{ name: 'Authorization' }], undefined)).toEqual({ problem: expect.stringContaining('header "Authorization" has no value') });
  });

  it('answers carry the names only', () => {
    expect(headerNames(stored)).toEqual([{ name: 'Authorization' }, { name: 'X-Old' }]);
    expect(headerNames(undefined)).toBeUndefined();
  });
});
