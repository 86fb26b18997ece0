// One connection of a bridge: an MqttClient to the remote broker and one into the tenant's own session
// `$bridge/<name>`, opened in that order and ended together. What makes a forward lossless is whose
// acknowledgement waits for whom:
//
//   out: session ──PUBLISH──▶ local client ──publish──▶ remote ──PUBACK──▶ (handler resolves) ──PUBACK──▶ session
//   in:  remote  ──PUBLISH──▶ remote client ──publish──▶ session (stored at every subscriber) ──PUBACK──▶ … ──PUBACK──▶ remote
//
// Whichever side drops, the other is closed too, with its unacknowledged messages: the session (persistent,
// long expiry) and the remote's session (Clean Start 0) keep them and deliver them again at the reconnect.
// So nothing acknowledged is lost; a message may cross twice (QoS 1 is at least once).
import { MqttClient, RefusedError } from '../../core/client/mqtt-client.js';
import type { PublishPacket } from '../../core/codec/index.js';
import { localClientId, type BridgeConfig } from '../../core/bridge/config.js';
import { planForward } from '../../core/bridge/forward.js';
import { EchoGuard } from '../../core/bridge/loop-guard.js';
import type { BridgeCounters } from '../../core/bridge/status.js';
import { filtersOn, subscriptionsOn, type Side } from '../../core/bridge/topic-map.js';
import type { Env } from '../env.js';
import { endSession, platformTimers, withTimeout } from '../links/link.js';
import { openRemoteLink } from '../links/remote-link.js';
import { internalToken, openSessionLink } from '../links/session-link.js';
import type { Subscribed } from './bridge-store.js';

/** Reaching the remote (TCP/TLS/WebSocket) and its CONNACK, each. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** Session expiry asked on both sides: a bridge away this long loses its queued messages. */
export const SESSION_EXPIRY_SECONDS = 7 * 24 * 3600;
/** QoS 1 messages either server may have unacknowledged towards the bridge (5.0 Receive Maximum). */
export const RECEIVE_MAXIMUM = 100;

export interface ConnectionHooks {
  counters: BridgeCounters;
  /** A message the other side refused for good (counted as failed; not retried). */
  refused(message: string): void;
  /** The filters both sessions hold now (saved, so that a later configuration can remove stale ones). */
  subscribed(subscribed: Subscribed): void;
}

/**
 * Whether opening failed because a server refused the CONNECT or a SUBSCRIBE (credentials, client id, ACL):
 * a configuration problem, not an outage.
 */
export function isRefusal(error: unknown): boolean {
  return error instanceof RefusedError;
}

export class BridgeConnection {
  private remote: MqttClient | undefined;
  private local: MqttClient | undefined;
  private endedWith: string | undefined;
  private readonly endListeners: Array<(reason: string) => void> = [];
  /** Messages from the remote wait for the local side to be up (a persistent remote session may start at once). */
  private readonly localReady: Promise<MqttClient>;
  private markLocalReady!: (client: MqttClient) => void;
  private failLocalReady!: (error: Error) => void;
  private readonly echoes = new EchoGuard();

  constructor(
    private readonly env: Env,
    private readonly tenant: string,
    private readonly config: BridgeConfig,
    private readonly password: string | undefined,
    private readonly previous: Subscribed,
    private readonly hooks: ConnectionHooks,
  ) {
    this.localReady = new Promise((resolve, reject) => {
      this.markLocalReady = resolve;
      this.failLocalReady = reject;
    });
    this.localReady.catch(() => undefined);
  }

  /** Opens both sides and subscribes; resolves once messages flow. On failure everything is closed. */
  async open(): Promise<void> {
    try {
      await this.openRemote();
      await this.openLocal();
      await this.subscribe();
    } catch (error) {
      this.end(errorText(error));
      throw error;
    }
    if (this.endedWith !== undefined) throw new Error(this.endedWith);
  }

  whenEnded(listener: (reason: string) => void): void {
    if (this.endedWith !== undefined) listener(this.endedWith);
    else this.endListeners.push(listener);
  }

  /** Ends both sides (a normal DISCONNECT each: both sessions stay, with what is unacknowledged). */
  end(reason: string): void {
    if (this.endedWith !== undefined) return;
    this.endedWith = reason;
    this.failLocalReady(new Error(reason));
    this.local?.disconnect(reason);
    this.remote?.disconnect(reason);
    for (const listener of this.endListeners.splice(0)) listener(reason);
  }

  private async openRemote(): Promise<void> {
    const { url, protocolVersion, clientId, username, keepAlive, cleanStart } = this.config;
    const link = await openRemoteLink(url, CONNECT_TIMEOUT_MS);
    const client = new MqttClient(
      link,
      {
        clientId,
        protocolVersion,
        cleanStart,
        keepAlive,
        ...(username === undefined ? {} : { username }),
        ...(this.password ? { password: new TextEncoder().encode(this.password) } : {}),
        sessionExpiry: cleanStart ? 0 : SESSION_EXPIRY_SECONDS,
        receiveMaximum: RECEIVE_MAXIMUM,
      },
      (packet) => this.forward('remote', packet),
      platformTimers,
    );
    this.remote = client;
    link.attach(client);
    client.whenClosed((reason) => this.end(`remote: ${reason}`));
    if (this.endedWith !== undefined) throw new Error(this.endedWith);
    await withTimeout(client.connect(), CONNECT_TIMEOUT_MS, 'CONNACK from the remote');
  }

  private async openLocal(): Promise<void> {
    const clientId = localClientId(this.config.name);
    const link = await openSessionLink(this.env, this.tenant, clientId, internalToken(`bridge:${this.config.name}`));
    const client = new MqttClient(
      link,
      {
        clientId,
        protocolVersion: 5,
        cleanStart: this.config.cleanStart,
        keepAlive: 0,
        sessionExpiry: this.config.cleanStart ? 0 : SESSION_EXPIRY_SECONDS,
        receiveMaximum: RECEIVE_MAXIMUM,
      },
      (packet) => this.forward('local', packet),
      platformTimers,
    );
    this.local = client;
    link.attach(client);
    client.whenClosed((reason) => this.end(`local session: ${reason}`));
    if (this.endedWith !== undefined) throw new Error(this.endedWith);
    await withTimeout(client.connect(), CONNECT_TIMEOUT_MS, 'CONNACK from the local session');
    this.markLocalReady(client);
  }

  /** Drops the filters an earlier configuration left, then (re)subscribes to the current ones on both sides. */
  private async subscribe(): Promise<void> {
    const { topics, protocolVersion } = this.config;
    const sides: Array<[Side, MqttClient, boolean]> = [
      ['local', this.local!, true],
      ['remote', this.remote!, protocolVersion === 5],
    ];
    for (const [side, client, v5] of sides) {
      const wanted = filtersOn(topics, side).map((f) => f.filter);
      const stale = this.previous[side].filter((filter) => !wanted.includes(filter));
      if (stale.length > 0) await client.unsubscribe(stale);
      const subscriptions = subscriptionsOn(topics, side, v5);
      if (subscriptions.length > 0) await client.subscribe(subscriptions);
    }
    this.hooks.subscribed({ local: filtersOn(topics, 'local').map((f) => f.filter), remote: filtersOn(topics, 'remote').map((f) => f.filter) });
  }

  /**
   * Hands one message to the other side; resolving lets its PUBACK leave. A refusal by the other side is for
   * good (counted, acknowledged); anything else (the other side is gone) rejects, which closes this side
   * unacknowledged so the message comes again.
   */
  private async forward(from: Side, packet: PublishPacket): Promise<void> {
    const plan = planForward(this.config, from, packet, this.echoes, Date.now());
    if (plan.action === 'drop') {
      if (plan.reason === 'loop') this.hooks.counters.dropped++;
      return;
    }
    const target = from === 'local' ? this.remote : await this.localReady;
    if (!target?.isConnected) throw new Error(`${from === 'local' ? 'remote' : 'local session'} not connected`);
    try {
      await target.publish(plan.message);
    } catch (error) {
      if (!(error instanceof RefusedError)) throw error;
      this.hooks.counters.failed++;
      this.hooks.refused(`${from === 'local' ? 'remote' : 'local session'} refused "${plan.message.topic}": ${error.message}`);
      return;
    }
    if (from === 'local') this.hooks.counters.messagesOut++;
    else this.hooks.counters.messagesIn++;
  }
}

/**
 * Ends the bridge's sessions on both sides (the bridge is deleted): a Clean Start CONNECT with expiry 0,
 * then DISCONNECT. Best effort, each within CONNECT_TIMEOUT_MS: a remote that cannot be reached keeps its
 * session until its own expiry.
 */
export async function endSessions(env: Env, tenant: string, config: BridgeConfig, password: string | undefined): Promise<void> {
  const localId = localClientId(config.name);
  const bestEffort = (ended: Promise<void>) => ended.catch(() => undefined);
  await Promise.all([
    bestEffort(endSession(() => openSessionLink(env, tenant, localId, internalToken(`bridge:${config.name}`)), { clientId: localId, protocolVersion: 5 }, 'bridge deleted', CONNECT_TIMEOUT_MS)),
    bestEffort(
      endSession(
        () => openRemoteLink(config.url, CONNECT_TIMEOUT_MS),
        {
          clientId: config.clientId,
          protocolVersion: config.protocolVersion,
          ...(config.username === undefined ? {} : { username: config.username }),
          ...(password ? { password: new TextEncoder().encode(password) } : {}),
        },
        'bridge deleted',
        CONNECT_TIMEOUT_MS,
      ),
    ),
  ]);
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
