// The shard's placement row (core/routing/shard-placement.ts), read at first use and written at each change.
import { initialPlacement, ownsHash, type Placement } from '../../core/routing/shard-placement.js';
import type { ShardAddress } from '../../core/routing/shard-protocol.js';
import { topicHash } from '../../core/routing/shard.js';
import type { CountedSql } from '../invocation-counters.js';
import { fromJson, toJson } from '../json.js';
import type { Row } from './schema.js';

export class PlacementStore {
  /** Placement, read at first use. */
  private place: Placement | undefined;

  constructor(
    private readonly sql: CountedSql,
    private readonly shardCount: number,
  ) {}

  get(): Placement {
    if (!this.place) {
      const row = this.sql.one<Row>("SELECT value FROM placement WHERE key = 'placement'");
      this.place = row ? fromJson<Placement>(row.value as string) : initialPlacement(this.shardCount);
    }
    return this.place;
  }

  /** The shard's name if known, without reading the row (for a log line). */
  get self(): ShardAddress | undefined {
    return this.place?.self;
  }

  /** Writes the placement held in memory (changed in place by the caller). */
  save(): void {
    this.sql.run("INSERT INTO placement (key, value) VALUES ('placement', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", toJson(this.place));
  }

  /** Replaces the placement and writes it (a child adopting a split). */
  replace(place: Placement): void {
    this.place = place;
    this.save();
  }

  /** Learns this shard's name from a routed call (kept: an alarm resuming a split has no caller) and answers whether it owns a topic. */
  ownership(address: ShardAddress): (topic: string) => boolean {
    const place = this.get();
    if (!place.self) {
      place.self = { tenant: address.tenant, index: address.index };
      this.save();
    }
    return (topic) => this.ownsHash(topicHash(topic));
  }

  ownsHash(hash: number): boolean {
    return ownsHash(this.get(), this.shardCount, hash);
  }
}
