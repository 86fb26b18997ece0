// Topic Aliases (5.0 §3.3.2.3.4): the client's aliases for what it sends, ours for what we send it.
//
//   inbound:  PUBLISH topic="a/b" alias=3  → remember 3 → "a/b";  PUBLISH topic="" alias=3 → "a/b"
//   outbound: first "a/b" → send topic + alias 1;  next "a/b" → send "" + alias 1
import type { PublishPacket } from '../codec/packets.js';
import { ReasonCode, type ReasonCodeValue } from '../reason-codes.js';

export type InboundAliasResult =
  | { ok: true; topic: string; /** Set when this packet (re)defines an alias. */ define?: { alias: number; topic: string } }
  | { ok: false; reasonCode: ReasonCodeValue; reason: string };

/** Resolves the topic of an inbound PUBLISH against the aliases the client has defined. */
export function resolveInboundTopic(packet: PublishPacket, aliases: ReadonlyMap<number, string>, maximum: number): InboundAliasResult {
  const alias = packet.properties?.topicAlias;
  if (alias === undefined) {
    // (5.0 §3.3.2.1) a zero-length topic needs an alias.
    if (packet.topic.length === 0) return { ok: false, reasonCode: ReasonCode.ProtocolError, reason: 'empty topic without alias' };
    return { ok: true, topic: packet.topic };
  }
  // [MQTT-3.3.2-8 v5] [MQTT-3.3.2-9 v5] 0 or above the Topic Alias Maximum we announced is invalid.
  if (alias === 0 || alias > maximum) return { ok: false, reasonCode: ReasonCode.TopicAliasInvalid, reason: `topic alias ${alias} out of range` };
  if (packet.topic.length > 0) return { ok: true, topic: packet.topic, define: { alias, topic: packet.topic } };
  const known = aliases.get(alias);
  if (known === undefined) return { ok: false, reasonCode: ReasonCode.ProtocolError, reason: `unknown topic alias ${alias}` };
  return { ok: true, topic: known };
}

/**
 * Aliases the server assigns for topics it sends, up to the client's Topic Alias Maximum [MQTT-3.3.2-11 v5].
 * The first `maximum` distinct topics keep an alias for the connection's life; later topics go without.
 * Losing this map (a hibernation) is safe: the next send re-defines the alias with the full topic.
 *
 *   aliasFor("a/b") → { alias 1, sendTopic }   define("a/b", 1)   aliasFor("a/b") → { alias 1 }
 *
 * Looking up and defining are separate so that a packet that is never sent (too large for the client)
 * defines nothing the client would not know.
 */
export class OutboundTopicAliases {
  private readonly byTopic = new Map<string, number>();

  constructor(private readonly maximum: number) {}

  /** The alias to use and whether the topic must still be sent in full; undefined when none is left. */
  aliasFor(topic: string): { alias: number; sendTopic: boolean } | undefined {
    const known = this.byTopic.get(topic);
    if (known !== undefined) return { alias: known, sendTopic: false };
    if (this.byTopic.size >= this.maximum) return undefined;
    return { alias: this.byTopic.size + 1, sendTopic: true };
  }

  /** Records an alias once the packet that defines it has been sent. */
  define(topic: string, alias: number): void {
    if (!this.byTopic.has(topic)) this.byTopic.set(topic, alias);
  }
}
