// Per-session order across delivery paths: a shard reaches a session directly or through a relay, and a
// session's copies must reach it in the order the shard planned them, whichever path each takes.
//
// Every path is FIFO per session (one outbox per destination, one call in flight) and completes copies in
// the order they were handed to it. So a session only needs care where its path changes:
//
//   m1 for s on 'direct'       nothing outstanding for s      → handed over at once
//   m2 for s on 'relay 2'      m1 outstanding on 'direct'     → waits until m1 is accepted, then goes
//   m3 for s on 'relay 2'      m2 still waiting               → waits for m2's hand-over, then goes after it
//   m4 for s on 'relay 2'      m2, m3 handed over             → at once: the same path keeps their order
//   (m2 … m4 accepted)         nothing outstanding            → s's lane is forgotten
//
// A path change costs that one session a round trip; a stable plan (fanout-relay.ts) makes it rare.
// Waiting copies are bounded per session: past `maximumWaiting`, enter() refuses and the caller treats the
// copy as overflow (drop QoS 0, refuse QoS 1/2).

/** enter()'s answer: when to hand the copy to its path, and how to report that it was. */
export interface LaneTicket {
  /** Absent: hand the copy over now. Present: hand it over as soon as this resolves (it never rejects). */
  after?: Promise<void>;
  /**
   * Call exactly once, right after handing the copy over (or dropping it), with the promise of its
   * acceptance by the session; a rejection counts as done too.
   */
  handed(completion: Promise<unknown>): void;
}

interface Lane {
  path: string;
  /** Copies entered and not yet accepted (or failed). */
  outstanding: number;
  /** Copies entered with `after` and not yet handed over. */
  waiting: number;
  /** Resolves when the last entered copy is done, so every earlier one is too. */
  done: Promise<void>;
  /** Resolves when the last entered copy has been handed over. */
  handedOver: Promise<void>;
}

export class DeliveryLanes {
  /** Sessions with copies outstanding; a session with none has no lane. */
  private readonly lanes = new Map<string, Lane>();

  constructor(private readonly maximumWaiting = Infinity) {}

  /**
   * Places the next copy for `session` on `path`. Undefined when it would have to wait and `maximumWaiting`
   * copies of this session wait already: nothing was entered.
   */
  enter(session: string, path: string): LaneTicket | undefined {
    const previous = this.lanes.get(session);
    let after: Promise<void> | undefined;
    if (previous && previous.path !== path) after = previous.done;
    else if (previous && previous.waiting > 0) after = previous.handedOver;
    if (after && previous!.waiting >= this.maximumWaiting) return undefined;

    let lane = previous;
    if (!lane) {
      lane = { path, outstanding: 0, waiting: 0, done: Promise.resolve(), handedOver: Promise.resolve() };
      this.lanes.set(session, lane);
    }
    lane.path = path;
    lane.outstanding++;
    let markHanded: (() => void) | undefined;
    if (after) {
      lane.waiting++;
      lane.handedOver = new Promise<void>((resolve) => (markHanded = resolve));
    }
    let markDone!: () => void;
    lane.done = new Promise<void>((resolve) => (markDone = resolve));
    const current = lane;
    let reported = false;
    return {
      ...(after ? { after } : {}),
      handed: (completion) => {
        if (reported) return;
        reported = true;
        if (markHanded) {
          current.waiting--;
          markHanded();
        }
        const finish = () => {
          markDone();
          if (--current.outstanding === 0 && this.lanes.get(session) === current) this.lanes.delete(session);
        };
        completion.then(finish, finish);
      },
    };
  }

  /**
   * enter() for a single copy: `handOver` runs now or when its turn comes, and its promise is the answer.
   * Undefined when the lane refused (see enter).
   */
  run(session: string, path: string, handOver: () => Promise<void>): Promise<void> | undefined {
    const ticket = this.enter(session, path);
    if (!ticket) return undefined;
    const go = (): Promise<void> => {
      let completion: Promise<void>;
      try {
        completion = handOver();
      } catch (error) {
        completion = Promise.reject(error);
      }
      ticket.handed(completion);
      return completion;
    };
    return ticket.after ? ticket.after.then(go) : go();
  }

  /** Sessions with copies outstanding (for statistics and tests). */
  get size(): number {
    return this.lanes.size;
  }
}
