// Session and message lifetimes (5.0 §3.1.2.11, §3.3.2.3.3), with 3.1.1's clean session mapped onto them.
import type { ConnectPacket } from '../codec/packets.js';

/** 0xFFFFFFFF: the session does not expire (5.0 §3.1.2.11.2). */
export const NEVER_EXPIRES = 0xffffffff;

/**
 * Seconds the session outlives its connection. 3.1.1: clean session ends with the connection (0),
 * otherwise it is kept forever; 5.0: the Session Expiry Interval, absent = 0.
 */
export function sessionExpiryInterval(packet: ConnectPacket): number {
  if (packet.protocolVersion !== 5) return packet.cleanSession ? 0 : NEVER_EXPIRES;
  return packet.properties?.sessionExpiryInterval ?? 0;
}

/** When an offline session expires, in ms since the epoch; null = never. */
export function sessionExpiresAt(nowMs: number, intervalSeconds: number): number | null {
  return intervalSeconds === NEVER_EXPIRES ? null : nowMs + intervalSeconds * 1000;
}

/**
 * When a will with a delay is published: after the Will Delay Interval or when the session ends,
 * whichever is first [MQTT-3.1.3-9 v5].
 */
export function willPublishAt(nowMs: number, willDelaySeconds: number, sessionExpirySeconds: number): number {
  const delay = Math.min(willDelaySeconds, sessionExpirySeconds === NEVER_EXPIRES ? willDelaySeconds : sessionExpirySeconds);
  return nowMs + delay * 1000;
}

/** Absolute expiry of a message with a Message Expiry Interval; undefined = never. */
export function messageExpiresAt(nowMs: number, intervalSeconds: number | undefined): number | undefined {
  return intervalSeconds === undefined ? undefined : nowMs + intervalSeconds * 1000;
}

/**
 * The interval to forward: what is left, rounded up, never 0 for a live message [MQTT-3.3.2-6 v5].
 * Returns undefined when the message has expired.
 */
export function remainingExpirySeconds(expiresAtMs: number, nowMs: number): number | undefined {
  const left = expiresAtMs - nowMs;
  return left <= 0 ? undefined : Math.ceil(left / 1000);
}

/** True once a message's expiry has passed: it is neither delivered nor kept [MQTT-3.3.2-5 v5]. */
export function hasExpired(message: { expiresAt?: number }, now: number): boolean {
  return message.expiresAt !== undefined && message.expiresAt <= now;
}
