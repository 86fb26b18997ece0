// Session and delayed-will lifetimes (5.0 §3.1.2.11), with 3.1.1's clean session mapped onto them.
// Message lifetimes live with the message: core/routing/message.ts.
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
 * whichever is first (5.0 §3.1.3.2.2).
 */
export function willPublishAt(nowMs: number, willDelaySeconds: number, sessionExpirySeconds: number): number {
  const delay = Math.min(willDelaySeconds, sessionExpirySeconds === NEVER_EXPIRES ? willDelaySeconds : sessionExpirySeconds);
  return nowMs + delay * 1000;
}
