// Per-token limits (flespi-style). Absent fields mean "no limit beyond the deployment's own"; a token's limit
// only ever lowers the deployment's where both exist (wrangler.toml [vars]: MAX_SUBSCRIPTIONS, MAX_QUEUED).

export interface TokenLimits {
  /** Concurrent MQTT connections using this token. */
  maxConnections?: number;
  /** PUBLISH packets per second per connection (a token bucket with one second of burst). */
  publishRate?: number;
  /** Largest application payload, bytes. */
  maxMessageSize?: number;
  /** Subscriptions one session may hold (below MAX_SUBSCRIPTIONS). */
  maxSubscriptions?: number;
  /** Messages queued for one session (below MAX_QUEUED; MAX_QUEUED_BYTES bounds their payload bytes). */
  maxQueued?: number;
}

/**
 * A token bucket for publish rate: `rate` tokens per second, holding at most `rate`.
 *   rate 2: t=0 take, take → ok, ok; take → refused; t=0.5 s take → ok (one token refilled)
 */
export class RateBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly rate: number,
    now: number,
  ) {
    this.tokens = rate;
    this.updatedAt = now;
  }

  take(now: number): boolean {
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.updatedAt) / 1000) * this.rate);
    this.updatedAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
