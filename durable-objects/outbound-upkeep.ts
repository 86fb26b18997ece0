// The one timer a session object keeps for its outbound store (outbound-store.ts), between steps: the mark
// row's flush, and keeping memory-only messages from a hibernation. After a burst it lapses, so the object
// qualifies for hibernation (test/integration/hibernation.test.ts).
import type { OutboundStore } from './outbound-store.js';

/**
 * Quiet time after which the outbound mark row is written: a burst of deliveries and acknowledgements writes
 * it once, at its end, and at least every MARK_FLUSH_MAX_DELAY_MS under steady load.
 */
const MARK_FLUSH_QUIET_MS = 1000;
const MARK_FLUSH_MAX_DELAY_MS = 30_000;
/**
 * While messages are held in memory only (a session that ends with its connection), a pending timer keeps the
 * object from hibernating: hibernation would forget them while the client is still connected. It fires every
 * KEEP_AWAKE_MS and re-arms only while they are held, so the object qualifies for hibernation at most
 * KEEP_AWAKE_MS after its last one completed.
 */
const KEEP_AWAKE_MS = 2_000;

export class OutboundUpkeep {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastStepAt = 0;
  /** Whether a client owned the session after the last step. */
  private online = false;
  /** When the mark became stale (undefined: it is not). */
  private dirtySince: number | undefined;

  constructor(private readonly outbound: OutboundStore) {}

  /** After every step of the session: when it ran, and whether a client owns the session now. */
  afterStep(now: number, online: boolean): void {
    this.lastStepAt = now;
    this.online = online;
    this.arm();
  }

  private arm(): void {
    const outbound = this.outbound;
    // Offline, nothing more will be acknowledged for a while: the mark goes now, with the step that wrote
    // the session offline, so that a restart soon after (a deploy) resends nothing already acknowledged.
    if (outbound.markDirty && !this.online) this.flush();
    if (!outbound.markDirty) this.dirtySince = undefined;
    else this.dirtySince ??= Date.now();
    // Nothing to keep: an armed timer is left to lapse (it re-arms only if needed). Clearing and arming one
    // per message cost QoS 1 latency at 100 pairs × 10 msg/s (p50 75 ms, measured); one that lapses keeps
    // the object from hibernating for at most KEEP_AWAKE_MS after its last message.
    if (!outbound.markDirty && outbound.heldInMemory === 0) return;
    this.timer ??= setTimeout(() => this.fire(), outbound.markDirty ? MARK_FLUSH_QUIET_MS : KEEP_AWAKE_MS);
  }

  private fire(): void {
    this.timer = undefined;
    const now = Date.now();
    const quietFor = now - this.lastStepAt;
    if (this.outbound.markDirty && quietFor < MARK_FLUSH_QUIET_MS && now - (this.dirtySince ?? now) < MARK_FLUSH_MAX_DELAY_MS) {
      // Still busy: look again once it may have been quiet long enough.
      this.timer = setTimeout(() => this.fire(), Math.max(50, MARK_FLUSH_QUIET_MS - quietFor));
      return;
    }
    if (this.outbound.markDirty) this.flush();
    this.arm();
  }

  private flush(): void {
    try {
      this.outbound.flushMark();
    } catch (error) {
      // Not written: the rows still say more is live than is, which a wake resends (outbound-store.ts).
      console.error('outbound mark not written', String(error));
    }
  }
}
