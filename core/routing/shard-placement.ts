// One topic shard's place in its tenant's layout (shard-layout.ts) and the decisions a split takes from it:
// what the shard owns, whether it may split now, where its split stands, and when its publish rate says so.
import { baseDepth, MAX_DEPTH, owns, splitChild, topicMovesInSplit } from './shard-layout.js';
import type { ShardAddress, SplitProgress } from './shard-protocol.js';

/**
 * Where this shard sits in its tenant's layout (shard-layout.ts) and what a split of it has left to do; one
 * row, rewritten at each step. `after` is the copy's or the cleanup's cursor in the table being walked:
 * [filter, session] in subscriptions, [topic] in retained.
 */
export interface Placement {
  self?: ShardAddress;
  depth: number;
  split?: { child: number; phase: 'begin' | 'subscriptions' | 'retained' | 'flip'; after: string[]; startedAt: number };
  cleanup?: { phase: 'subscriptions' | 'retained'; after: string[] };
  /** Children not yet registered with shard 0's list. */
  register: number[];
}

/** The placement of a shard nothing has named or split yet: at the base depth (0 for a fixed layout). */
export function initialPlacement(shardCount: number): Placement {
  return { depth: baseDepth(shardCount) ?? 0, register: [] };
}

/** True when this shard owns topics of this hash; always when it has no name yet or the layout is fixed. */
export function ownsHash(place: Placement, shardCount: number, hash: number): boolean {
  if (!place.self || baseDepth(shardCount) === undefined) return true;
  return owns(place.self.index, place.depth, hash);
}

/** True while a split, a registration or a cleanup is left to do (an alarm resumes it). */
export function hasSplitWork(place: Placement): boolean {
  return Boolean(place.split || place.cleanup) || place.register.length > 0;
}

/**
 * A new split of this shard (the copy starts from nothing), or undefined when it cannot split now: unnamed,
 * busy with another split's work, on a fixed layout, or at MAX_DEPTH.
 */
export function beginSplit(place: Placement, shardCount: number, now: number): Placement['split'] {
  if (!place.self || hasSplitWork(place)) return undefined;
  if (baseDepth(shardCount) === undefined || place.depth >= MAX_DEPTH) return undefined;
  return { child: splitChild(place.self.index, place.depth), phase: 'begin', after: [], startedAt: now };
}

/** Where a split stands, with the figures of the split that runs or last ran in this object. */
export function splitProgress(place: Placement, stats: { rowsCopied: number; copyMs?: number }): SplitProgress {
  return {
    index: place.self?.index ?? null,
    depth: place.depth,
    state: place.split ? 'copying' : place.cleanup || place.register.length > 0 ? 'cleaning' : 'idle',
    ...(place.split ? { child: place.split.child } : {}),
    rowsCopied: stats.rowsCopied,
    ...(stats.copyMs === undefined ? {} : { copyMs: stats.copyMs }),
  };
}

/**
 * Which retained rows of one copy step go to the child: in topic order, those that move, until their payloads
 * would pass `maxBytes` (the first one goes whatever its size, so a step always moves on). `examined` is the
 * last topic looked at (the next step's cursor); `cut` is true when the bytes, not the rows, ended the step.
 */
export function retainedCopyBatch(
  rows: ReadonlyArray<{ topic: string; size: number }>,
  depth: number,
  child: number,
  maxBytes: number,
): { taken: string[]; examined: string | undefined; cut: boolean } {
  const taken: string[] = [];
  let bytes = 0;
  let examined: string | undefined;
  for (const { topic, size } of rows) {
    if (topicMovesInSplit(topic, depth, child)) {
      if (taken.length > 0 && bytes + size > maxBytes) return { taken, examined, cut: true };
      taken.push(topic);
      bytes += size;
    }
    examined = topic;
  }
  return { taken, examined, cut: false };
}

/** A shard's publish rate over fixed windows: a split is considered at the end of each window. */
export class PublishRate {
  private since: number;
  private messages = 0;

  constructor(
    now: number,
    private readonly windowMs: number,
  ) {
    this.since = now;
  }

  /** Counts published messages; at the end of a window, answers its rate in messages per second. */
  note(messages: number, now: number): number | undefined {
    this.messages += messages;
    const elapsed = now - this.since;
    if (elapsed < this.windowMs) return undefined;
    const messagesPerSecond = (this.messages * 1000) / elapsed;
    this.since = now;
    this.messages = 0;
    return messagesPerSecond;
  }
}
