// Data locations: object names to tenants, emulated names, and an isolate's book of tenant locations.
import { describe, expect, it } from 'vitest';
import { emulatedName, isJurisdiction, LocationBook, objectPlace, storedLocation, tenantOfObjectName } from '../../../core/tenancy/data-location.js';

describe('object names', () => {
  it('the tenant is the name up to its first NUL', () => {
    expect(tenantOfObjectName('acme')).toBe('acme');
    expect(tenantOfObjectName('acme\u0000client-1')).toBe('acme');
    expect(tenantOfObjectName('acme\u0000shard\u00003\u0000fanout\u00001')).toBe('acme');
  });

  it('only the platform jurisdictions are jurisdictions', () => {
    expect(['eu', 'fedramp', 'fedramp-high'].every(isJurisdiction)).toBe(true);
    expect(['EU', 'us', 'global', '', null, undefined, 1].some(isJurisdiction)).toBe(false);
  });

  it('a stored location this release does not know is an error, never global', () => {
    expect(storedLocation(null)).toBeNull();
    expect(storedLocation('eu')).toBe('eu');
    expect(() => storedLocation('us')).toThrow(/not one this release knows/);
  });

  it("an object's place comes from its id's jurisdiction, or from an emulated name's prefix (taken off)", () => {
    expect(objectPlace('acme\u0000c', 'eu')).toEqual({ name: 'acme\u0000c', location: 'eu' });
    expect(objectPlace('acme\u0000c', undefined)).toEqual({ name: 'acme\u0000c', location: null });
    expect(objectPlace(emulatedName('fedramp-high', 'acme\u0000c'), undefined)).toEqual({ name: 'acme\u0000c', location: 'fedramp-high' });
    expect(objectPlace(undefined, 'eu')).toEqual({ location: 'eu' });
  });
});

describe('LocationBook', () => {
  it('reads a tenant once, then knows it for good; overlapping lookups share the read', async () => {
    const book = new LocationBook(1000);
    let reads = 0;
    const read = async () => {
      reads++;
      return 'eu' as const;
    };
    expect(await Promise.all([book.lookup('acme', 0, read), book.lookup('acme', 0, read)])).toEqual(['eu', 'eu']);
    expect(await book.lookup('acme', 10_000_000, read)).toBe('eu');
    expect(reads).toBe(1);
    expect(book.get('acme')).toBe('eu');
  });

  it('remembers a missing tenant only briefly, and does not keep a failed read', async () => {
    const book = new LocationBook(1000);
    let answer: 'eu' | undefined = undefined;
    let reads = 0;
    const read = async () => {
      reads++;
      return answer;
    };
    expect(await book.lookup('new', 0, read)).toBeUndefined();
    answer = 'eu';
    expect(await book.lookup('new', 999, read)).toBeUndefined();
    expect(await book.lookup('new', 1000, read)).toBe('eu');
    expect(reads).toBe(2);
    await expect(book.lookup('flaky', 0, () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(await book.lookup('flaky', 0, async () => null)).toBeNull();
  });

  it('refuses to learn a second location for a tenant; the deployment\'s own names are global', () => {
    const book = new LocationBook(1000);
    book.learn('acme', 'eu');
    book.learn('acme', 'eu');
    expect(() => book.learn('acme', null)).toThrow(/known to live in eu, not global/);
    expect(book.get('_registry')).toBeNull();
    expect(book.get('unknown')).toBeUndefined();
  });
});
