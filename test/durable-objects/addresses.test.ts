// Every stub of addresses.ts resolves its tenant's namespace: a recording fake namespace shows where each
// object would be addressed (local workerd has no jurisdictions to show it for real).
import { describe, expect, it } from 'vitest';
import {
  combinerStub,
  directoryStub,
  fanoutStub,
  logStub,
  presenceStub,
  REGISTRY_NAME,
  sessionName,
  sessionStub,
  shardStub,
  tenantLocations,
  tenantObject,
  tenantStub,
  tokenStub,
  wildcardStub,
} from '../../durable-objects/addresses.js';
import type { Env } from '../../durable-objects/env.js';

/** A namespace that records "<jurisdiction or global>:<name>" for each id it makes. */
function recordingNamespace(log: string[], jurisdiction = 'global', subs = new Map<string, unknown>()): DurableObjectNamespace<any> {
  return {
    idFromName: (name: string) => {
      log.push(`${jurisdiction}:${name}`);
      return { name, jurisdiction } as unknown as DurableObjectId;
    },
    get: (id: DurableObjectId) => ({ id }) as unknown,
    jurisdiction: (j: string) => {
      if (!subs.has(j)) subs.set(j, recordingNamespace(log, j));
      return subs.get(j);
    },
  } as unknown as DurableObjectNamespace<any>;
}

function fakeEnv(emulate = false): { env: Env; log: string[] } {
  const log: string[] = [];
  const bindings = ['SESSION', 'SHARD', 'TENANT', 'TOKEN', 'PRESENCE', 'FANOUT', 'COMBINER', 'WILDCARD', 'EVENT_LOG'];
  const env = Object.fromEntries(bindings.map((b) => [b, recordingNamespace(log)])) as unknown as Env;
  if (emulate) env.EMULATE_JURISDICTIONS = 'true';
  return { env, log };
}

function everyStub(env: Env, tenant: string): void {
  sessionStub(env, sessionName(tenant, 'c1'));
  shardStub(env, tenant, 0);
  wildcardStub(env, tenant, 1);
  tenantStub(env, tenant);
  tokenStub(env, tenant, 'tok');
  presenceStub(env, tenant, 2);
  combinerStub(env, tenant, 0, 3);
  logStub(env, tenant, 4);
  fanoutStub(env, `${tenant}\u0000shard\u00000`, 5);
}

describe('addresses', () => {
  it("every object of an eu tenant is addressed through namespace.jurisdiction('eu')", () => {
    tenantLocations.learn('eu-unit', 'eu');
    const { env, log } = fakeEnv();
    everyStub(env, 'eu-unit');
    expect(log).toHaveLength(9);
    expect(log.every((entry) => entry.startsWith('eu:eu-unit'))).toBe(true);
  });

  it('a global tenant and the default tenant stay in the global namespaces', () => {
    tenantLocations.learn('global-unit', null);
    const { env, log } = fakeEnv();
    everyStub(env, 'global-unit');
    everyStub(env, 'default');
    expect(log).toHaveLength(18);
    expect(log.every((entry) => entry.startsWith('global:'))).toBe(true);
  });

  it('the registry and directory entries are global whatever the tenant', () => {
    tenantLocations.learn('fed-unit', 'fedramp');
    const { env, log } = fakeEnv();
    tenantStub(env, REGISTRY_NAME);
    directoryStub(env, 'fed-unit');
    tenantStub(env, 'fed-unit');
    expect(log).toEqual(['global:_registry', 'global:_directory\u0000fed-unit', 'fedramp:fed-unit']);
  });

  it('emulated locally: the global namespace, under a prefixed name', () => {
    tenantLocations.learn('emu-unit', 'fedramp-high');
    const { env, log } = fakeEnv(true);
    tokenStub(env, 'emu-unit', 'tok');
    expect(log).toEqual(['global:@fedramp-high/emu-unit\u0000token\u0000tok']);
  });

  it('an unknown tenant throws instead of defaulting to global; a name must carry its tenant', () => {
    const { env, log } = fakeEnv();
    expect(() => shardStub(env, 'never-seen', 0)).toThrow(/data location of tenant "never-seen" is not known/);
    expect(() => sessionStub(env, 'never-seen\u0000c')).toThrow(/not known/);
    tenantLocations.learn('named', null);
    expect(() => tenantObject(env, env.TOKEN, 'named', 'other\u0000x')).toThrow(/does not belong to tenant "named"/);
    expect(log).toEqual([]);
  });

  it('says how to fix a platform without jurisdictions', () => {
    tenantLocations.learn('eu-nojur', 'eu');
    const { env } = fakeEnv();
    (env.SESSION as unknown as { jurisdiction: () => never }).jurisdiction = () => {
      throw new Error('Jurisdiction restrictions are not implemented in workerd.');
    };
    expect(() => sessionStub(env, sessionName('eu-nojur', 'c'))).toThrow(/EMULATE_JURISDICTIONS=true/);
  });
});
