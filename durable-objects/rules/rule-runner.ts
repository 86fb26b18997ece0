// One running rule: a client of its own tenant (session `$rule/<name>`, QoS 1, persistent) that turns what
// its session pushes into batches for its destination. The session is the rule's queue: it stores every
// matching message before the publisher's PUBACK and holds what the rule has not acknowledged, so the rule
// keeps only one batch and what the session's Receive Maximum lets arrive meanwhile (core/rules/batch.ts).
//
//   session ─PUBLISH→ handler: waits in the assembler ─full or maxWaitMs→ batch in flight ─2xx→ PUBACKs
//                                                                          └failure→ retry at T (the alarm)
//                                                                                    or dead-letter → PUBACKs
//
// At least once: a message is acknowledged only once the destination took it (or it was dead-lettered); a
// lost link or an evicted object loses nothing the session does not send again. In order: one batch at a
// time, and a new link waits for an attempt still running on the old one.
import { MqttClient, RefusedError } from '../../core/client/mqtt-client.js';
import type { PublishPacket } from '../../core/codec/index.js';
import { BatchAssembler, roomForQos0 } from '../../core/rules/batch.js';
import { countDeadLettered, countDelivered, noteError, type RuleCounters } from '../../core/rules/counters.js';
import type { RuleMessage } from '../../core/rules/delivery.js';
import { afterFailure, type Failure } from '../../core/rules/retry.js';
import { ruleClientId, type Rule } from '../../core/rules/rule.js';
import type { Env } from '../env.js';
import { platformTimers } from '../links/link.js';
import { internalToken, openSessionLink } from '../links/session-link.js';
import { destinationOf, type RuleDestination } from './destination.js';
import type { RetryState } from './rule-store.js';

/** A rule's session outlives a week without its rule connected (a disabled rule) and then expires. */
const SESSION_EXPIRY_SECONDS = 7 * 24 * 60 * 60;
/** Waits between attempts to open the session link: 1 s doubling to 30 s (the alarm's watchdog is the backstop). */
const RELINK_FIRST_MS = 1000;
const RELINK_MAX_MS = 30_000;
/** Largest packet the rule accepts from its session (the broker's own default maximum). */
const MAXIMUM_PACKET = 1024 * 1024;

/** What the runner asks of the object that runs it. */
export interface RunnerHost {
  env: Env;
  tenant: string;
  /** A retry time or the link changed: plan the alarm again. */
  replan(): void;
  /** Keep (or forget) the batch being retried, with the counters. */
  saveRetry(name: string, retry: RetryState | undefined): void;
  /** The clean session asked for was started and subscribed. */
  sessionStarted(name: string): void;
}

type Held = RuleMessage & { bytes: number; settle: () => void };

interface Batch {
  deliveryId: string;
  messages: Held[];
  attempts: number;
  firstAttemptAt: number | undefined;
  /** Set while waiting for a retry. */
  nextAttemptAt: number | undefined;
}

export type LinkState = 'disabled' | 'connecting' | 'connected' | 'waiting';

export interface RunnerStatus {
  link: LinkState;
  /** Messages held in memory now (waiting and in flight), and the most held at once since the object started. */
  held: number;
  maxHeld: number;
  inFlight: number;
  retry: { attempts: number; firstAttemptAt: number | null; nextAttemptAt: number } | null;
}

export class RuleRunner {
  private client: MqttClient | undefined;
  /** Each link gets a generation: what arrives for an older one is ignored. */
  private generation = 0;
  private link: LinkState = 'disabled';
  private assembler: BatchAssembler<Held>;
  private batch: Batch | undefined;
  /** The attempt running now: a new batch waits for it, whichever link it belongs to. */
  private sending: Promise<void> | undefined;
  private waitTimer: ReturnType<typeof setTimeout> | undefined;
  private relinkTimer: ReturnType<typeof setTimeout> | undefined;
  private relinkDelay = RELINK_FIRST_MS;
  private destination: RuleDestination | undefined;
  private maxHeld = 0;

  constructor(
    private rule: Rule,
    private secret: string | undefined,
    private freshSession: boolean,
    readonly counters: RuleCounters,
    /** A batch that was being retried when the object last stopped. */
    private restored: RetryState | undefined,
    private readonly host: RunnerHost,
  ) {
    this.assembler = new BatchAssembler(rule.batch);
    this.destination = destinationOf(host.env, host.tenant, rule, secret);
  }

  get name(): string {
    return this.rule.name;
  }

  get enabled(): boolean {
    return this.rule.enabled;
  }

  /** When this rule next needs the alarm (a retry), if at all. */
  get nextAttemptAt(): number | undefined {
    return this.batch?.nextAttemptAt ?? this.restored?.nextAttemptAt;
  }

  status(): RunnerStatus {
    const retrying = this.batch?.nextAttemptAt !== undefined ? this.batch : undefined;
    const retry = retrying
      ? { attempts: retrying.attempts, firstAttemptAt: retrying.firstAttemptAt ?? null, nextAttemptAt: retrying.nextAttemptAt! }
      : this.restored
        ? { attempts: this.restored.attempts, firstAttemptAt: this.restored.firstAttemptAt, nextAttemptAt: this.restored.nextAttemptAt }
        : null;
    return { link: this.link, held: this.held(), maxHeld: this.maxHeld, inFlight: this.batch?.messages.length ?? 0, retry };
  }

  /** Opens the session link if the rule is enabled and has none (the watchdog calls this too). */
  ensureRunning(): void {
    if (!this.rule.enabled || this.link === 'connecting' || this.link === 'connected') return;
    clearTimeout(this.relinkTimer);
    void this.connect();
  }

  /** Runs a retry that is due. */
  tick(now: number): void {
    const batch = this.batch;
    if (batch?.nextAttemptAt !== undefined && batch.nextAttemptAt <= now && !this.sending) this.attempt(batch);
  }

  /** New settings: a changed filter starts a clean session (the old one's queue matched the old filter). */
  reconfigure(rule: Rule, secret: string | undefined, freshSession: boolean): void {
    this.rule = rule;
    this.secret = secret;
    this.destination = destinationOf(this.host.env, this.host.tenant, rule, secret);
    this.freshSession = this.freshSession || freshSession;
    // The link restarts: the session sends what is unacknowledged again, batched by the new limits.
    this.closeLink('rule changed');
    this.assembler = new BatchAssembler(rule.batch);
    if (rule.enabled) this.ensureRunning();
  }

  /** Ends the link (the rule is disabled or deleted); the session keeps queueing until it ends. */
  stop(reason: string): void {
    this.rule = { ...this.rule, enabled: false };
    this.closeLink(reason);
  }

  private closeLink(reason: string): void {
    clearTimeout(this.relinkTimer);
    clearTimeout(this.waitTimer);
    this.waitTimer = undefined;
    this.generation++;
    const client = this.client;
    this.client = undefined;
    this.dropHeld();
    this.link = 'disabled';
    client?.disconnect(reason);
  }

  private async connect(): Promise<void> {
    const generation = ++this.generation;
    this.link = 'connecting';
    const clean = this.freshSession;
    let client: MqttClient | undefined;
    try {
      const link = await openSessionLink(this.host.env, this.host.tenant, ruleClientId(this.rule.name), internalToken(`rule:${this.rule.name}`));
      if (generation !== this.generation) return link.close('superseded');
      client = new MqttClient(
        link,
        {
          clientId: ruleClientId(this.rule.name),
          protocolVersion: 5,
          cleanStart: clean,
          keepAlive: 0,
          sessionExpiry: SESSION_EXPIRY_SECONDS,
          // What the session may push before we acknowledge: one batch, so the rule holds no more.
          receiveMaximum: this.rule.batch.maxMessages,
          maximumPacketSize: MAXIMUM_PACKET,
        },
        (packet) => this.receive(generation, packet),
        platformTimers,
      );
      link.attach(client);
      const current = client;
      client.whenClosed((reason) => this.linkEnded(generation, current, reason));
      this.client = client;
      const connack = await client.connect();
      if (clean || !connack.sessionPresent) {
        // Live messages only (retain handling 2): a rule forwards what is published, not the retained store.
        await client.subscribe([{ topicFilter: this.rule.filter, qos: 1, retainAsPublished: true, retainHandling: 2 }]);
        if (clean) {
          this.freshSession = false;
          this.host.sessionStarted(this.rule.name);
        }
      }
      if (generation !== this.generation) return;
      this.link = 'connected';
      this.relinkDelay = RELINK_FIRST_MS;
      this.host.replan();
    } catch (error) {
      if (generation !== this.generation) return;
      const message = error instanceof RefusedError ? `session refused the rule: ${error.message}` : `session link failed: ${String((error as Error)?.message ?? error)}`;
      noteError(this.counters, { at: Date.now(), message }, false);
      client?.disconnect('setup failed');
      this.scheduleRelink();
    }
  }

  private linkEnded(generation: number, client: MqttClient, reason: string): void {
    if (generation !== this.generation || this.client !== client) return;
    this.client = undefined;
    this.dropHeld();
    noteError(this.counters, { at: Date.now(), message: `session link closed: ${reason}` }, false);
    this.scheduleRelink();
  }

  private scheduleRelink(): void {
    if (!this.rule.enabled) {
      this.link = 'disabled';
      return;
    }
    this.link = 'waiting';
    clearTimeout(this.relinkTimer);
    this.relinkTimer = setTimeout(() => this.ensureRunning(), this.relinkDelay);
    this.relinkDelay = Math.min(this.relinkDelay * 2, RELINK_MAX_MS);
  }

  /**
   * The link is gone: the session sends everything unacknowledged again on the next one. A batch being retried
   * keeps its attempt count (restored below when it forms again); one whose attempt is running is left to it.
   */
  private dropHeld(): void {
    const batch = this.batch;
    if (batch && batch.attempts > 0 && batch.firstAttemptAt !== undefined) {
      this.restored = {
        deliveryId: batch.deliveryId,
        size: batch.messages.length,
        attempts: batch.attempts,
        firstAttemptAt: batch.firstAttemptAt,
        nextAttemptAt: batch.nextAttemptAt ?? Date.now(),
      };
    }
    this.batch = undefined;
    this.assembler.clear();
    clearTimeout(this.waitTimer);
    this.waitTimer = undefined;
  }

  private held(): number {
    return this.assembler.size + (this.batch?.messages.length ?? 0);
  }

  /** A message from the session: resolved (and so PUBACKed) once its batch was taken or dead-lettered. */
  private receive(generation: number, packet: PublishPacket): Promise<void> {
    if (generation !== this.generation) return new Promise(() => undefined);
    if (packet.qos === 0 && !roomForQos0(this.held(), this.rule.batch)) {
      this.counters.droppedMessages++;
      return Promise.resolve();
    }
    return new Promise<void>((settle) => {
      const now = Date.now();
      this.assembler.add(
        {
          topic: packet.topic,
          payload: packet.payload,
          qos: packet.qos,
          retain: packet.retain,
          receivedAt: now,
          redelivered: packet.dup,
          ...(packet.properties?.userProperties ? { userProperties: packet.properties.userProperties } : {}),
          ...(packet.properties?.contentType !== undefined ? { contentType: packet.properties.contentType } : {}),
          bytes: packet.topic.length + packet.payload.length,
          settle,
        },
        now,
      );
      this.maxHeld = Math.max(this.maxHeld, this.held());
      this.pump();
    });
  }

  /** Starts the next batch when there is none in flight and one is due; else waits for it to be. */
  private pump(): void {
    if (this.batch || this.sending || !this.client) return;
    const now = Date.now();
    const restored = this.restored;
    const due = this.assembler.dueAt(now, restored?.size);
    if (due === undefined) return;
    if (due > now) {
      this.waitTimer ??= setTimeout(() => {
        this.waitTimer = undefined;
        this.pump();
      }, due - now);
      return;
    }
    clearTimeout(this.waitTimer);
    this.waitTimer = undefined;
    const messages = this.assembler.take(restored?.size);
    this.restored = undefined;
    // The same batch as before the restart keeps its delivery id; a different one gets a new id.
    const same = restored !== undefined && restored.size === messages.length;
    const batch: Batch = {
      deliveryId: same ? restored.deliveryId : crypto.randomUUID(),
      messages,
      attempts: restored?.attempts ?? 0,
      firstAttemptAt: restored?.firstAttemptAt,
      nextAttemptAt: restored?.nextAttemptAt,
    };
    this.batch = batch;
    if (batch.nextAttemptAt !== undefined && batch.nextAttemptAt > now) return this.host.replan();
    this.attempt(batch);
  }

  private attempt(batch: Batch): void {
    const destination = this.destination;
    batch.attempts++;
    batch.firstAttemptAt ??= Date.now();
    batch.nextAttemptAt = undefined;
    const attempt = batch.attempts;
    const delivered = destination
      ? destination.deliver({ deliveryId: batch.deliveryId, attempt, messages: batch.messages })
      : Promise.resolve({ accepted: 0, failure: { message: `no Queue binding "${this.rule.destination.type === 'queue' ? this.rule.destination.binding : ''}" in this Worker` } });
    this.sending = delivered
      .catch((error: unknown) => ({ accepted: 0, failure: { message: `delivery failed: ${String((error as Error)?.message ?? error)}` } }))
      .then((result) => this.attempted(batch, attempt, result.accepted, result.failure))
      .finally(() => {
        this.sending = undefined;
        this.pump();
      });
  }

  private attempted(batch: Batch, attempt: number, accepted: number, failure: Failure | undefined): void {
    const now = Date.now();
    const taken = batch.messages.splice(0, accepted);
    for (const message of taken) message.settle();
    if (!failure) {
      countDelivered(this.counters, taken.length, 1, now);
      return this.finish(batch);
    }
    if (taken.length > 0) countDelivered(this.counters, taken.length, 0, now);
    noteError(this.counters, { at: now, message: failure.message, ...(failure.status === undefined ? {} : { status: failure.status }), attempt }, true);
    const decision = afterFailure(attempt, batch.firstAttemptAt ?? now, failure, this.rule.retry, now, Math.random());
    if (decision.action === 'dead-letter') {
      countDeadLettered(this.counters, batch.messages.length, now);
      noteError(this.counters, { at: now, message: `dead-lettered ${batch.messages.length} message(s): ${decision.reason}; last error: ${failure.message}`, ...(failure.status === undefined ? {} : { status: failure.status }), attempt }, false);
      for (const message of batch.messages) message.settle();
      batch.messages.length = 0;
      return this.finish(batch);
    }
    batch.nextAttemptAt = decision.at;
    if (this.batch === batch) {
      this.host.saveRetry(this.rule.name, { deliveryId: batch.deliveryId, size: batch.messages.length, attempts: batch.attempts, firstAttemptAt: batch.firstAttemptAt!, nextAttemptAt: decision.at });
    } else if (this.restored?.deliveryId === batch.deliveryId) {
      // The link ended during the attempt: the batch forms again from what the session resends.
      this.restored = { ...this.restored, size: batch.messages.length, attempts: batch.attempts, nextAttemptAt: decision.at };
      this.host.saveRetry(this.rule.name, this.restored);
    }
    this.host.replan();
  }

  private finish(batch: Batch): void {
    const wasRetried = batch.attempts > 1;
    if (this.batch === batch) this.batch = undefined;
    if (this.restored?.deliveryId === batch.deliveryId) this.restored = undefined;
    if (wasRetried) this.host.saveRetry(this.rule.name, undefined);
  }
}
