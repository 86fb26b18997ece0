// RuleDO: all of one tenant's rules (at most MAX_RULES), held and run in one object. The rules themselves are
// rules/rule-runner.ts; this adapter keeps them in SQLite (rules/rule-store.ts), answers the API's RPC, and
// multiplexes its one alarm: a rule's retry when one is due, and a watchdog every WATCHDOG_MS while any rule
// is enabled, which reopens session links after an eviction or a restart (nothing else would wake the object)
// and writes counters that changed.
import { newCounters, type RuleCounters } from '../core/rules/counters.js';
import type { RuleMessage } from '../core/rules/delivery.js';
import { MAX_RULES, headerNames, resolveHeaders, ruleClientId, type HeaderInput, type QueueDestination, type Rule, type WebhookDestination } from '../core/rules/rule.js';
import { sessionName, sessionStub } from './addresses.js';
import { CountedObject } from './counted-object.js';
import type { Env } from './env.js';
import { endSession } from './links/link.js';
import { internalToken, openSessionLink } from './links/session-link.js';
import { destinationOf } from './rules/destination.js';
import { PlannedAlarm } from './planned-alarm.js';
import { RuleRunner, type RunnerStatus } from './rules/rule-runner.js';
import { RULES_SCHEMA, RuleStore, type StoredRule } from './rules/rule-store.js';
import { newSecret } from './secrets.js';

/** How long a deleted rule waits for its session's CONNACK when it ends that session. */
const SESSION_END_TIMEOUT_MS = 10_000;
/** How often the watchdog looks at the rules' links while any rule is enabled. */
const WATCHDOG_MS = 30_000;

/** A rule as the API answers it: settings (never the secret), counters, and how it runs now. */
export interface RuleView {
  name: string;
  filter: string;
  enabled: boolean;
  /** A webhook's headers by name only (their values are write-only, as the secret is). */
  destination: (Omit<WebhookDestination, 'headers'> & { headers?: Array<{ name: string }>; secretSet: boolean }) | QueueDestination;
  batch: Rule['batch'];
  retry: Rule['retry'];
  createdAt: number;
  updatedAt: number;
  counters: RuleCounters;
  status: RunnerStatus;
  /** The rule's session: messages it queues for the rule, and those sent but not acknowledged yet. */
  session: { queued: number; inflight: number } | null;
}

export type RuleChange = { ok: true; rule: RuleView; secret?: string } | { ok: false; status: 400 | 404 | 409; error: string };

export interface RuleTestResult {
  ok: boolean;
  error?: string;
  status?: number;
  durationMs: number;
}

interface Loaded {
  stored: Map<string, StoredRule>;
  runners: Map<string, RuleRunner>;
}

export class RuleDO extends CountedObject {
  private readonly store: RuleStore;
  private loaded: Loaded | undefined;
  /** Counters as last written, per rule: only changes are written. */
  private readonly savedCounters = new Map<string, string>();
  private readonly planned: PlannedAlarm;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, RULES_SCHEMA);
    this.store = new RuleStore(this.sql);
    this.planned = new PlannedAlarm(ctx.storage);
  }

  async list(tenant: string): Promise<RuleView[]> {
    this.invocations.rpc++;
    const { stored } = this.load(tenant);
    return Promise.all([...stored.values()].map((entry) => this.view(entry)));
  }

  async get(tenant: string, name: string): Promise<RuleView | undefined> {
    this.invocations.rpc++;
    const entry = this.load(tenant).stored.get(name);
    return entry ? this.view(entry) : undefined;
  }

  /** A new rule; a webhook without a secret gets a generated one, answered this once. */
  async create(tenant: string, asked: Rule, secret: string | undefined, headers?: HeaderInput[]): Promise<RuleChange> {
    this.invocations.rpc++;
    const loaded = this.load(tenant);
    if (loaded.stored.has(asked.name)) return { ok: false, status: 409, error: `rule "${asked.name}" already exists` };
    if (loaded.stored.size >= MAX_RULES) return { ok: false, status: 409, error: `a tenant may have at most ${MAX_RULES} rules` };
    const rule = withHeaders(asked, headers, undefined);
    if ('problem' in rule) return { ok: false, status: 400, error: rule.problem };
    const generated = rule.destination.type === 'webhook' && secret === undefined ? `whsec_${newSecret()}` : undefined;
    const now = Date.now();
    const entry: StoredRule = { rule, secret: secret ?? generated, createdAt: now, updatedAt: now, freshSession: true, counters: newCounters(), retry: undefined };
    this.store.put(entry);
    this.store.saveCounters(rule.name, entry.counters);
    this.savedCounters.set(rule.name, JSON.stringify(entry.counters));
    loaded.stored.set(rule.name, entry);
    const runner = this.runnerFor(tenant, entry);
    loaded.runners.set(rule.name, runner);
    runner.ensureRunning();
    this.replan();
    return { ok: true, rule: await this.view(entry), ...(generated ? { secret: generated } : {}) };
  }

  /**
   * Replaces a rule's settings; `secret` undefined keeps the stored one (a webhook that had none gets one,
   * answered once). A changed filter starts the rule's session afresh: what it queued matched the old filter.
   */
  async replace(tenant: string, asked: Rule, secret: string | undefined, headers?: HeaderInput[]): Promise<RuleChange> {
    this.invocations.rpc++;
    const loaded = this.load(tenant);
    const entry = loaded.stored.get(asked.name);
    if (!entry) return { ok: false, status: 404, error: `no rule "${asked.name}"` };
    const rule = withHeaders(asked, headers, entry.rule.destination.type === 'webhook' ? entry.rule.destination.headers : undefined);
    if ('problem' in rule) return { ok: false, status: 400, error: rule.problem };
    const generated = rule.destination.type === 'webhook' && secret === undefined && entry.secret === undefined ? `whsec_${newSecret()}` : undefined;
    const filterChanged = entry.rule.filter !== rule.filter;
    entry.rule = rule;
    entry.secret = rule.destination.type === 'webhook' ? (secret ?? entry.secret ?? generated) : undefined;
    entry.updatedAt = Date.now();
    entry.freshSession ||= filterChanged;
    this.store.put(entry);
    loaded.runners.get(rule.name)!.reconfigure(rule, entry.secret, filterChanged);
    this.replan();
    return { ok: true, rule: await this.view(entry), ...(generated ? { secret: generated } : {}) };
  }

  /** Deletes a rule and ends its session (its queued messages go with it). */
  async remove(tenant: string, name: string): Promise<boolean> {
    this.invocations.rpc++;
    const loaded = this.load(tenant);
    const runner = loaded.runners.get(name);
    if (!runner) return false;
    runner.stop('rule deleted');
    loaded.runners.delete(name);
    loaded.stored.delete(name);
    this.savedCounters.delete(name);
    this.store.delete(name);
    this.replan();
    await this.endSession(tenant, name).catch((error: unknown) => console.warn('rule session not ended', { tenant, rule: name, error: String(error) }));
    return true;
  }

  /** Sends one sample message to the rule's destination (outside the rule's own batches and counters). */
  async test(tenant: string, name: string): Promise<RuleTestResult | undefined> {
    this.invocations.rpc++;
    const entry = this.load(tenant).stored.get(name);
    if (!entry) return undefined;
    const destination = destinationOf(this.env, tenant, entry.rule, entry.secret);
    const started = Date.now();
    if (!destination) return { ok: false, error: 'the Queue binding of this rule does not exist in this Worker', durationMs: 0 };
    const sample: RuleMessage = {
      topic: sampleTopic(entry.rule.filter),
      payload: new TextEncoder().encode(JSON.stringify({ test: true, rule: name, at: started })),
      qos: 1,
      retain: false,
      receivedAt: started,
      redelivered: false,
      contentType: 'application/json',
    };
    const result = await destination.deliver({ deliveryId: `test-${crypto.randomUUID()}`, attempt: 1, messages: [sample] });
    return {
      ok: result.failure === undefined,
      ...(result.failure ? { error: result.failure.message } : {}),
      ...(result.failure?.status === undefined ? {} : { status: result.failure.status }),
      durationMs: Date.now() - started,
    };
  }

  override async alarm(): Promise<void> {
    this.invocations.alarm++;
    this.planned.fired();
    const tenant = this.ownTenant;
    if (tenant === undefined) return;
    const { runners } = this.load(tenant);
    const now = Date.now();
    for (const runner of runners.values()) {
      runner.ensureRunning();
      runner.tick(now);
    }
    this.saveChangedCounters();
    this.replan();
  }

  /** The rules, read once per start; every enabled one starts its link. */
  private load(tenant: string): Loaded {
    if (this.loaded) return this.loaded;
    const loaded: Loaded = { stored: new Map(), runners: new Map() };
    for (const entry of this.store.all()) {
      loaded.stored.set(entry.rule.name, entry);
      loaded.runners.set(entry.rule.name, this.runnerFor(tenant, entry));
      this.savedCounters.set(entry.rule.name, JSON.stringify(entry.counters));
    }
    this.loaded = loaded;
    for (const runner of loaded.runners.values()) runner.ensureRunning();
    this.replan();
    return loaded;
  }

  private runnerFor(tenant: string, entry: StoredRule): RuleRunner {
    return new RuleRunner(entry.rule, entry.secret, entry.freshSession, entry.counters, entry.retry, {
      env: this.env,
      tenant,
      replan: () => this.replan(),
      saveRetry: (name, retry) => {
        const counters = this.loaded?.runners.get(name)?.counters ?? entry.counters;
        this.store.saveRetry(name, retry, counters);
        this.savedCounters.set(name, JSON.stringify(counters));
      },
      sessionStarted: (name) => {
        const current = this.loaded?.stored.get(name);
        if (current) current.freshSession = false;
        this.store.sessionStarted(name);
      },
    });
  }

  private async view(entry: StoredRule): Promise<RuleView> {
    const { rule } = entry;
    const runner = this.loaded!.runners.get(rule.name)!;
    const described = await sessionStub(this.env, sessionName(this.ownTenant!, ruleClientId(rule.name)))
      .describe()
      .catch(() => undefined);
    this.invocations.callsMade++;
    return {
      ...rule,
      destination: rule.destination.type === 'webhook' ? viewedWebhook(rule.destination, entry.secret !== undefined) : rule.destination,
      createdAt: entry.createdAt,
      updatedAt: entry.updatedAt,
      counters: runner.counters,
      status: runner.status(),
      session: described ? { queued: described.queued, inflight: described.inflight } : null,
    };
  }

  /** One alarm for everything: the earliest retry due, else the watchdog while any rule is enabled. */
  private replan(): void {
    const runners = [...(this.loaded?.runners.values() ?? [])];
    let next = runners.some((runner) => runner.enabled) ? Date.now() + WATCHDOG_MS : null;
    for (const runner of runners) {
      const due = runner.nextAttemptAt;
      if (due !== undefined && runner.enabled) next = Math.min(next ?? due, due);
    }
    this.planned.plan(next);
  }

  private saveChangedCounters(): void {
    for (const [name, runner] of this.loaded?.runners ?? []) {
      const json = JSON.stringify(runner.counters);
      if (this.savedCounters.get(name) === json) continue;
      this.store.saveCounters(name, runner.counters);
      this.savedCounters.set(name, json);
    }
  }

  /** Ends the rule's session as MQTT does (a clean start with no expiry, then DISCONNECT). */
  private endSession(tenant: string, name: string): Promise<void> {
    const clientId = ruleClientId(name);
    return endSession(() => openSessionLink(this.env, tenant, clientId, internalToken(`rule:${name}`)), { clientId, protocolVersion: 5 }, 'rule deleted', SESSION_END_TIMEOUT_MS);
  }
}

/** A topic the filter matches, for a test message: each wildcard level becomes "test". */
function sampleTopic(filter: string): string {
  return filter
    .split('/')
    .map((level) => (level === '+' || level === '#' ? 'test' : level))
    .join('/');
}

/** The rule with its webhook headers resolved against those stored (names alone keep their values). */
function withHeaders(rule: Rule, asked: HeaderInput[] | undefined, stored: Record<string, string> | undefined): Rule | { problem: string } {
  if (rule.destination.type !== 'webhook') return rule;
  const resolved = resolveHeaders(asked, stored);
  if ('problem' in resolved) return { problem: `body.destination.${resolved.problem}` };
  const { headers: _asked, ...destination } = rule.destination;
  return { ...rule, destination: { ...destination, ...(resolved.headers ? { headers: resolved.headers } : {}) } };
}

/** A webhook as the API answers it: header names without their values, and whether a secret is set. */
function viewedWebhook(destination: WebhookDestination, secretSet: boolean): RuleView['destination'] {
  const { headers, ...rest } = destination;
  const names = headerNames(headers);
  return { ...rest, ...(names ? { headers: names } : {}), secretSet };
}
