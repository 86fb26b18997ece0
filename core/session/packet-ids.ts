// Packet identifier allocation for outbound QoS 1/2: 1..65535, never one still in use [MQTT-2.3.1-4] [MQTT-2.2.1-4 v5].

/**
 * Returns the next free identifier after `last`, wrapping from 65535 to 1, or undefined when all are taken.
 *   last = 65535, inUse = {1, 2}  →  3
 */
export function nextPacketId(last: number, inUse: { has(id: number): boolean; readonly size: number }): number | undefined {
  if (inUse.size >= 65535) return undefined;
  let candidate = last;
  for (;;) {
    candidate = candidate >= 65535 ? 1 : candidate + 1;
    if (!inUse.has(candidate)) return candidate;
  }
}
