// What keeps a loop of bridges (A → B → A, or a bridge whose remote echoes back what it sent) from
// amplifying one message into a storm. Three layers, from strongest:
//   1. No Local on every 5.0 subscription (topic-map.ts): a side never sends the bridge its own publishes.
//   2. A hop count in a 5.0 user property, incremented by each bridge a message crosses; a message that has
//      crossed maxHops bridges is not bridged again (another bridge of this tenant, or the far broker's own
//      bridge back to us, would otherwise pass it on).
//   3. For a 3.1.1 remote (no No Local, no properties): the echo of what the bridge itself just sent there,
//      recognised by topic and payload within a few seconds, is dropped. The trade-off: an identical
//      message (same topic, same payload) genuinely published at the remote within that window is dropped
//      too; only 3.1.1 remotes pay it.
import type { Properties } from '../codec/index.js';

export const HOPS_PROPERTY = 'x-edge-mqtt-hops';

/** Bridges a message has crossed (0 when it carries no hop count, or a malformed one). */
export function hopsOf(properties: Properties | undefined): number {
  const found = properties?.userProperties?.find(([name]) => name === HOPS_PROPERTY);
  const hops = found ? Number(found[1]) : 0;
  return Number.isInteger(hops) && hops >= 0 ? hops : 0;
}

/** The user properties with the hop count set to `hops` (any earlier one replaced, the others kept in order). */
export function withHops(userProperties: Array<[string, string]> | undefined, hops: number): Array<[string, string]> {
  return [...(userProperties ?? []).filter(([name]) => name !== HOPS_PROPERTY), [HOPS_PROPERTY, String(hops)]];
}

/** How long a sent message is remembered as a possible echo. */
export const ECHO_WINDOW_MS = 10_000;
/** Messages remembered at most; past it the oldest go first (an echo arriving later is bridged once more). */
export const ECHO_MEMORY = 4096;

/**
 * Recent messages sent to a 3.1.1 remote, each recognised once when it comes back: N identical messages sent
 * cancel exactly N echoes. Two FIFOs over the same entries: all of them in the order sent (to expire and to
 * bound them), and per (topic, payload) key (to find one).
 */
export class EchoGuard {
  private readonly order: EchoEntry[] = [];
  private head = 0;
  private readonly byKey = new Map<string, EchoEntry[]>();
  private live = 0;

  constructor(
    private readonly windowMs = ECHO_WINDOW_MS,
    private readonly capacity = ECHO_MEMORY,
  ) {}

  remember(topic: string, payload: Uint8Array, now: number): void {
    this.expire(now);
    const entry: EchoEntry = { key: echoKey(topic, payload), expiresAt: now + this.windowMs, consumed: false };
    this.order.push(entry);
    const same = this.byKey.get(entry.key);
    if (same) same.push(entry);
    else this.byKey.set(entry.key, [entry]);
    this.live++;
    while (this.live > this.capacity) this.dropHead();
  }

  /** True (and forgotten) when `topic`/`payload` is the echo of a message sent within the window. */
  isEcho(topic: string, payload: Uint8Array, now: number): boolean {
    this.expire(now);
    const key = echoKey(topic, payload);
    const same = this.byKey.get(key);
    const entry = same?.shift();
    if (!entry) return false;
    if (same!.length === 0) this.byKey.delete(key);
    entry.consumed = true;
    this.live--;
    return true;
  }

  /** Messages remembered and not yet echoed or expired. */
  get remembered(): number {
    return this.live;
  }

  private expire(now: number): void {
    while (this.head < this.order.length && this.order[this.head]!.expiresAt <= now) this.dropHead();
  }

  /** Forgets the oldest entry (an echoed one is already forgotten by its key). */
  private dropHead(): void {
    const entry = this.order[this.head++];
    if (entry && !entry.consumed) {
      const same = this.byKey.get(entry.key)!;
      same.shift();
      if (same.length === 0) this.byKey.delete(entry.key);
      this.live--;
    }
    // Compact now and then instead of shifting the array on every drop.
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order.splice(0, this.head);
      this.head = 0;
    }
  }
}

interface EchoEntry {
  key: string;
  expiresAt: number;
  consumed: boolean;
}

/** Topic, payload length and a 32-bit FNV-1a of the payload: enough to tell an echo from another message. */
function echoKey(topic: string, payload: Uint8Array): string {
  let hash = 0x811c9dc5;
  for (const byte of payload) hash = Math.imul(hash ^ byte, 0x01000193);
  return `${payload.length}:${(hash >>> 0).toString(16)}:${topic}`;
}
