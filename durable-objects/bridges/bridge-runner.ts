// Keeps one bridge connected: connects when due, and after a loss waits (exponential back-off with jitter)
// before trying again. It holds the bridge's status and counters in memory; its host saves them and turns
// `nextAttemptAt` into the object's alarm, so a retry survives the object's eviction.
//
//   disabled ◀── config ──▶ connecting ──ok──▶ connected
//                              │  ▲                │ lost
//                       failed │  │ due            ▼
//                              └─▶ backoff / error ◀┘   (error: the remote refused; retried at the longest back-off)
import { backoffDelay, BACKOFF_MAX_MS } from '../../core/bridge/backoff.js';
import type { BridgeConfig } from '../../core/bridge/config.js';
import { newCounters, type BridgeCounters, type BridgeState, type BridgeStatus } from '../../core/bridge/status.js';
import type { Env } from '../env.js';
import { BridgeConnection, errorText, isRefusal } from './bridge-connection.js';
import type { StoredBridge, Subscribed } from './bridge-store.js';

/** A connection that lasted this long counts as good: the next loss starts the back-off from 1 s again. */
const STABLE_MS = 10_000;

export interface RunnerHost {
  env: Env;
  tenant: string;
  /** The state changed (connected, lost, …): save the status and move the alarm. */
  changed(runner: BridgeRunner): void;
  /** The filters the sessions hold changed: save them. */
  subscribed(runner: BridgeRunner, subscribed: Subscribed): void;
}

export class BridgeRunner {
  private state: BridgeState;
  private connection: BridgeConnection | undefined;
  private attempt = 0;
  private nextAttemptAt: number | null = null;
  private connectedSince: number | null = null;
  private reconnects: number;
  private lastError: string | null;
  private lastErrorAt: number | null;
  private everConnected = false;
  private stopped = false;
  readonly counters: BridgeCounters;
  /** Counters as last saved, to save only when they moved. */
  private savedCounters = '';

  constructor(
    private readonly host: RunnerHost,
    readonly stored: StoredBridge,
  ) {
    const saved = stored.status;
    this.counters = { ...newCounters(), ...saved?.counters };
    this.reconnects = saved?.reconnects ?? 0;
    this.lastError = saved?.lastError ?? null;
    this.lastErrorAt = saved?.lastErrorAt ?? null;
    this.state = stored.config.enabled ? 'connecting' : 'disabled';
    this.savedCounters = JSON.stringify(this.counters);
    // Connected when last saved: the object restarted under it, so its next connection is a reconnect.
    this.everConnected = (saved?.connectedSince ?? null) !== null || this.reconnects > 0;
  }

  get config(): BridgeConfig {
    return this.stored.config;
  }

  /** Connects if the bridge is enabled, not connected and its retry is due. Called by the alarm and on changes. */
  tick(now: number): void {
    if (this.stopped || !this.config.enabled || this.connection) return;
    if (this.nextAttemptAt !== null && now < this.nextAttemptAt) return;
    void this.connect();
  }

  /** When this bridge wants the alarm (a retry due), or null. */
  get wakeAt(): number | null {
    return this.connection || !this.config.enabled ? null : this.nextAttemptAt;
  }

  status(): BridgeStatus {
    return {
      state: this.state,
      connectedSince: this.connectedSince,
      reconnects: this.reconnects,
      lastError: this.lastError,
      lastErrorAt: this.lastErrorAt,
      nextAttemptAt: this.state === 'backoff' || this.state === 'error' ? this.nextAttemptAt : null,
      counters: { ...this.counters },
    };
  }

  /** True once when the counters moved since the last call (the host then saves the status). */
  countersMoved(): boolean {
    const now = JSON.stringify(this.counters);
    if (now === this.savedCounters) return false;
    this.savedCounters = now;
    return true;
  }

  /** Ends the connection for good (the bridge is deleted or replaced by a new configuration). */
  stop(reason: string): void {
    this.stopped = true;
    this.connection?.end(reason);
    this.connection = undefined;
  }

  private async connect(): Promise<void> {
    const connection = new BridgeConnection(this.host.env, this.host.tenant, this.config, this.stored.password, this.stored.subscribed, {
      counters: this.counters,
      refused: (message) => this.noteError(message),
      subscribed: (subscribed) => {
        this.stored.subscribed = subscribed;
        this.host.subscribed(this, subscribed);
      },
    });
    this.connection = connection;
    this.state = 'connecting';
    this.nextAttemptAt = null;
    try {
      // A failure while opening rejects this (a refusal tells itself apart); one after it ends the connection.
      await connection.open();
    } catch (error) {
      return this.lost(connection, errorText(error), isRefusal(error));
    }
    if (this.connection !== connection) return;
    connection.whenEnded((reason) => this.lost(connection, reason, false));
    this.state = 'connected';
    this.connectedSince = Date.now();
    if (this.everConnected) this.reconnects++;
    this.everConnected = true;
    this.host.changed(this);
  }

  private lost(connection: BridgeConnection, reason: string, refused: boolean): void {
    if (this.connection !== connection) return;
    this.connection = undefined;
    const now = Date.now();
    if (this.connectedSince !== null && now - this.connectedSince >= STABLE_MS) this.attempt = 0;
    // A bridge that had connected before counts its next success as a reconnect even across object restarts.
    if (this.connectedSince !== null) this.everConnected = true;
    this.connectedSince = null;
    this.noteError(reason, now);
    if (this.stopped) return;
    this.state = refused ? 'error' : 'backoff';
    this.nextAttemptAt = now + (refused ? BACKOFF_MAX_MS : backoffDelay(this.attempt++, Math.random()));
    this.host.changed(this);
  }

  private noteError(message: string, now = Date.now()): void {
    this.lastError = message.slice(0, 300);
    this.lastErrorAt = now;
  }
}
