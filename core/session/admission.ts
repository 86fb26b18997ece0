// The one publish admission: a client's PUBLISH, a will (at CONNECT and again when it is published) and an
// HTTP publish pass the same rules, in this order:
//
//   1. the topic is a topic name: not empty, no wildcard [MQTT-3.3.2-2] [MQTT-4.7.3-1]   0x90
//   2. a payload declared UTF-8 is UTF-8 (5.0 §3.3.2.3.2; §3.1.3.2.3 for a will)              0x99
//   3. `$` topics ($SYS) are the broker's: read-only for clients [DESIGN §5]                  0x87
//   4. the token's ACL allows publishing to the topic [DESIGN §5]                             0x87
//   5. the payload is within the token's maxMessageSize                                      0x97 (counted)
//
// What only a PUBLISH packet has (topic aliases, Receive Maximum, publish rate, QoS 2 duplicates) is checked
// around it in publish.ts.
import { isWellFormedUtf8 } from '../codec/utf8.js';
import type { Properties, Will } from '../codec/packets.js';
import { mayPublish, type AclIdentity } from '../acl/acl.js';
import { ReasonCode, type ReasonCodeValue } from '../reason-codes.js';
import { routedMessage, type RoutedMessage } from '../routing/message.js';
import type { ConnectionToken } from '../tenancy/token.js';
import { isValidTopicName } from '../topic/validate.js';
import type { SessionCounter } from './effects.js';

/** The parts of a message the admission looks at. */
export interface PublishCandidate {
  topic: string;
  payload: Uint8Array;
  properties?: Properties;
}

export type Refusal = { ok: false; reasonCode: ReasonCodeValue; reason: string; counter?: SessionCounter };
export type Admission = { ok: true } | Refusal;

/**
 * Decides whether `token` (null: anonymous or the deployment's admin, no ACL) may publish `message`.
 * `identity` fills the ACL's %c and %u.
 */
export function admitPublish(message: PublishCandidate, token: ConnectionToken | null, identity: AclIdentity): Admission {
  const { topic } = message;
  if (!isValidTopicName(topic)) return refuse(ReasonCode.TopicNameInvalid, 'not a valid topic name');
  if (message.properties?.payloadFormatIndicator === 1 && !isWellFormedUtf8(message.payload)) {
    return refuse(ReasonCode.PayloadFormatInvalid, 'payload declared UTF-8 is not UTF-8');
  }
  if (topic.startsWith('$')) return refuse(ReasonCode.NotAuthorized, '$ topics are the broker\'s');
  if (token && !mayPublish(token.acl, identity, topic)) return refuse(ReasonCode.NotAuthorized, `this token may not publish to "${topic}"`);
  const maxMessageSize = token?.limits.maxMessageSize;
  if (maxMessageSize !== undefined && message.payload.length > maxMessageSize) {
    return { ...refuse(ReasonCode.QuotaExceeded, `payload is larger than this token's limit of ${maxMessageSize} bytes`), counter: 'limit_message_size' };
  }
  return { ok: true };
}

/** %c is the client id; %u the token id (the username's public part: the secret never reaches a topic). */
export function aclIdentity(clientId: string, token: ConnectionToken | null): AclIdentity {
  return { clientId, username: token?.id ?? '' };
}

/** How many retained topics one shard may hold for the tenant: its share of the tenant's limit (if any). */
export function retainedShare(maxRetained: number | undefined, shardCount: number): number | undefined {
  return maxRetained === undefined ? undefined : Math.ceil(maxRetained / shardCount);
}

/**
 * The message an admitted publish (a PUBLISH, a will, an HTTP publish) hands its shard: `routedMessage`, and
 * with RETAIN the shard's share of the tenant's retained limit.
 */
export function messageToRoute(source: Will, origin: string, maxRetained: number | undefined, now: number, shardCount: number, tokenId?: string): RoutedMessage {
  const message = routedMessage(source, origin, now);
  if (tokenId !== undefined) message.tokenId = tokenId;
  const retainedLimit = source.retain ? retainedShare(maxRetained, shardCount) : undefined;
  if (retainedLimit !== undefined) message.retainedLimit = retainedLimit;
  return message;
}

function refuse(reasonCode: ReasonCodeValue, reason: string): Refusal {
  return { ok: false, reasonCode, reason };
}
