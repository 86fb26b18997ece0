// CONNECT acceptance as a named list of steps, read top to bottom (model: aedes handlers/connect.js).
import type { ConnectPacket } from '../codec/packets.js';
import { ReasonCode } from '../reason-codes.js';
import { isValidTopicName } from '../topic/validate.js';

export interface ConnectLimits {
  /** Ceiling on keepalive in seconds; 0 = none. Cloudflare resets sockets silent for 100 s. */
  maximumKeepAlive: number;
}

export type ConnectDecision =
  | {
      ok: true;
      clientId: string;
      /** True when the server chose the id (zero-length id with a clean session). */
      clientIdAssigned: boolean;
      /** Keepalive the server enforces, in seconds (0 = never). */
      keepAlive: number;
      /** 5.0: Server Keep Alive to announce when it differs from what the client asked for. */
      serverKeepAlive?: number;
    }
  | { ok: false; reasonCode: number; reason: string };

/**
 * Decide whether a decoded CONNECT is acceptable, before any session state is touched.
 * `newClientId` is called only when the server has to assign an identifier.
 */
export function decideConnect(
  packet: ConnectPacket,
  limits: ConnectLimits,
  newClientId: () => string,
): ConnectDecision {
  const v5 = packet.protocolVersion === 5;

  // Step 1: client identifier.
  let clientId = packet.clientId;
  let clientIdAssigned = false;
  if (clientId.length === 0) {
    // MQTT 3.1 (level 3) requires 1 to 23 characters: an empty id is refused whatever the flags.
    if (packet.protocolVersion === 3) {
      return { ok: false, reasonCode: ReasonCode.ClientIdentifierNotValid, reason: 'MQTT 3.1 requires a client id' };
    }
    if (!packet.cleanSession && !v5) {
      // [MQTT-3.1.3-8] zero-length id without clean session: CONNACK 0x02 and close.
      return { ok: false, reasonCode: ReasonCode.ClientIdentifierNotValid, reason: 'empty client id needs clean session' };
    }
    // [MQTT-3.1.3-6] [MQTT-3.1.3-7] assign a unique id; 5.0 always may [MQTT-3.1.3-6 v5].
    clientId = newClientId();
    clientIdAssigned = true;
  }
  if (clientId.length > 65535) {
    return { ok: false, reasonCode: ReasonCode.ClientIdentifierNotValid, reason: 'client id too long' };
  }

  // Step 2: the will topic must be a valid topic name [MQTT-3.3.2-2] [MQTT-4.7.3-1]. 3.1.1 has no CONNACK
  // code for that: it is a protocol violation, and the connection is closed without one [MQTT-4.8.0-1].
  if (packet.will && !isValidTopicName(packet.will.topic)) {
    return {
      ok: false,
      reasonCode: v5 ? ReasonCode.TopicNameInvalid : ReasonCode.ProtocolError,
      reason: 'invalid will topic',
    };
  }

  // Step 3: enhanced authentication is not offered: a method we do not support gets 0x8C [MQTT-4.12.0-1 v5].
  if (v5 && packet.properties?.authenticationMethod !== undefined) {
    return { ok: false, reasonCode: ReasonCode.BadAuthenticationMethod, reason: 'authentication method not supported' };
  }

  // Step 4: keepalive. 3.1.1 cannot be told another value, so it is enforced as asked;
  // 5.0 is told Server Keep Alive when it asked for none or more than the ceiling [MQTT-3.2.2-21 v5].
  let keepAlive = packet.keepAlive;
  let serverKeepAlive: number | undefined;
  if (v5 && limits.maximumKeepAlive > 0 && (keepAlive === 0 || keepAlive > limits.maximumKeepAlive)) {
    keepAlive = limits.maximumKeepAlive;
    serverKeepAlive = keepAlive;
  }
  return { ok: true, clientId, clientIdAssigned, keepAlive, ...(serverKeepAlive === undefined ? {} : { serverKeepAlive }) };
}

/** Milliseconds without any packet after which the server closes the connection [MQTT-3.1.2-24]. */
export function keepAliveDeadlineMs(keepAliveSeconds: number): number {
  return keepAliveSeconds === 0 ? 0 : keepAliveSeconds * 1500;
}
