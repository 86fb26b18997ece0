// The protocol gate: which packets a connection may receive in which state [MQTT-3.1.0-1] [MQTT-3.1.0-2].
import type { PacketType } from '../codec/packets.js';
import { ReasonCode, type ReasonCodeValue } from '../reason-codes.js';
import type { ConnectionPhase } from './state.js';

/** Packets only a server sends; a client sending one commits a protocol violation. */
const SERVER_ONLY: ReadonlySet<PacketType> = new Set<PacketType>(['connack', 'suback', 'unsuback', 'pingresp']);

export type GateResult = { ok: true } | { ok: false; reasonCode: ReasonCodeValue; reason: string };

/** Decide whether a client packet may be processed in the current state. */
export function gateClientPacket(state: ConnectionPhase, type: PacketType, protocolVersion: number): GateResult {
  if (state === 'closed') return { ok: false, reasonCode: ReasonCode.ProtocolError, reason: 'connection closed' };
  if (state === 'awaitingConnect') {
    // [MQTT-3.1.0-1] the first packet from the client must be CONNECT.
    return type === 'connect' ? { ok: true } : { ok: false, reasonCode: ReasonCode.ProtocolError, reason: 'first packet must be CONNECT' };
  }
  // [MQTT-3.1.0-2] a second CONNECT is a protocol violation.
  if (type === 'connect') return { ok: false, reasonCode: ReasonCode.ProtocolError, reason: 'second CONNECT' };
  if (SERVER_ONLY.has(type)) return { ok: false, reasonCode: ReasonCode.ProtocolError, reason: `client sent ${type}` };
  // AUTH exists only in 5.0.
  if (type === 'auth' && protocolVersion !== 5) return { ok: false, reasonCode: ReasonCode.MalformedPacket, reason: 'AUTH in 3.1.1' };
  return { ok: true };
}
