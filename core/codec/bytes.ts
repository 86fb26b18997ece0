// Byte helpers: several MQTT packets may share one WebSocket message.

/** Concatenate byte arrays into one (several MQTT packets may share one WebSocket message). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
