// PINGREQ and PINGRESP (sections 3.12, 3.13 in both versions): a fixed header and nothing else; decodePacket
// rejects any byte after it.
import type { PingreqPacket, PingrespPacket } from './packets.js';
import { expectFlags } from './reader.js';
import type { Writer } from './writer.js';

export function decodePingreq(flags: number): PingreqPacket {
  expectFlags(flags, 0, 'PINGREQ'); // [MQTT-2.2.2-1] [MQTT-2.1.3-1 v5]
  return { type: 'pingreq' };
}

export function decodePingresp(flags: number): PingrespPacket {
  expectFlags(flags, 0, 'PINGRESP'); // [MQTT-2.2.2-1] [MQTT-2.1.3-1 v5]
  return { type: 'pingresp' };
}

export function encodePingreq(w: Writer): void {
  w.header(0xc0, 0);
}

export function encodePingresp(w: Writer): void {
  w.header(0xd0, 0);
}
