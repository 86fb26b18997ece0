// A SUBSCRIBE's retained messages, read from the shards in bounded rounds as the subscriber takes them.
//
//   SUBSCRIBE a/# ──subscribeShards──▶ each shard registers the filter and answers one page in topic order:
//                                      at most its share of RETAINED_PAGE messages and RETAINED_PAGE_BYTES,
//                                      and `next`, where it stopped
//   subscribed ──▶ SUBACK; take from each page, in order, what the session has room for (queueRoom: QoS 0
//                  copies need none); per shard, what is left becomes a cursor: the last topic taken, or `next`
//   queue empty and a window slot free ──▶ the next round: subscribeShards { continueFrom: cursors } (a read,
//                   no registration) ──▶ subscribed { replayRound } ──▶ take ──▶ … until no shard has more
//
// So no answer carries more than a page (a 55 MB `#` replay is 14 rounds of 4 MiB), and the queue's bounds
// drop no retained message: a round waits until the queue is empty and a window slot is free. Rules:
//   - with a window slot free, a round takes at least its first message, whatever its size: it goes out at
//     once, so one larger than the queue's byte bound cannot stall the replay, and every round moves on;
//   - a new SUBSCRIBE of a filter replaces its replay, an UNSUBSCRIBE ends it; a round in flight that
//     carried it is ignored when it answers (the other filters' cursors were kept and are read again);
//   - the replay lives in the connection's memory: it ends with the connection, and a hibernation while the
//     client sits on unacknowledged messages (about 10 s without a packet) cuts it short;
//   - a round whose shards fail ends the replay, counted as retained_replay_failed; the subscriptions stay.
import { hasExpired, sessionName, type Delivery } from '../routing/message.js';
import { deliveryQoS, type ReplayCursor, type SubscribeOutcome } from '../routing/subscription.js';
import type { Effects, SubscribeContinuation } from './effects.js';
import { ownerOf, type Connection, type RetainedReplay, type State } from './state.js';

/** What a SUBSCRIBE granted one filter, as far as its retained messages are concerned. */
export type RetainedPlan = SubscribeContinuation['retained'][number];

/**
 * Takes from the shards' pages, in order, the retained messages the session has `room` for (QoS 1/2 copies
 * use it; QoS 0 copies go out at once and need none). Returns them as deliveries; what is left stays in the
 * connection's replay as per-shard cursors.
 */
export function takeRetained(
  connection: Connection,
  plans: readonly RetainedPlan[],
  results: ReadonlyMap<string, SubscribeOutcome>,
  room: { window: number; count: number; bytes: number },
  now: number,
): Delivery[] {
  const replay: RetainedReplay = (connection.replay ??= { pending: new Map(), reading: undefined });
  const deliveries: Delivery[] = [];
  let tookQueued = false;
  for (const plan of plans) {
    const outcome = results.get(plan.filter);
    if (!outcome) continue;
    const started = replay.pending.get(plan.filter)?.cursors ?? [];
    const cursors: ReplayCursor[] = [];
    for (const page of outcome.pages) {
      let after = started.find((cursor) => cursor.shard === page.shard)?.after ?? '';
      let taken = 0;
      for (const message of page.retained) {
        const qos = deliveryQoS(message.qos, plan.qos);
        const size = message.payload.length;
        // [MQTT-3.3.2-5 v5] an expired message is passed over, and takes no room.
        const expired = hasExpired(message, now);
        if (!expired && qos > 0) {
          const fits = room.count > 0 && room.bytes >= size;
          // The first QoS 1/2 copy goes out at once when the window has a slot: taken whatever its size.
          if (!fits && (tookQueued || room.window === 0)) break;
          room.count--;
          room.bytes -= size;
          tookQueued = true;
        }
        taken++;
        after = message.topic;
        if (expired) continue;
        deliveries.push({
          ...message,
          qos,
          retain: true, // [MQTT-3.3.1-8]
          filters: [plan.filter],
          ...(plan.subscriptionIdentifier === undefined ? {} : { subscriptionIdentifiers: [plan.subscriptionIdentifier] }),
        });
      }
      if (taken < page.retained.length) cursors.push({ shard: page.shard, after });
      else if (page.next !== undefined) cursors.push({ shard: page.shard, after: page.next });
    }
    if (cursors.length === 0) {
      replay.pending.delete(plan.filter);
      continue;
    }
    const { filter, qos, subscriptionIdentifier } = plan;
    replay.pending.set(filter, { filter, qos, ...(subscriptionIdentifier === undefined ? {} : { subscriptionIdentifier }), cursors });
  }
  return deliveries;
}

/**
 * Reads the next round when the connection's replay waits for one and the session has a window slot free
 * (`room`: queueRoom, which has none while anything is queued).
 */
export function continueReplay(state: State, connection: Connection, room: { window: number }, out: Effects): void {
  const replay = connection.replay;
  const record = state.session.record;
  if (!replay || replay.reading !== undefined) return;
  if (replay.pending.size === 0 || !record || ownerOf(state) !== connection) {
    connection.replay = undefined;
    return;
  }
  if (state.session.queue.reading || room.window === 0) return;
  // Round ids come from the object's route ids: never reused, even by a later replay of this connection.
  const round = state.routes.next++;
  replay.reading = round;
  const plans = [...replay.pending.values()];
  out.emit({
    type: 'subscribeShards',
    tenant: record.tenant,
    session: sessionName(record.tenant, record.clientId),
    connectionId: connection.id,
    subscriptions: plans.map(({ filter, qos, cursors }) => ({ filter, qos, continueFrom: cursors })),
    then: {
      packetId: 0,
      reasonCodes: [],
      retained: plans.map(({ filter, qos, subscriptionIdentifier }) => ({
        filter,
        qos,
        retainHandling: 0,
        ...(subscriptionIdentifier === undefined ? {} : { subscriptionIdentifier }),
      })),
      added: [],
      epoch: state.routes.epoch,
      replayRound: round,
    },
  });
}

/** These filters were subscribed again or unsubscribed: their replays end (a SUBSCRIBE starts a new one). */
export function endReplays(connection: Connection | undefined, filters: Iterable<string>): void {
  const replay = connection?.replay;
  if (!replay) return;
  for (const filter of filters) {
    // The round in flight may carry the filter: its answer is ignored; the other cursors are still pending.
    if (replay.pending.delete(filter)) replay.reading = undefined;
  }
}
