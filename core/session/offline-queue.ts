// The bound on an offline session's queue: oldest messages are dropped first and counted (EMQX emqx_mqueue).
//
//   maximum = 3, queued = [m1 m2 m3], arriving m4  →  drop 1 (m1), queue [m2 m3 m4]

/** How many of the oldest queued messages to drop so that `incoming` more fit under `maximum`. */
export function overflowCount(queued: number, incoming: number, maximum: number): number {
  return Math.max(0, queued + incoming - maximum);
}
