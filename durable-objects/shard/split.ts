// ShardSplitter: a shard's online split (shard-layout.ts): copy the moving half to the child, forward the
// changes made meanwhile, flip, register the child with shard 0, clean up; an alarm resumes what stops.
import { assertNever } from '../../core/codec/packets.js';
import { filterHash, movesInSplit, owns, shouldSplit, type SplitThresholds } from '../../core/routing/shard-layout.js';
import { beginSplit, hasSplitWork, PublishRate, retainedCopyBatch, splitProgress, type Placement } from '../../core/routing/shard-placement.js';
import type { ShardAddress, SplitProgress, SplitRows } from '../../core/routing/shard-protocol.js';
import { topicHash } from '../../core/routing/shard.js';
import type { CountedSql } from '../invocation-counters.js';
import type { PlacementStore } from './placement.js';
import type { RetainedStore } from './retained-store.js';
import { addShard } from './shard-list.js';
import type { SplitLog } from './split-log.js';
import { subscriptionRow, type SubscriptionsStore } from './subscriptions-store.js';

/** Rows a split step reads (and copies at most), and retained payload bytes one step sends at most. */
const SPLIT_BATCH_ROWS = 2_000;
const SPLIT_BATCH_BYTES = 8 * 1024 * 1024;
/** The window a publish rate is measured over for a split. */
const RATE_WINDOW_MS = 10_000;
/** A split or cleanup that stops (eviction, crash) is resumed by an alarm this long after its last step. */
const SPLIT_WATCHDOG_MS = 10_000;

/** Test and benchmark knobs of split(): smaller steps and a pause make a split span traffic. */
export interface SplitOptions {
  batchRows?: number;
  pauseMs?: number;
}

/** The calls a split makes to another shard of its tenant (TopicShardDO's RPC methods of the same names). */
export interface ShardPeer {
  adoptSplit(address: ShardAddress, depth: number): Promise<void>;
  absorbSplit(rows: SplitRows): Promise<void>;
  registerShard(index: number): Promise<void>;
}

export interface SplitPorts {
  sql: CountedSql;
  storage: DurableObjectStorage;
  placement: PlacementStore;
  subscriptions: SubscriptionsStore;
  retained: RetainedStore;
  log: SplitLog;
  shardCount: number;
  thresholds: SplitThresholds;
  /** Shard `index` of a tenant. */
  peer: (tenant: string, index: number) => ShardPeer;
}

export class ShardSplitter {
  /** The running split or cleanup, if any: one at a time. */
  private work: Promise<void> | undefined;
  private options: Required<SplitOptions> = { batchRows: SPLIT_BATCH_ROWS, pauseMs: 0 };
  private stats: { rowsCopied: number; copyMs?: number } = { rowsCopied: 0 };
  /** Messages published here in the current rate window. */
  private readonly rate = new PublishRate(Date.now(), RATE_WINDOW_MS);

  constructor(private readonly ports: SplitPorts) {}

  /**
   * Splits this shard now: resolves once the depth has flipped, and cleanup of the moved rows goes on in
   * the background. A split already running is joined, not started again.
   */
  async split(options: SplitOptions): Promise<SplitProgress> {
    this.options = { batchRows: options.batchRows ?? SPLIT_BATCH_ROWS, pauseMs: options.pauseMs ?? 0 };
    const place = this.ports.placement.get();
    if (!place.split && !this.start()) {
      if (place.cleanup || place.register.length > 0) await this.resume();
      return this.progress();
    }
    await this.resume();
    return this.progress();
  }

  /** Where this shard's split stands. */
  progress(): SplitProgress {
    return splitProgress(this.ports.placement.get(), this.stats);
  }

  /** Child side, first step of a split (or of a retried one): forget whatever an earlier attempt copied. */
  adopt(address: ShardAddress, depth: number): void {
    const { sql, storage, placement, subscriptions, retained, log } = this.ports;
    storage.transactionSync(() => {
      sql.run('DELETE FROM subscriptions');
      sql.run('DELETE FROM retained');
      log.clear();
      placement.replace({ self: address, depth, register: [] });
    });
    subscriptions.unload();
    retained.forgetHeld();
  }

  /** Child side: one ordered step of the parent's copy or of its forwarded changes (idempotent). */
  absorb(rows: SplitRows): void {
    const { storage, subscriptions, retained } = this.ports;
    storage.transactionSync(() => {
      for (const row of rows.subscriptions) subscriptions.absorb(row);
      for (const { filter, session } of rows.unsubscribed) subscriptions.drop(filter, session);
      for (const row of rows.retained) retained.absorb(row);
      for (const topic of rows.unretained) retained.drop(topic);
    });
    retained.forgetHeld();
  }

  /** Resumes a split or cleanup an eviction or crash stopped. */
  async alarm(): Promise<void> {
    if (hasSplitWork(this.ports.placement.get())) {
      if (this.work) await this.ports.storage.setAlarm(Date.now() + SPLIT_WATCHDOG_MS);
      else await this.resume();
    }
  }

  /** Counts routed publishes; at the end of each window, a rate past the threshold starts a split. */
  notePublishes(messages: number): void {
    const messagesPerSecond = this.rate.note(messages, Date.now());
    if (messagesPerSecond !== undefined) this.consider(messagesPerSecond);
  }

  /** Starts a split in the background when the shard's load is past a threshold. */
  consider(messagesPerSecond = 0): void {
    if (this.work) return;
    const exactSubscriptions = this.ports.subscriptions.exactCount();
    if (!shouldSplit({ exactSubscriptions, messagesPerSecond }, this.ports.thresholds)) return;
    if (this.start()) void this.resume();
  }

  /** Records a new split (the copy starts from nothing); false when this shard cannot split now. */
  private start(): boolean {
    const place = this.ports.placement.get();
    const split = beginSplit(place, this.ports.shardCount, Date.now());
    if (!split) return false;
    place.split = split;
    this.ports.placement.save();
    this.stats = { rowsCopied: 0 };
    return true;
  }

  /** Runs what is left of a split (copy, flip, registration, cleanup), once at a time; an alarm backs it up. */
  private resume(): Promise<void> {
    this.work ??= this.run()
      .catch((error: unknown) => console.warn('shard split step failed: the alarm retries it', { shard: this.ports.placement.self, error: String(error) }))
      .finally(() => {
        this.work = undefined;
      });
    return this.work;
  }

  private async run(): Promise<void> {
    const { storage, placement, subscriptions } = this.ports;
    // The trie, loaded: old wildcard rows migrated to their homes before any child reads them, and the
    // wildcard changes the log forwards read from it.
    await subscriptions.ready();
    for (;;) {
      await storage.setAlarm(Date.now() + SPLIT_WATCHDOG_MS);
      const place = placement.get();
      if (place.split) await this.splitStep(place);
      else if (place.register.length > 0) await this.registerChildren(place);
      else if (place.cleanup) this.cleanupStep(place);
      else break;
      if (this.options.pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, this.options.pauseMs));
    }
    await storage.deleteAlarm();
  }

  /**
   * One step: the child forgets an earlier attempt; then, in bounded batches, the logged changes and the
   * next rows of the moving half in key order (exact subscriptions, then retained), the cursor saved after
   * each; last, with the log empty, the flip. Changes and rows go to the child in one chain, so it ends in
   * this shard's state. Wildcard subscriptions are no rows here: the child reads them from the tenant's
   * wildcard homes when it loads its trie (after its adopt), and the log forwards the wildcard changes made
   * here meanwhile, so a subscribe that reached only this shard before the flip reaches the child too.
   */
  private async splitStep(place: Placement): Promise<void> {
    const split = place.split!;
    const self = place.self!;
    const child = this.ports.peer(self.tenant, split.child);
    switch (split.phase) {
      case 'begin':
        await child.adoptSplit({ tenant: self.tenant, index: split.child }, place.depth + 1);
        split.phase = 'subscriptions';
        split.after = [];
        break;
      case 'subscriptions': {
        await this.drainLog(child, place);
        const limit = this.options.batchRows;
        const rows = this.ports.subscriptions.page(split.after, limit);
        const moving = rows.filter((row) => movesInSplit(row.filter as string, place.depth, split.child)).map(subscriptionRow);
        if (moving.length > 0) await child.absorbSplit({ subscriptions: moving, unsubscribed: [], retained: [], unretained: [] });
        this.stats.rowsCopied += moving.length;
        const last = rows[rows.length - 1];
        if (rows.length < limit || !last) {
          split.phase = 'retained';
          split.after = [];
        } else split.after = [last.filter as string, last.session as string];
        break;
      }
      case 'retained': {
        await this.drainLog(child, place);
        const limit = this.options.batchRows;
        const rows = this.ports.retained.keys(split.after[0] ?? '', limit);
        const batch = retainedCopyBatch(
          rows.map((row) => ({ topic: row.topic as string, size: row.size as number })),
          place.depth,
          split.child,
          SPLIT_BATCH_BYTES,
        );
        const retained = batch.taken.flatMap((topic) => this.ports.retained.row(topic) ?? []);
        if (retained.length > 0) await child.absorbSplit({ subscriptions: [], unsubscribed: [], retained, unretained: [] });
        this.stats.rowsCopied += retained.length;
        if (!batch.cut && rows.length < limit) {
          split.phase = 'flip';
          split.after = [];
        } else split.after = [batch.examined ?? split.after[0] ?? ''];
        break;
      }
      case 'flip':
        await this.drainLog(child, place);
        // No await between this check and the flip: no change can slip in unlogged and unsent.
        if (!this.ports.log.isEmpty()) return;
        this.flip(place);
        return;
      default:
        return assertNever(split.phase);
    }
    this.ports.placement.save();
  }

  /** Sends the logged changes of the moving half, as the rows' current state, in bounded batches. */
  private async drainLog(child: ShardPeer, place: Placement): Promise<void> {
    const { subscriptions, retained, log } = this.ports;
    for (;;) {
      const entries = log.oldest(this.options.batchRows);
      if (entries.length === 0 || !place.split) return;
      const rows: SplitRows = { subscriptions: [], unsubscribed: [], retained: [], unretained: [] };
      const seen = new Set<string>();
      let bytes = 0;
      let upTo = 0;
      for (const entry of entries) {
        const [kind, a, b] = [entry.kind as string, entry.a as string, entry.b as string];
        const key = `${kind}\u0000${a}\u0000${b}`;
        if (!seen.has(key)) {
          seen.add(key);
          if (kind === 's') {
            const row = subscriptions.row(a, b);
            if (row) rows.subscriptions.push(row);
            else rows.unsubscribed.push({ filter: a, session: b });
          } else {
            const row = retained.row(a);
            if (upTo > 0 && row && bytes + row.payload.length > SPLIT_BATCH_BYTES) break;
            if (row) {
              rows.retained.push(row);
              bytes += row.payload.length;
            } else rows.unretained.push(a);
          }
        }
        upTo = entry.seq as number;
      }
      await child.absorbSplit(rows);
      this.stats.rowsCopied += rows.subscriptions.length + rows.retained.length;
      log.dropUpTo(upTo);
    }
  }

  /**
   * The child holds the moving half: from now on this shard is at depth + 1 and answers "moved" for it.
   * Synchronous and one transaction; the moved rows are deleted afterwards, in batches.
   */
  private flip(place: Placement): void {
    const split = place.split!;
    this.ports.storage.transactionSync(() => {
      place.depth += 1;
      place.split = undefined;
      place.cleanup = { phase: 'subscriptions', after: [] };
      place.register = [...place.register, split.child];
      this.ports.placement.save();
    });
    this.stats.copyMs = Date.now() - split.startedAt;
    this.ports.retained.forgetHeld();
  }

  /** Adds the new children to shard 0's list of the tenant's shards. */
  private async registerChildren(place: Placement): Promise<void> {
    const self = place.self!;
    for (const index of place.register) {
      if (self.index === 0) addShard(this.ports.sql, index);
      else await this.ports.peer(self.tenant, 0).registerShard(index);
    }
    place.register = [];
    this.ports.placement.save();
  }

  /** Deletes one batch of the rows this shard no longer owns (exact subscriptions, retained messages). */
  private cleanupStep(place: Placement): void {
    const cleanup = place.cleanup!;
    const self = place.self!;
    const limit = this.options.batchRows;
    if (cleanup.phase === 'subscriptions') {
      const rows = this.ports.subscriptions.keys(cleanup.after, limit);
      for (const row of rows) {
        const [filter, session] = [row.filter as string, row.session as string];
        const hash = filterHash(filter);
        if (hash === undefined || owns(self.index, place.depth, hash)) continue;
        this.ports.subscriptions.drop(filter, session);
      }
      const last = rows[rows.length - 1];
      if (rows.length < limit || !last) place.cleanup = { phase: 'retained', after: [] };
      else cleanup.after = [last.filter as string, last.session as string];
    } else {
      const rows = this.ports.retained.keys(cleanup.after[0] ?? '', limit);
      for (const row of rows) {
        const topic = row.topic as string;
        if (owns(self.index, place.depth, topicHash(topic))) continue;
        this.ports.retained.drop(topic, row.size as number);
      }
      const last = rows[rows.length - 1];
      if (rows.length < limit || !last) place.cleanup = undefined;
      else cleanup.after = [last.topic as string];
    }
    this.ports.placement.save();
  }
}
