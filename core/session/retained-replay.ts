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
//   - the pending cursors are also a row, keyed by connection (`saveReplay`): written when a round or an
//     (UN)SUBSCRIBE changes them, once per round and not per message, never with the round in flight. So a
//     hibernation while the client sits on unacknowledged messages (about 10 s without a packet), or an
//     eviction that kept the socket, cuts nothing short: on wake the owner's replay is restored, and the
//     first input reads the round that was in flight again if the session has room (its answer died with
//     the memory); otherwise the next PUBACK, PUBCOMP or emptied queue does, as always;
//   - the replay and its row end with the connection; the row of a connection lost without a close event is
//     dropped on wake, and a discarded session drops them all;
//   - a round whose shards fail ends the replay, counted as retained_replay_failed; the subscriptions stay.
import { hasExpired, sessionName, type Delivery } from '../routing/message.js';
import { deliveryQoS, type ReplayCursor, type SubscribeOutcome } from '../routing/subscription.js';
import type { Effects, SubscribeContinuation } from './effects.js';
import { ownerOf, type Connection, type ReplayPlan, type State } from './state.js';

/** What a SUBSCRIBE granted one filter, as far as its retained messages are concerned. */
export type RetainedPlan = SubscribeContinuation['retained'][number];

/**
 * Takes from the shards' pages, in order, the retained messages the session has `room` for (QoS 1/2 copies
 * use it; QoS 0 copies go out at once and need none). Returns them as deliveries; what is left stays in the
 * connection's replay as per-shard cursors, and in its row (one write).
 */
export function takeRetained(
  connection: Connection,
  plans: readonly RetainedPlan[],
  results: ReadonlyMap<string, SubscribeOutcome>,
  room: { window: number; count: number; bytes: number },
  now: number,
  out: Effects,
): Delivery[] {
  const pending = connection.replay?.pending ?? new Map<string, ReplayPlan>();
  const deliveries: Delivery[] = [];
  let tookQueued = false;
  let changed = false;
  for (const plan of plans) {
    const outcome = results.get(plan.filter);
    if (!outcome) continue;
    const started = pending.get(plan.filter)?.cursors ?? [];
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
      if (pending.delete(plan.filter)) changed = true;
      continue;
    }
    const { filter, qos, subscriptionIdentifier } = plan;
    pending.set(filter, { filter, qos, ...(subscriptionIdentifier === undefined ? {} : { subscriptionIdentifier }), cursors });
    changed = true;
  }
  if (changed) saveReplay(connection, pending, out);
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
  if (!record || ownerOf(state) !== connection) return endReplay(connection, out);
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

/**
 * The first input after a wake: a replay restored from its row reads its next round now if the session has
 * room. A round in flight when the object went away died with its answer, and no acknowledgement may be
 * left to ask again; without room, the next PUBACK, PUBCOMP or emptied queue asks, as always.
 */
export function resumeReplay(state: State, connection: Connection, room: { window: number }, out: Effects): void {
  const replay = connection.replay;
  if (!replay?.restored) return;
  replay.restored = false;
  continueReplay(state, connection, room, out);
}

/** These filters were subscribed again or unsubscribed: their replays end (a SUBSCRIBE starts a new one). */
export function endReplays(connection: Connection | undefined, filters: Iterable<string>, out: Effects): void {
  const replay = connection?.replay;
  if (!connection || !replay) return;
  let ended = false;
  for (const filter of filters) {
    // The round in flight may carry the filter: its answer is ignored; the other cursors are still pending.
    if (replay.pending.delete(filter)) {
      replay.reading = undefined;
      ended = true;
    }
  }
  if (ended) saveReplay(connection, replay.pending, out);
}

/** The whole replay ends (read to the end, failed, or its connection ended): its row goes with it. */
export function endReplay(connection: Connection, out: Effects): void {
  if (!connection.replay) return;
  connection.replay = undefined;
  out.persist({ op: 'saveReplay', connectionId: connection.id, replay: null });
}

/**
 * The pending plans changed: the row follows, without the round in flight (a wake reads that one again).
 * A replay exists only with its row: it starts here, and ends here once nothing is pending.
 */
function saveReplay(connection: Connection, pending: Map<string, ReplayPlan>, out: Effects): void {
  if (pending.size === 0) return endReplay(connection, out);
  connection.replay ??= { pending, reading: undefined, restored: false };
  out.persist({ op: 'saveReplay', connectionId: connection.id, replay: [...pending.values()] });
}
