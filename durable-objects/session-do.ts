// SessionDO: one MQTT session (tenant, client id), a thin adapter over the state machine in core/session:
// platform entry points → one input at a time → step() → apply its effects. No protocol decision lives here.
import { PacketFramer, assertNever, decodePacket, type Packet } from '../core/codec/index.js';
import { MqttError, isOverloaded } from '../core/errors.js';
import { ReasonCode, type ReasonCodeValue } from '../core/reason-codes.js';
import type { Delivery } from '../core/routing/message.js';
import type { DeliverResult } from '../core/routing/subscription.js';
import type { Effect, Reply } from '../core/session/effects.js';
import { describeSession, step, type ConnectionLoss, type Input } from '../core/session/machine.js';
import { discardOffline, type DiscardOutcome } from '../core/session/discard.js';
import { openingRecord, ownerOf, wakeState, type ConnectionRecord, type SessionConfig, type State } from '../core/session/state.js';
import type { TokenUpdate } from '../core/session/token-change.js';
import type { ConnectionToken } from '../core/tenancy/token.js';
import { tenantStub } from './addresses.js';
import { brokerConfig, sessionConfig } from './config.js';
import { CountedObject } from './counted-object.js';
import type { Env } from './env.js';
import { RelayCloseCode, RelayHeader, connectionLoss, decodeControl, relayMessages } from './relay-protocol.js';
import { OutboundUpkeep } from './outbound-upkeep.js';
import { forgetPresence, reportPresence } from './presence-report.js';
import { QueueDropLog } from './queue-drop-log.js';
import { SessionEventLog } from './session-event-log.js';
import { SessionStore } from './session-store.js';
import { ShardRouter } from './shard-router.js';

/** The socket attachment: the connection's record (ids and scalars only), versioned. */
type Attachment = ConnectionRecord & { v: 2 };

/** Work an input started that need not hold up the next one (routing, alarms), and its reply. */
interface Applied {
  reply: Reply | undefined;
  background: Promise<unknown>[];
  /** True when the input wrote rows. */
  wrote: boolean;
}

export class SessionDO extends CountedObject {
  private readonly store: SessionStore;
  private readonly config: SessionConfig;
  private state: State | undefined;
  /** This object's relay sockets by connection id (rebuilt from attachments on wake). */
  private readonly sockets = new Map<string, WebSocket>();
  private router: ShardRouter | undefined;
  /** Inputs that wait on the shards (SUBSCRIBE) hold up the ones after them: packets stay in order. */
  private serial: Promise<unknown> = Promise.resolve();
  /** The outbound store's timer between steps (mark flush, keep-awake). */
  private readonly upkeep: OutboundUpkeep;
  private readonly drops = new QueueDropLog();
  private readonly events: SessionEventLog;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new SessionStore(this.sql);
    this.upkeep = new OutboundUpkeep(this.store.outbound);
    this.config = sessionConfig(brokerConfig(env));
    this.events = new SessionEventLog(env);
  }

  // ── Platform entry points ────────────────────────────────────────────────────────────────────────

  /** The Worker opens the relay socket here; the CONNECT itself arrives as the first message. */
  override async fetch(request: Request): Promise<Response> {
    this.invocations.fetch++;
    if (request.headers.get('Upgrade') !== 'websocket') return new Response('expected a WebSocket upgrade', { status: 426 });
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.load();
    this.ctx.acceptWebSocket(server);
    const header = (name: string) => request.headers.get(name);
    const serverKeepAlive = header(RelayHeader.serverKeepAlive);
    const record = openingRecord(
      crypto.randomUUID(),
      header(RelayHeader.tenant) ?? '',
      decodeURIComponent(header(RelayHeader.clientId) ?? ''),
      header(RelayHeader.clientIdAssigned) === '1',
      serverKeepAlive ? Number(serverKeepAlive) : undefined,
    );
    server.serializeAttachment({ v: 2, ...record } satisfies Attachment);
    connectionIds.set(server, record.id);
    this.sockets.set(record.id, server);
    this.events.opened(record.id, header(RelayHeader.remoteAddress));
    const token = header(RelayHeader.token);
    this.run({ type: 'opened', connection: record, token: token ? (JSON.parse(decodeURIComponent(token)) as ConnectionToken) : null });
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    this.invocations.webSocketMessage++;
    const connectionId = connectionIdOf(ws);
    try {
      const background = await this.enqueue(() => this.onMessage(connectionId, message));
      // Routing outlives the packet's turn; awaiting it keeps the object awake until acknowledgements left.
      await Promise.allSettled(background);
    } catch (error) {
      // The runtime drops exceptions from this handler silently: log them and end the connection. Our
      // failure, not the client's: no will (core/session/lifecycle.ts WillFate).
      console.error('session failed on a packet', { error: String(error), stack: (error as Error).stack });
      await this.handle({ type: 'internalError', connectionId });
    }
  }

  /** The relay closes with RelayCloseCode.ended when its client went; another code is the platform's doing. */
  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    this.invocations.webSocketClose++;
    await this.closed(ws, connectionLoss(code));
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.invocations.webSocketClose++;
    await this.closed(ws, connectionLoss(undefined));
  }

  /** The one alarm multiplexes the session's timers: a delayed will and the session's expiry. */
  override async alarm(): Promise<void> {
    this.invocations.alarm++;
    await this.handle({ type: 'alarm' });
  }

  // ── RPC ──────────────────────────────────────────────────────────────────────────────────────────

  /** Messages a shard matched to this session, batched; answers which filters it no longer holds. */
  async deliver(deliveries: Delivery[]): Promise<DeliverResult> {
    this.invocations.rpc++;
    const { reply, background, wrote } = this.run({ type: 'deliver', deliveries });
    if (background.length > 0) this.ctx.waitUntil(Promise.allSettled(background));
    // The answer is what lets the publisher's acknowledgement leave: it must follow the commit of the rows
    // just written [DESIGN §3], whether or not the runtime's output gate holds RPC answers.
    if (wrote) await this.ctx.storage.sync();
    return reply as DeliverResult;
  }

  /** The tenant changed or removed a token (null): its connection is closed or gets the new ACL and limits. */
  async tokenChanged(tokenId: string, token: TokenUpdate | null): Promise<void> {
    this.invocations.rpc++;
    await this.handle({ type: 'tokenChanged', tokenId, token });
  }

  /**
   * What the sessions API shows: subscriptions, queue depth, inflight count, whether connected, what it
   * counted, and its protocol version and expiry as stored.
   */
  async describe(): Promise<(NonNullable<ReturnType<typeof describeSession>> & { counters: Record<string, number> }) | undefined> {
    this.invocations.rpc++;
    const described = describeSession(this.load());
    return described && { ...described, counters: this.store.readCounters() };
  }

  /**
   * An administrator ends this session while it is offline (core/session/discard.ts): subscriptions leave
   * their shards and the presence entry goes before this answers. Connected: nothing changes. No session
   * stored: a presence entry left behind without one is taken off the list ('discarded' then too).
   */
  async discardState(tenant: string, clientId: string): Promise<DiscardOutcome> {
    this.invocations.rpc++;
    return this.enqueue(async () => {
      const now = Date.now();
      const { outcome, effects } = discardOffline(this.load(), now, this.config);
      const background: Promise<unknown>[] = [];
      for (const effect of effects) {
        // Awaited here, in this session's turn: a CONNECT that follows reports after the removal.
        if (effect.type === 'presence') background.push(reportPresence(this.env, effect));
        else this.apply(effect, background, []);
      }
      this.upkeep.afterStep(now, false);
      await Promise.allSettled(background);
      if (outcome !== 'none') return outcome;
      return (await forgetPresence(this.env, tenant, clientId)) ? 'discarded' : 'none';
    });
  }

  /** An administrator disconnects this session's client (5.0: DISCONNECT 0x98); the will is published. */
  async kick(): Promise<boolean> {
    this.invocations.rpc++;
    const reply = await this.handle({ type: 'kick' });
    return (reply as { kicked: boolean }).kicked;
  }

  // ── Inputs ───────────────────────────────────────────────────────────────────────────────────────

  private enqueue<T>(task: () => T | Promise<T>): Promise<T> {
    const run = this.serial.then(task);
    this.serial = run.catch(() => undefined);
    return run;
  }

  /** One input in its turn, everything it started awaited. */
  private async handle(input: Input): Promise<Reply | undefined> {
    const { reply, background } = await this.enqueue(() => this.runAndWait(input));
    await Promise.allSettled(background);
    return reply;
  }

  private async closed(ws: WebSocket, cause: ConnectionLoss): Promise<void> {
    const connectionId = connectionIdOf(ws);
    await this.handle({ type: 'socketClosed', connectionId, cause });
    this.sockets.delete(connectionId);
    this.events.closed(connectionId);
  }

  /** Frames → packets → inputs; returns the routing still in flight. */
  private async onMessage(connectionId: string, message: string | ArrayBuffer): Promise<Promise<unknown>[]> {
    if (typeof message === 'string') {
      const keepAliveTimeout = decodeControl(message)?.type === 'keepalive-timeout';
      return keepAliveTimeout ? (await this.runAndWait({ type: 'keepaliveTimeout', connectionId })).background : [];
    }
    const background: Promise<unknown>[] = [];
    let packets: Uint8Array[];
    try {
      // The Worker relays whole packets only; a leftover fragment would be a relay fault.
      const framer = new PacketFramer(this.config.maximumPacketSize);
      packets = framer.push(new Uint8Array(message));
      if (framer.buffered > 0) throw new MqttError(ReasonCode.MalformedPacket, 'partial packet from relay');
    } catch (error) {
      return (await this.runAndWait(fault(connectionId, error))).background;
    }
    for (const bytes of packets) {
      const connection = this.load().connections.get(connectionId);
      if (!connection || connection.phase === 'closed') break;
      let input: Input;
      try {
        input = { type: 'packet', connectionId, packet: decodePacket(bytes, connection.protocolVersion, { maximumPacketSize: this.config.maximumPacketSize }) };
      } catch (error) {
        input = fault(connectionId, error);
      }
      if (input.type === 'packet' && input.packet.type === 'publish') this.invocations.messagesIn++;
      // Most packets apply at once; only a SUBSCRIBE waits (for its shards) before the next packet.
      const blocking: Promise<Applied>[] = [];
      background.push(...this.run(input, blocking).background);
      for (const answered of blocking) background.push(...(await answered).background);
    }
    return background;
  }

  /** Runs an input and awaits the effects that answer with another input (the shards' SUBSCRIBE answers). */
  private async runAndWait(input: Input): Promise<Applied> {
    const blocking: Promise<Applied>[] = [];
    const applied = this.run(input, blocking);
    for (const answered of blocking) applied.background.push(...(await answered).background);
    return applied;
  }

  /** step() and the effects that apply at once; effects answered later push their promise to `blocking`. */
  private run(input: Input, blocking: Promise<Applied>[] = []): Applied {
    const now = Date.now();
    const state = this.load();
    const { effects, reply } = step(state, input, now, this.config);
    const background: Promise<unknown>[] = [];
    const rowsBefore = this.invocations.rowsWritten;
    for (const effect of effects) this.apply(effect, background, blocking);
    this.upkeep.afterStep(now, ownerOf(state) !== undefined);
    // Memory-only messages write nothing: only rows written make a delivery wait for the commit.
    return { reply, background, wrote: this.invocations.rowsWritten > rowsBefore };
  }

  private apply(effect: Effect, background: Promise<unknown>[], blocking: Promise<Applied>[]): void {
    switch (effect.type) {
      case 'persist':
        this.store.apply(effect.ops);
        return this.drops.note(effect.ops, () => {
          const { record, queue } = this.load().session;
          return { tenant: record?.tenant, clientId: record?.clientId, queued: queue.length };
        });
      case 'send':
        return this.send(effect.connectionId, effect.packets);
      case 'close':
        try {
          this.sockets.get(effect.connectionId)?.close(RelayCloseCode.ended, 'session ended');
        } catch {
          // the socket is already gone
        }
        return;
      case 'saveConnection':
        this.sockets.get(effect.connection.id)?.serializeAttachment({ v: 2, ...effect.connection } satisfies Attachment);
        return;
      case 'setAlarm':
        background.push(effect.at === null ? this.ctx.storage.deleteAlarm() : this.ctx.storage.setAlarm(effect.at));
        return;
      case 'route': {
        const { ack, message } = effect;
        // A QoS 2 message leaves only once its id and key are committed: routed first and then lost in a
        // crash, the client's resend would be a new message, and delivered twice.
        const router = this.routesFor(effect.tenant);
        const routed = message.exactlyOnceKey === undefined ? router.publish(message) : this.ctx.storage.sync().then(() => router.publish(message));
        const failed = (error: unknown) => console.error('routing failed', { topic: message.topic, acknowledged: false, error: String(error) });
        if (!ack) {
          // QoS 0: a full outbox sheds it, counted (the session's counters, GET /sessions?details=1).
          const dropped = () => this.store.apply([{ op: 'count', counter: 'publish_dropped', n: 1 }]);
          background.push(routed.catch((error: unknown) => (isOverloaded(error) ? dropped() : failed(error))));
          return;
        }
        // The outcome is the next input: the acknowledgement waiting for it may leave, or the connection ends.
        const outcome = (ok: boolean, overloaded = false) => settle(this.run({ type: 'routed', ack, ok, overloaded }));
        background.push(routed.then(() => outcome(true), (error: unknown) => (failed(error), outcome(false, isOverloaded(error)))));
        return;
      }
      case 'subscribeShards': {
        const { connectionId, then } = effect;
        const answered = this.routesFor(effect.tenant)
          .subscribe(effect.session, effect.subscriptions)
          .catch((error: unknown) => {
            console.error('subscribe failed', { error: String(error) });
            return undefined;
          });
        blocking.push(answered.then((results) => this.runAndWait({ type: 'subscribed', connectionId, then, results })));
        return;
      }
      case 'unsubscribeShards':
        background.push(this.routesFor(effect.tenant).unsubscribe(effect.session, effect.filters).catch((e: unknown) => console.error('unsubscribe failed', String(e))));
        return;
      case 'readQueue': {
        const messages = this.store.readQueued(effect.limit, effect.afterSeq);
        background.push(...this.run({ type: 'queueRead', messages }, blocking).background);
        return;
      }
      case 'presence':
        this.ctx.waitUntil(reportPresence(this.env, effect));
        return;
      case 'log': {
        const sent = this.events.write(effect.tenant, effect.event, this.load().session.record?.connectionId);
        if (sent) this.ctx.waitUntil(sent);
        return;
      }
      case 'wantSys':
        this.ctx.waitUntil(tenantStub(this.env, effect.tenant).wantSys(effect.tenant).catch((e: unknown) => console.error('wantSys failed', String(e))));
        return;
      default:
        return assertNever(effect);
    }
  }

  /** The packets of one step to one connection, in as few relay messages as RELAY_MESSAGE_BYTES allows. */
  private send(connectionId: string, packets: Packet[]): void {
    const socket = this.sockets.get(connectionId);
    const version = this.load().connections.get(connectionId)?.protocolVersion ?? 4;
    if (!socket) return;
    for (const packet of packets) if (packet.type === 'publish') this.invocations.messagesOut++;
    try {
      for (const message of relayMessages(packets, version)) socket.send(message);
    } catch (error) {
      console.warn('send to relay failed', String(error));
    }
  }

  /**
   * The state on wake: the session from SQLite, the connections from the sockets' attachments, and their
   * retained replays from SQLite.
   */
  private load(): State {
    if (!this.state) {
      const connections: ConnectionRecord[] = [];
      for (const socket of this.ctx.getWebSockets()) {
        const attachment = attachmentOf(socket);
        if (!attachment) continue;
        const { v: _version, ...record } = attachment;
        connections.push(record);
        this.sockets.set(record.id, socket);
      }
      const replays = this.store.loadReplays(new Set(connections.map((record) => record.id)));
      this.state = wakeState(this.store.load(), connections, replays);
    }
    return this.state;
  }

  private routesFor(tenant: string): ShardRouter {
    this.router ??= new ShardRouter(this.env, tenant, brokerConfig(this.env).shardCount);
    return this.router;
  }
}

function attachmentOf(ws: WebSocket): Attachment | undefined {
  const attachment = ws.deserializeAttachment() as Attachment | null;
  return attachment?.v === 2 ? attachment : undefined;
}

/**
 * Each socket's connection id, read from its attachment once per socket object: deserializing the attachment
 * on every message was 6 % of workerd's CPU in a QoS 0 fan-in (bench/profile.mjs). A wake gives new socket
 * objects, so the map never holds a stale one.
 */
const connectionIds = new WeakMap<WebSocket, string>();

function connectionIdOf(ws: WebSocket): string {
  let id = connectionIds.get(ws);
  if (id === undefined) {
    id = attachmentOf(ws)?.id ?? '';
    connectionIds.set(ws, id);
  }
  return id;
}

function fault(connectionId: string, error: unknown): Input {
  const reasonCode: ReasonCodeValue = error instanceof MqttError ? error.reasonCode : ReasonCode.UnspecifiedError;
  console.warn('closing connection', { reasonCode, error: String(error) });
  return { type: 'fault', connectionId, reasonCode };
}

/** Resolves when the background work of an input has settled. */
function settle(applied: Applied): Promise<unknown> {
  return Promise.allSettled(applied.background);
}
