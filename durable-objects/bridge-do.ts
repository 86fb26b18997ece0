// BridgeDO: all bridges of one tenant (a tenant has few; each is one connection out and one into its own
// session), held in SQLite and run from memory. Every entry point (an API call, the alarm) first makes sure
// each enabled bridge is connected or has a retry scheduled; the one alarm is the earliest retry, and at
// least every WATCHDOG_MS a watchdog that reconnects whatever an eviction or a restart took down and saves
// the counters that moved. The password is written here and read only to connect: no method returns it.
import { bridgeConfig, type BridgeConfig, type BridgeInput } from '../core/bridge/config.js';
import type { BridgeStatus } from '../core/bridge/status.js';
import { endSessions } from './bridges/bridge-connection.js';
import { BridgeRunner, type RunnerHost } from './bridges/bridge-runner.js';
import { BRIDGE_SCHEMA, BridgeStore, type StoredBridge, type Subscribed } from './bridges/bridge-store.js';
import { CountedObject } from './counted-object.js';
import { PlannedAlarm } from './planned-alarm.js';
import type { Env } from './env.js';

/** Bridges one tenant may have: each holds two connections in this one object. */
export const MAX_BRIDGES = 10;
const DEFAULT_WATCHDOG_SECONDS = 30;

/** A bridge as the API shows it: its configuration without the password, and its status. */
export type BridgeView = BridgeConfig & { passwordSet: boolean; createdAt: number; updatedAt: number; status: BridgeStatus };

export type BridgeChange = { ok: true; bridge: BridgeView } | { ok: false; status: 403 | 404 | 409; error: string };

export class BridgeDO extends CountedObject {
  private readonly store: BridgeStore;
  private readonly runners = new Map<string, BridgeRunner>();
  /** The tenant whose bridges these are: from this object's own name (counted-object.ts). */
  private readonly owner: string | undefined;
  private readonly planned: PlannedAlarm;

  /** What the runners call back: their status to save, the alarm to move. */
  private readonly host: RunnerHost;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, BRIDGE_SCHEMA);
    this.store = new BridgeStore(this.sql);
    this.planned = new PlannedAlarm(ctx.storage);
    this.owner = this.ownTenant;
    this.host = {
      env,
      tenant: this.owner ?? '',
      changed: (runner) => this.changed(runner),
      subscribed: (runner, subscribed) => this.subscribed(runner, subscribed),
    };
    if (this.owner !== undefined) for (const stored of this.store.all()) this.runners.set(stored.config.name, new BridgeRunner(this.host, stored));
  }

  async list(tenant: string): Promise<BridgeView[]> {
    this.invocations.rpc++;
    this.wake();
    return [...this.runners.values()].map(view);
  }

  async get(tenant: string, name: string): Promise<BridgeView | undefined> {
    this.invocations.rpc++;
    this.wake();
    const runner = this.runners.get(name);
    return runner ? view(runner) : undefined;
  }

  async create(tenant: string, input: BridgeInput): Promise<BridgeChange> {
    this.invocations.rpc++;
    this.wake();
    if (this.runners.has(input.name)) return { ok: false, status: 409, error: `bridge "${input.name}" already exists` };
    if (this.runners.size >= MAX_BRIDGES) return { ok: false, status: 403, error: `a tenant may have at most ${MAX_BRIDGES} bridges` };
    const now = Date.now();
    const stored: StoredBridge = {
      config: bridgeConfig(tenant, input),
      password: input.password || undefined,
      createdAt: now,
      updatedAt: now,
      status: undefined,
      subscribed: { local: [], remote: [] },
    };
    return { ok: true, bridge: this.install(stored) };
  }

  /** Replaces the configuration (the password is kept when `input` has none); the bridge reconnects at once. */
  async update(tenant: string, name: string, input: BridgeInput): Promise<BridgeChange> {
    this.invocations.rpc++;
    this.wake();
    const current = this.runners.get(name);
    if (!current) return { ok: false, status: 404, error: `no bridge "${name}" in this tenant` };
    current.stop('configuration changed');
    const stored: StoredBridge = {
      ...current.stored,
      config: bridgeConfig(tenant, { ...input, name }),
      password: input.password === undefined ? current.stored.password : input.password || undefined,
      updatedAt: Date.now(),
      status: current.status(),
    };
    return { ok: true, bridge: this.install(stored) };
  }

  /** Deletes the bridge and ends its sessions (ours; the remote's when it can be reached). */
  async remove(tenant: string, name: string): Promise<boolean> {
    this.invocations.rpc++;
    this.wake();
    const runner = this.runners.get(name);
    if (!runner) return false;
    runner.stop('bridge deleted');
    this.runners.delete(name);
    this.store.delete(name);
    this.scheduleAlarm();
    await endSessions(this.env, tenant, runner.config, runner.stored.password);
    return true;
  }

  override async alarm(): Promise<void> {
    this.invocations.alarm++;
    this.planned.fired();
    if (this.owner === undefined) return;
    for (const runner of this.runners.values()) {
      if (runner.countersMoved()) this.store.saveStatus(runner.config.name, runner.status());
    }
    this.wake();
  }

  private changed(runner: BridgeRunner): void {
    if (this.runners.get(runner.config.name) !== runner) return;
    runner.countersMoved();
    this.store.saveStatus(runner.config.name, runner.status());
    this.scheduleAlarm();
  }

  private subscribed(runner: BridgeRunner, subscribed: Subscribed): void {
    if (this.runners.get(runner.config.name) === runner) this.store.saveSubscribed(runner.config.name, subscribed);
  }

  private install(stored: StoredBridge): BridgeView {
    this.store.save(stored);
    const runner = new BridgeRunner(this.host, stored);
    this.runners.set(stored.config.name, runner);
    runner.tick(Date.now());
    this.scheduleAlarm();
    return view(runner);
  }

  /** Connects what is due, and keeps the alarm set. */
  private wake(): void {
    const now = Date.now();
    for (const runner of this.runners.values()) runner.tick(now);
    this.scheduleAlarm();
  }

  /** The alarm: the earliest retry, and the watchdog while any bridge is enabled; none without bridges. */
  private scheduleAlarm(): void {
    const enabled = [...this.runners.values()].filter((runner) => runner.config.enabled);
    let next: number | null = null;
    if (enabled.length > 0) {
      next = Date.now() + watchdogMs(this.env);
      for (const runner of enabled) if (runner.wakeAt !== null) next = Math.min(next, runner.wakeAt);
    }
    this.planned.plan(next);
  }
}

function watchdogMs(env: Env): number {
  const seconds = Number(env.BRIDGE_WATCHDOG_SECONDS ?? DEFAULT_WATCHDOG_SECONDS);
  return (Number.isFinite(seconds) && seconds > 0 ? seconds : DEFAULT_WATCHDOG_SECONDS) * 1000;
}

function view(runner: BridgeRunner): BridgeView {
  const { stored } = runner;
  return { ...stored.config, passwordSet: stored.password !== undefined, createdAt: stored.createdAt, updatedAt: stored.updatedAt, status: runner.status() };
}
