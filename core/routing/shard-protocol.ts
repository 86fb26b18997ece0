// What a router and a topic shard tell each other once shards can split (shard-layout.ts): every answer
// carries the shard's depth, and what the shard no longer owns comes back "moved", untouched.
import type { QoS } from '../codec/packets.js';
import type { RetainedMessage } from './message.js';
import type { SubscribeResult, SubscriptionOptions } from './subscription.js';

/** Which shard a call is meant for: a shard learns its own name from it (an object does not know its name). */
export interface ShardAddress {
  tenant: string;
  index: number;
}

/** A routed publish's answer: sessions delivered to, and the positions in the batch it did not own. */
export interface PublishAnswer {
  depth: number;
  delivered: number;
  moved: number[];
  /** Topics of the batch that are hot (core/routing/hot-topics.ts): their publishers go through combiners. */
  hot?: string[];
}

/** A routed subscribe's answer, per entry in request order: null for an exact filter it does not own. */
export interface SubscribeAnswer {
  depth: number;
  results: Array<SubscribeResult | null>;
}

/** A routed unsubscribe's answer: the exact filters it does not own (not removed). */
export interface UnsubscribeAnswer {
  depth: number;
  moved: string[];
}

export interface ListRetainedAnswer {
  depth: number;
  messages: RetainedMessage[];
  next: string | null;
}

export interface DeleteRetainedAnswer {
  depth: number;
  moved: boolean;
  deleted: boolean;
}

/** One subscription row as a split copies it. */
export interface SubscriptionRow extends SubscriptionOptions {
  filter: string;
  session: string;
}

/** One retained row as a split copies it (properties as stored: JSON text). */
export interface RetainedRow {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  properties: string | null;
  expiresAt: number | null;
}

/**
 * One step of a split, parent → child, applied in order: upserts of the rows' current state and deletes of
 * rows gone. Idempotent, so a step resent after a crash changes nothing twice.
 */
export interface SplitRows {
  subscriptions: SubscriptionRow[];
  unsubscribed: Array<{ filter: string; session: string }>;
  retained: RetainedRow[];
  unretained: string[];
}

/** Where a shard's split stands (the split RPC's answer, and statistics). */
export interface SplitProgress {
  index: number | null;
  depth: number;
  state: 'idle' | 'copying' | 'cleaning';
  child?: number;
  /** Rows sent to the child by the split that finished or runs (since this object started). */
  rowsCopied: number;
  /** Milliseconds from the split's start to its flip, for the last split this object ran. */
  copyMs?: number;
}
