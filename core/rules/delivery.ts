// What a rule sends, byte for byte: the JSON batch body, the raw per-message request, the message a Queue
// receives, and the bytes the HMAC signature covers. The adapter adds only the signature (Web Crypto is the
// platform's) and the I/O.
//
//   POST <url>                                       json: one request per batch
//   Content-Type: application/json
//   X-Edge-Mqtt-Rule: temperatures
//   X-Edge-Mqtt-Delivery: 6f1c…-3                   the same for every retry of this batch
//   X-Edge-Mqtt-Attempt: 2
//   X-Edge-Mqtt-Timestamp: 1764460800               unix seconds
//   X-Edge-Mqtt-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//   { "rule": "temperatures", "tenant": "acme", "deliveryId": "6f1c…-3",
//     "messages": [{ "topic": "plant/1/temp", "payload": "MjEuNQ==", "qos": 1, "retain": false, "receivedAt": 1764460799880 }] }
import { utf8Length, writeUtf8 } from '../codec/utf8.js';

/** A message as a rule received it from its session. */
export interface RuleMessage {
  topic: string;
  payload: Uint8Array;
  qos: 0 | 1 | 2;
  retain: boolean;
  /** When the rule received it (ms). */
  receivedAt: number;
  /** The session sent it before (MQTT DUP): the destination may have seen it already. */
  redelivered: boolean;
  userProperties?: Array<[string, string]>;
  contentType?: string;
}

/** Request headers the rules set (the receiver's side of the contract). */
export const RuleHeader = {
  rule: 'X-Edge-Mqtt-Rule',
  delivery: 'X-Edge-Mqtt-Delivery',
  attempt: 'X-Edge-Mqtt-Attempt',
  timestamp: 'X-Edge-Mqtt-Timestamp',
  signature: 'X-Edge-Mqtt-Signature',
  /** raw format: the message's topic, URI-encoded (topics are UTF-8; header values are not). */
  topic: 'X-Mqtt-Topic',
  qos: 'X-Mqtt-Qos',
  retain: 'X-Mqtt-Retain',
} as const;

/** One message in a JSON body or a Queue message. */
export interface EncodedMessage {
  topic: string;
  /** base64 of the payload bytes (payloads are bytes, not text). */
  payload: string;
  qos: number;
  retain: boolean;
  receivedAt: number;
  redelivered?: true;
  userProperties?: Array<[string, string]>;
  contentType?: string;
}

export function encodeMessage(message: RuleMessage): EncodedMessage {
  return {
    topic: message.topic,
    payload: base64(message.payload),
    qos: message.qos,
    retain: message.retain,
    receivedAt: message.receivedAt,
    ...(message.redelivered ? { redelivered: true as const } : {}),
    ...(message.userProperties?.length ? { userProperties: message.userProperties } : {}),
    ...(message.contentType !== undefined ? { contentType: message.contentType } : {}),
  };
}

/** A request a webhook rule sends, all but its signature headers. */
export interface WebhookRequest {
  body: Uint8Array;
  contentType: string;
  headers: Record<string, string>;
}

/** The JSON format: one request for the whole batch. */
export function jsonBatchRequest(rule: string, tenant: string, deliveryId: string, attempt: number, messages: readonly RuleMessage[]): WebhookRequest {
  const body = JSON.stringify({ rule, tenant, deliveryId, messages: messages.map(encodeMessage) });
  return { body: utf8(body), contentType: 'application/json', headers: baseHeaders(rule, deliveryId, attempt) };
}

/**
 * The raw format: one request per message, the payload as the body. Its delivery id is the batch's with the
 * message's place in it (`…-3.0`, `…-3.1`), so a retry of the rest of a batch keeps each message's id.
 */
export function rawMessageRequest(rule: string, deliveryId: string, attempt: number, message: RuleMessage, index: number): WebhookRequest {
  return {
    body: message.payload,
    contentType: message.contentType ?? 'application/octet-stream',
    headers: {
      ...baseHeaders(rule, `${deliveryId}.${index}`, attempt),
      [RuleHeader.topic]: encodeURIComponent(message.topic),
      [RuleHeader.qos]: String(message.qos),
      [RuleHeader.retain]: message.retain ? '1' : '0',
    },
  };
}

function baseHeaders(rule: string, deliveryId: string, attempt: number): Record<string, string> {
  return { [RuleHeader.rule]: rule, [RuleHeader.delivery]: deliveryId, [RuleHeader.attempt]: String(attempt) };
}

/** What the signature covers: `${timestamp}.` followed by the body bytes (Stripe's scheme). */
export function signedBytes(timestamp: number, body: Uint8Array): Uint8Array {
  const prefix = utf8(`${timestamp}.`);
  const out = new Uint8Array(prefix.length + body.length);
  out.set(prefix, 0);
  out.set(body, prefix.length);
  return out;
}

/** The signature header's value for a MAC. */
export function signatureValue(mac: Uint8Array): string {
  return `sha256=${hex(mac)}`;
}

/** A Queue message: one MQTT message with the rule and tenant it came through. */
export function queueMessage(rule: string, tenant: string, message: RuleMessage): EncodedMessage & { rule: string; tenant: string } {
  return { rule, tenant, ...encodeMessage(message) };
}

export function hex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += (b < 16 ? '0' : '') + b.toString(16);
  return out;
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Standard base64 with padding (core has no btoa). */
export function base64(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += BASE64[n >> 18]! + BASE64[(n >> 12) & 63]! + BASE64[(n >> 6) & 63]! + BASE64[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += `${BASE64[n >> 18]!}${BASE64[(n >> 12) & 63]!}==`;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += `${BASE64[n >> 18]!}${BASE64[(n >> 12) & 63]!}${BASE64[(n >> 6) & 63]!}=`;
  }
  return out;
}

function utf8(text: string): Uint8Array {
  const out = new Uint8Array(utf8Length(text));
  writeUtf8(text, out, 0);
  return out;
}
