// What a bridge does with one message that arrived on one side: send it to the other side (which topic,
// which QoS, which properties), or drop it and say why. No I/O: the object running the bridge publishes.
//
//   arrived on   hop count        then
//   local        < maxHops        → remote, remotePrefix + (topic − localPrefix), hops + 1 (5.0 remote)
//   local        ≥ maxHops        dropped: 'loop' (it crossed enough bridges already)
//   remote       echo (3.1.1)     dropped: 'loop' (what this bridge just sent there)
//   remote       < maxHops        → local, localPrefix + (topic − remotePrefix), hops + 1
//   either       no mapping       dropped: 'unmapped' (a subscription left from an earlier configuration)
import type { Properties, PublishPacket } from '../codec/index.js';
import type { BridgeConfig } from './config.js';
import { hopsOf, withHops, type EchoGuard } from './loop-guard.js';
import { mapTopic, type Side } from './topic-map.js';

export interface Forward {
  topic: string;
  payload: Uint8Array;
  qos: 0 | 1;
  retain: boolean;
  properties?: Properties;
}

export type ForwardPlan = { action: 'forward'; message: Forward } | { action: 'drop'; reason: 'loop' | 'unmapped' };

/**
 * The plan for `packet`, arrived on `from`. `echoes` remembers what goes to a 3.1.1 remote and recognises it
 * coming back; the caller gives the same guard to every call of one bridge.
 */
export function planForward(config: BridgeConfig, from: Side, packet: PublishPacket, echoes: EchoGuard, now: number): ForwardPlan {
  const remoteV5 = config.protocolVersion === 5;
  if (from === 'remote' && !remoteV5 && echoes.isEcho(packet.topic, packet.payload, now)) return { action: 'drop', reason: 'loop' };
  const hops = hopsOf(packet.properties);
  if (hops >= config.maxHops) return { action: 'drop', reason: 'loop' };
  const topic = mapTopic(config.topics, from, packet.topic);
  if (topic === undefined) return { action: 'drop', reason: 'unmapped' };
  const toV5 = from === 'remote' || remoteV5;
  if (from === 'local' && !remoteV5) echoes.remember(topic, packet.payload, now);
  const properties = toV5 ? { ...forwardedProperties(packet.properties), userProperties: withHops(packet.properties?.userProperties, hops + 1) } : undefined;
  return {
    action: 'forward',
    message: { topic, payload: packet.payload, qos: packet.qos === 0 ? 0 : 1, retain: packet.retain, ...(properties ? { properties } : {}) },
  };
}

/**
 * The properties that describe the message itself and so cross with it. Not the ones of this hop: topic
 * alias, subscription identifiers. The receiving broker counts the message expiry from when it arrives
 * there, as for any publish.
 */
function forwardedProperties(properties: Properties | undefined): Properties {
  if (!properties) return {};
  const { payloadFormatIndicator, messageExpiryInterval, contentType, responseTopic, correlationData } = properties;
  return {
    ...(payloadFormatIndicator === undefined ? {} : { payloadFormatIndicator }),
    ...(messageExpiryInterval === undefined ? {} : { messageExpiryInterval }),
    ...(contentType === undefined ? {} : { contentType }),
    ...(responseTopic === undefined ? {} : { responseTopic }),
    ...(correlationData === undefined ? {} : { correlationData }),
  };
}
