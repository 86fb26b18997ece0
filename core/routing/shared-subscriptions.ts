// Shared subscriptions `$share/{group}/{filter}`: which one member of a group gets each message (MQTT 5.0 §4.8.2).
//
// Round robin per shared filter, skipping members that recently reported no live connection:
//
//   members [s1, s2, s3], s2 reported offline at t (remembered until t + 30 s)
//   pick → s1    pick → s3 (s2 skipped)    pick → s1    … after t + 30 s, or once s2 reports online: s2 again
//
// When every member is offline one is still picked, in turn: a persistent session queues QoS 1/2 messages
// until its client returns, so nothing is lost; skipping offline members is a preference, not a rule.
// The state is in memory only and advisory: after a restart the rotation simply starts again.

/** How long a member that answered "offline" is passed over while another member is available. */
export const OFFLINE_MEMORY_MS = 30_000;

/** Past this many remembered groups the rotation positions are dropped (bounded memory; harmless). */
const MAX_GROUPS = 10_000;
/** Past this many remembered offline members, expired entries are swept. */
const SWEEP_OFFLINE_AT = 1_000;

export class SharedSubscriptionBalancer {
  /** Full `$share/…` filter -> index of the member to try first next time. */
  readonly #next = new Map<string, number>();
  /** Member -> time (ms) until which it counts as offline. */
  readonly #offlineUntil = new Map<string, number>();

  constructor(private readonly offlineMemoryMs = OFFLINE_MEMORY_MS) {}

  /**
   * The member of the shared subscription `shareFilter` that gets the next message: the next one in turn
   * that is not believed offline, else the next one in turn. Undefined only when `members` is empty.
   * `members` should come in a stable order (the trie's insertion order) for the rotation to be fair.
   */
  pick(shareFilter: string, members: readonly string[], now: number): string | undefined {
    const count = members.length;
    if (count === 0) return undefined;
    const start = (this.#next.get(shareFilter) ?? 0) % count;
    let chosen = start;
    for (let i = 0; i < count; i++) {
      const index = (start + i) % count;
      if (!this.#isOffline(members[index]!, now)) {
        chosen = index;
        break;
      }
    }
    if (this.#next.size >= MAX_GROUPS && !this.#next.has(shareFilter)) this.#next.clear();
    this.#next.set(shareFilter, (chosen + 1) % count);
    return members[chosen];
  }

  /** Records what a member's session answered to a delivery: online, or no live connection. */
  reportPresence(member: string, online: boolean, now: number): void {
    if (online) {
      this.#offlineUntil.delete(member);
      return;
    }
    this.#offlineUntil.set(member, now + this.offlineMemoryMs);
    if (this.#offlineUntil.size > SWEEP_OFFLINE_AT) {
      for (const [key, until] of this.#offlineUntil) if (until <= now) this.#offlineUntil.delete(key);
    }
  }

  /** True while `member` is remembered as offline. */
  isOffline(member: string, now: number): boolean {
    return this.#isOffline(member, now);
  }

  #isOffline(member: string, now: number): boolean {
    const until = this.#offlineUntil.get(member);
    if (until === undefined) return false;
    if (until > now) return true;
    this.#offlineUntil.delete(member);
    return false;
  }
}
