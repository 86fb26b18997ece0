// The bridge's pure parts: configuration checks, topic mapping, the forwarding plan with its loop guards,
// and the back-off.
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../../core/bridge/backoff.js';
import { bridgeConfig, remoteUrlProblem, topicMappingProblem, type BridgeConfig } from '../../../core/bridge/config.js';
import { planForward } from '../../../core/bridge/forward.js';
import { EchoGuard, HOPS_PROPERTY, hopsOf, withHops } from '../../../core/bridge/loop-guard.js';
import { filtersOn, mapTopic, subscriptionsOn } from '../../../core/bridge/topic-map.js';
import type { PublishPacket } from '../../../core/codec/index.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const config = (overrides: Partial<BridgeConfig> = {}): BridgeConfig =>
  bridgeConfig('acme', {
    name: 'cloud',
    url: 'mqtts://broker.example:8883',
    topics: [
      { pattern: 'sensors/#', direction: 'out', remotePrefix: 'site-7/' },
      { pattern: 'cmd/#', direction: 'in', localPrefix: 'from-cloud/', remotePrefix: 'site-7/' },
      { pattern: 'chat/+', direction: 'both', qos: 0 },
    ],
    ...overrides,
  });
const message = (topic: string, payload = 'p', properties?: PublishPacket['properties']): PublishPacket => ({
  type: 'publish',
  topic,
  payload: bytes(payload),
  qos: 1,
  retain: false,
  dup: false,
  packetId: 1,
  ...(properties ? { properties } : {}),
});

describe('bridge configuration', () => {
  it('fills in the defaults: 5.0, persistent sessions, QoS 1, enabled, one hop, a client id from tenant and name', () => {
    expect(config()).toMatchObject({ protocolVersion: 5, cleanStart: false, keepAlive: 60, enabled: true, maxHops: 1, clientId: 'edge-acme-cloud' });
    expect(config().topics[0]).toEqual({ pattern: 'sensors/#', direction: 'out', qos: 1, localPrefix: '', remotePrefix: 'site-7/' });
  });

  it.each([
    ['mqtt://127.0.0.1:1883', undefined],
    ['wss://broker.example/mqtt', undefined],
    ['mqtts://[::1]:8883', undefined],
    ['http://broker.example', /must be a URL starting with mqtt/],
    ['mqtt://user:pw@broker.example', /must not hold credentials/],
    ['mqtt://broker.example:70000', /port from 1 to 65535/],
    ['mqtt://', /must name a host/],
  ])('remote URL %s', (url, problem) => {
    const found = remoteUrlProblem(url);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toMatch(problem);
  });

  it('[MQTT-4.7.1-2] a mapping must make valid filters: no wildcard in a prefix, # only last, no shared subscription', () => {
    expect(topicMappingProblem({ pattern: 'a/#', localPrefix: 'x/' })).toBeUndefined();
    expect(topicMappingProblem({ pattern: 'a/#/b' })).toMatch(/pattern/);
    expect(topicMappingProblem({ pattern: '$share/g/a' })).toMatch(/pattern/);
    expect(topicMappingProblem({ pattern: 'a', remotePrefix: 'x/+/' })).toMatch(/remotePrefix must not hold/);
  });
});

describe('topic mapping', () => {
  it('subscribes on each side to prefix + pattern of the mappings leaving that side', () => {
    expect(filtersOn(config().topics, 'local')).toEqual([
      { filter: 'sensors/#', qos: 1 },
      { filter: 'chat/+', qos: 0 },
    ]);
    expect(filtersOn(config().topics, 'remote')).toEqual([
      { filter: 'site-7/cmd/#', qos: 1 },
      { filter: 'chat/+', qos: 0 },
    ]);
  });

  it('[MQTT-3.8.3-3 v5] 5.0 subscriptions carry No Local, Retain As Published and Retain Handling 1; 3.1.1 ones none', () => {
    expect(subscriptionsOn(config().topics, 'remote', true)[0]).toEqual({ topicFilter: 'site-7/cmd/#', qos: 1, noLocal: true, retainAsPublished: true, retainHandling: 1 });
    expect(subscriptionsOn(config().topics, 'remote', false)[0]).toEqual({ topicFilter: 'site-7/cmd/#', qos: 1 });
  });

  it('moves a topic from one prefix to the other, by the first mapping that covers it', () => {
    const { topics } = config();
    expect(mapTopic(topics, 'local', 'sensors/t1')).toBe('site-7/sensors/t1');
    expect(mapTopic(topics, 'remote', 'site-7/cmd/reboot')).toBe('from-cloud/cmd/reboot');
    expect(mapTopic(topics, 'remote', 'site-7/sensors/t1')).toBeUndefined();
    expect(mapTopic(topics, 'local', 'chat/room')).toBe('chat/room');
    expect(mapTopic(topics, 'local', 'chat/room/deeper')).toBeUndefined();
  });
});

describe('forwarding plan and loop prevention', () => {
  it('forwards local → 5.0 remote with the hop count incremented and the message\'s own properties kept', () => {
    const plan = planForward(config(), 'local', message('sensors/t1', 'x', { contentType: 'text/plain', userProperties: [['trace', '1']], subscriptionIdentifiers: [4] }), new EchoGuard(), 0);
    expect(plan).toEqual({
      action: 'forward',
      message: { topic: 'site-7/sensors/t1', payload: bytes('x'), qos: 1, retain: false, properties: { contentType: 'text/plain', userProperties: [['trace', '1'], [HOPS_PROPERTY, '1']] } },
    });
  });

  it('does not bridge a message that already crossed maxHops bridges', () => {
    const crossed = message('sensors/t1', 'x', { userProperties: withHops(undefined, 1) });
    expect(planForward(config(), 'local', crossed, new EchoGuard(), 0)).toEqual({ action: 'drop', reason: 'loop' });
    expect(planForward(config({ maxHops: 2 }), 'local', crossed, new EchoGuard(), 0)).toMatchObject({ action: 'forward', message: { properties: { userProperties: [[HOPS_PROPERTY, '2']] } } });
  });

  it('3.1.1 remote: no properties go out; the echo of what was sent is dropped once per copy sent, and only within the window', () => {
    const v4 = config({ protocolVersion: 4 });
    const echoes = new EchoGuard(10_000);
    const out = planForward(v4, 'local', message('chat/a', 'hi'), echoes, 0);
    expect(out).toEqual({ action: 'forward', message: { topic: 'chat/a', payload: bytes('hi'), qos: 1, retain: false } });
    expect(planForward(v4, 'remote', message('chat/a', 'hi'), echoes, 1000)).toEqual({ action: 'drop', reason: 'loop' });
    // Sent once, echoed once: the same message again is a genuine one, bridged in with hop 1.
    expect(planForward(v4, 'remote', message('chat/a', 'hi'), echoes, 1000)).toMatchObject({ action: 'forward', message: { topic: 'chat/a', properties: { userProperties: [[HOPS_PROPERTY, '1']] } } });
    planForward(v4, 'local', message('chat/a', 'late'), echoes, 2000);
    expect(planForward(v4, 'remote', message('chat/a', 'late'), echoes, 12_001).action).toBe('forward');
  });

  it('a message no mapping covers (left by an earlier configuration) is dropped as unmapped', () => {
    expect(planForward(config(), 'local', message('elsewhere/x'), new EchoGuard(), 0)).toEqual({ action: 'drop', reason: 'unmapped' });
  });

  it('reads a malformed hop count as 0 and replaces, not repeats, the property', () => {
    expect(hopsOf({ userProperties: [[HOPS_PROPERTY, 'lots']] })).toBe(0);
    expect(withHops([[HOPS_PROPERTY, '1'], ['a', 'b']], 2)).toEqual([['a', 'b'], [HOPS_PROPERTY, '2']]);
  });

  it('the echo memory is bounded: past its capacity the oldest are forgotten', () => {
    const echoes = new EchoGuard(60_000, 3);
    for (let i = 0; i < 5; i++) echoes.remember('t', bytes(String(i)), i);
    expect(echoes.remembered).toBe(3);
    expect(echoes.isEcho('t', bytes('0'), 10)).toBe(false);
    expect(echoes.isEcho('t', bytes('4'), 10)).toBe(true);
  });
});

describe('back-off', () => {
  it('doubles from 1 s to at most 60 s, with the delay jittered within [ceiling / 2, ceiling]', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 10].map((attempt) => backoffDelay(attempt, 0.999999))).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
    expect(backoffDelay(0, 0)).toBe(500);
    expect(backoffDelay(20, 0)).toBe(30_000);
  });
});
