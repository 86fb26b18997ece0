// A bridge to another MQTT broker as its tenant configures it (mosquitto's model): where to connect, as whom,
// and which topics cross in which direction under which prefixes. The password is not part of this shape:
// it stays inside the object that runs the bridge and never travels back out (BridgeView.passwordSet).
//
//   { name: "cloud", url: "mqtts://broker.example:8883", topics: [
//       { pattern: "sensors/#", direction: "out", qos: 1, localPrefix: "",     remotePrefix: "site-7/" },
//       { pattern: "cmd/#",     direction: "in",  qos: 1, localPrefix: "from-cloud/", remotePrefix: "site-7/" } ] }
//   local sensors/t1          → remote site-7/sensors/t1
//   remote site-7/cmd/reboot  → local  from-cloud/cmd/reboot
import { BRIDGE_CLIENT_ID_PREFIX } from '../session/connect.js';
import { isValidTopicFilter, parseSharedSubscription } from '../topic/validate.js';

export type BridgeDirection = 'in' | 'out' | 'both';

export interface TopicMapping {
  /** Topic filter below the prefixes (may hold + and #). */
  pattern: string;
  /** out: local → remote; in: remote → local; both. */
  direction: BridgeDirection;
  /** Subscription QoS on the side the messages come from; a message crosses at min(its QoS, this). */
  qos: 0 | 1;
  localPrefix: string;
  remotePrefix: string;
}

export interface BridgeConfig {
  /** Names the bridge in the API and its local session (`$bridge/<name>`). */
  name: string;
  /** mqtt://, mqtts://, ws:// or wss:// */
  url: string;
  protocolVersion: 4 | 5;
  /** Client id at the remote broker. */
  clientId: string;
  username?: string;
  /** Seconds between pings on the remote connection (Cloudflare resets a silent socket after about 100 s). */
  keepAlive: number;
  /** false (the default) keeps the sessions on both sides, so QoS 1 messages wait for a reconnect. */
  cleanStart: boolean;
  topics: TopicMapping[];
  enabled: boolean;
  /** Bridges a message may have crossed and still be bridged again; 1 = only messages published here. */
  maxHops: number;
}

/** What the API accepts: everything but name, url and topics has a default; password is write-only. */
export interface BridgeInput {
  name: string;
  url: string;
  protocolVersion?: 4 | 5;
  clientId?: string;
  username?: string;
  /** Set it; '' removes it; absent on an update keeps the stored one. */
  password?: string;
  keepAlive?: number;
  cleanStart?: boolean;
  topics: Array<Partial<TopicMapping> & { pattern: string; direction: BridgeDirection }>;
  enabled?: boolean;
  maxHops?: number;
}

export const BRIDGE_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
export const MAX_TOPIC_MAPPINGS = 32;
export const DEFAULT_KEEPALIVE = 60;
export const DEFAULT_MAX_HOPS = 1;

/** The input with every default filled in (a remote client id derived from tenant and name). */
export function bridgeConfig(tenant: string, input: BridgeInput): BridgeConfig {
  return {
    name: input.name,
    url: input.url,
    protocolVersion: input.protocolVersion ?? 5,
    clientId: input.clientId ?? defaultRemoteClientId(tenant, input.name),
    ...(input.username === undefined || input.username === '' ? {} : { username: input.username }),
    keepAlive: input.keepAlive ?? DEFAULT_KEEPALIVE,
    cleanStart: input.cleanStart ?? false,
    topics: input.topics.map((topic) => ({
      pattern: topic.pattern,
      direction: topic.direction,
      qos: topic.qos ?? 1,
      localPrefix: topic.localPrefix ?? '',
      remotePrefix: topic.remotePrefix ?? '',
    })),
    enabled: input.enabled ?? true,
    maxHops: input.maxHops ?? DEFAULT_MAX_HOPS,
  };
}

/** Unique per tenant and bridge, so two tenants bridging to one broker do not take over each other's session. */
export function defaultRemoteClientId(tenant: string, name: string): string {
  return `edge-${tenant}-${name}`;
}

/** The client id of the bridge's own session in its tenant. */
export function localClientId(name: string): string {
  return `${BRIDGE_CLIENT_ID_PREFIX}${name}`;
}

const REMOTE_URL = /^(mqtts?|wss?):\/\/([^/?#]*)([/?][^#]*)?$/i;
const HOST_PORT = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/i;

/**
 * What is wrong with a remote URL, or undefined (core has no URL class: the shape is checked here, the
 * platform parses it when connecting). Credentials in the URL are refused: the API would show them.
 */
export function remoteUrlProblem(url: string): string | undefined {
  const parts = REMOTE_URL.exec(url);
  if (!parts) return 'must be a URL starting with mqtt://, mqtts://, ws:// or wss://';
  const authority = parts[2]!;
  if (authority.includes('@')) return 'must not hold credentials: use username and password';
  const host = HOST_PORT.exec(authority);
  if (!host) return 'must name a host (and optionally a port)';
  if (host[2] !== undefined && (Number(host[2]) < 1 || Number(host[2]) > 65_535)) return 'must have a port from 1 to 65535';
  return undefined;
}

/** What is wrong with one topic mapping, or undefined. */
export function topicMappingProblem(mapping: { pattern: string; localPrefix?: string; remotePrefix?: string }): string | undefined {
  const { pattern, localPrefix = '', remotePrefix = '' } = mapping;
  if (!isValidTopicFilter(pattern) || parseSharedSubscription(pattern)) return 'pattern must be a valid MQTT topic filter (not a shared one)';
  for (const [label, prefix] of [['localPrefix', localPrefix], ['remotePrefix', remotePrefix]] as const) {
    if (/[+#\u0000]/.test(prefix)) return `${label} must not hold +, # or NUL`;
    if (!isValidTopicFilter(prefix + pattern) || parseSharedSubscription(prefix + pattern)) return `${label} + pattern must be a valid topic filter`;
  }
  return undefined;
}
