// AUTH (5.0 section 3.15; no such packet in 3.1.1). Remaining Length 0 means 0x00 Success and no properties.
import { ReasonCode as RC } from '../reason-codes.js';
import type { AuthPacket } from './packets.js';
import { AUTH_PROPERTIES, decodeProperties, propertiesFieldSize, propertiesLength, writeProperties } from './properties.js';
import { expectFlags, expectReasonCode, reasonCodeSet, type Reader } from './reader.js';
import type { Writer } from './writer.js';

/** 5.0 section 3.15.2.1, Authenticate Reason Codes. */
const AUTH_REASON_CODES = reasonCodeSet(RC.Success, RC.ContinueAuthentication, RC.ReAuthenticate);

export function decodeAuth(r: Reader, flags: number): AuthPacket {
  expectFlags(flags, 0, 'AUTH'); // [MQTT-3.15.1-1 v5]
  if (r.remaining === 0) return { type: 'auth', reasonCode: RC.Success };
  const reasonCode = r.u8();
  expectReasonCode(AUTH_REASON_CODES, reasonCode, 'AUTH'); // [MQTT-3.15.2-1 v5]
  const packet: AuthPacket = { type: 'auth', reasonCode };
  // The spec only defines the 0-length short form; a lone reason code is read as having no properties.
  if (r.remaining > 0) {
    const properties = decodeProperties(r, AUTH_PROPERTIES);
    if (properties !== undefined) packet.properties = properties;
  }
  return packet;
}

export function encodeAuth(w: Writer, p: AuthPacket): void {
  const propsLength = propertiesLength(p.properties, AUTH_PROPERTIES);
  if (p.reasonCode === RC.Success && propsLength === 0) {
    w.header(0xf0, 0);
    return;
  }
  // Unlike DISCONNECT, AUTH has no form with a reason code but no Property Length: always write it.
  w.header(0xf0, 1 + propertiesFieldSize(propsLength));
  w.u8(p.reasonCode);
  writeProperties(w, p.properties, AUTH_PROPERTIES, propsLength);
}
