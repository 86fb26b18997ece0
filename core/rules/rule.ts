// What a rule is: a topic filter of one tenant and where its messages go (an HTTPS webhook or a Queue), with
// the bounds of a batch and of its retries. Defaults and limits live here, so the API, the object that runs
// the rules and the README agree; the checks are pure (no URL parser of the platform, no I/O).
import { RULE_CLIENT_ID_PREFIX } from '../session/connect.js';
import { isValidTopicFilter, parseSharedSubscription } from '../topic/validate.js';

/** Rules one tenant may have (all of them run in one object). */
export const MAX_RULES = 20;
/** A rule name: also part of its session's client id (`$rule/<name>`). */
export const RULE_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export type WebhookFormat = 'json' | 'raw';

export interface WebhookDestination {
  type: 'webhook';
  /** https://…, or http:// to localhost / 127.0.0.1 / [::1] (local development and tests). */
  url: string;
  /** json: one POST per batch; raw: one POST per message, the payload as the body. */
  format: WebhookFormat;
  /** Extra request headers (e.g. an Authorization the receiver wants). */
  headers?: Record<string, string>;
  /** Milliseconds one POST may take before it counts as failed. */
  timeoutMs?: number;
}

export interface QueueDestination {
  type: 'queue';
  /** A Queue producer binding of this Worker ([[queues.producers]] binding = "…"). */
  binding: string;
}

export type Destination = WebhookDestination | QueueDestination;

export interface BatchLimits {
  /** Messages in one batch; also the Receive Maximum the rule's session is told (at most MAX_INFLIGHT apply). */
  maxMessages: number;
  /** Payload and topic bytes in one batch (one larger message still goes, alone). */
  maxBytes: number;
  /** How long the first message of a batch waits for others. */
  maxWaitMs: number;
}

export interface RetryPolicy {
  /** Attempts of one batch before it is dead-lettered (the first one included). */
  maxAttempts: number;
  /** Age of a batch's first attempt past which it is dead-lettered at its next failure. */
  maxAgeMs: number;
  /** The first back-off; it doubles per attempt, with jitter, up to maxDelayMs. */
  initialDelayMs: number;
  maxDelayMs: number;
}

/** A rule as stored and run (the webhook secret is kept apart: it is never answered). */
export interface Rule {
  name: string;
  filter: string;
  enabled: boolean;
  destination: Destination;
  batch: BatchLimits;
  retry: RetryPolicy;
}

export const DEFAULT_BATCH: BatchLimits = { maxMessages: 100, maxBytes: 1024 * 1024, maxWaitMs: 1000 };
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 10, maxAgeMs: 60 * 60 * 1000, initialDelayMs: 1000, maxDelayMs: 5 * 60 * 1000 };
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;

/** Bounds of every setting: [minimum, maximum]. */
export const RULE_BOUNDS = {
  maxMessages: [1, 500],
  maxBytes: [1024, 4 * 1024 * 1024],
  maxWaitMs: [0, 60_000],
  maxAttempts: [1, 1000],
  maxAgeMs: [1000, 7 * 24 * 60 * 60 * 1000],
  initialDelayMs: [10, 60 * 60 * 1000],
  maxDelayMs: [10, 24 * 60 * 60 * 1000],
  timeoutMs: [100, 60_000],
} as const;

/** The rule's own session: a client id no device can mistake for its own. */
export function ruleClientId(name: string): string {
  return `${RULE_CLIENT_ID_PREFIX}${name}`;
}

/** What is wrong with a rule's topic filter, or undefined. */
export function filterProblem(filter: string): string | undefined {
  if (!isValidTopicFilter(filter)) return 'must be a valid MQTT topic filter';
  if (parseSharedSubscription(filter)) return 'must be a plain topic filter, not a shared subscription';
  if (filter.startsWith('$')) return 'must not start with $ (rules see the tenant\'s own topics)';
  return undefined;
}

/** Hosts a plain http:// webhook may name: this machine only (local development, tests). */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * What is wrong with a webhook URL, or undefined: https:// anywhere, http:// only to this machine, no
 * credentials in the URL (they would show in the API), no fragment.
 */
export function webhookUrlProblem(url: string): string | undefined {
  const match = /^(https?):\/\/([^/?#]*)([^#]*)$/i.exec(url);
  if (!match) return 'must be an http(s) URL without a fragment';
  const scheme = match[1]!.toLowerCase();
  const authority = match[2]!;
  if (authority.includes('@')) return 'must not carry credentials (use headers)';
  const host = authority.replace(/:\d{1,5}$/, '').toLowerCase();
  if (host === '' || /\s/.test(host)) return 'must name a host';
  if (scheme === 'http' && !LOOPBACK_HOSTS.has(host)) return 'must be https:// (http:// only to localhost or 127.0.0.1)';
  return undefined;
}

/** Header names a rule may not set: the signature's, and those the platform owns. */
export function headerProblem(name: string, value: string): string | undefined {
  if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/.test(name)) return `header name "${name}" is not a valid token`;
  const lower = name.toLowerCase();
  if (lower.startsWith('x-edge-mqtt-') || lower.startsWith('x-mqtt-')) return `header "${name}" is set by the rule itself`;
  if (['host', 'content-length', 'content-type', 'transfer-encoding', 'connection'].includes(lower)) return `header "${name}" cannot be set`;
  if (/[\r\n\0]/.test(value) || value.length > 4096) return `header "${name}" has an invalid value`;
  return undefined;
}

/** A header as the API takes it: with a value it is set; a name alone keeps the value stored under it. */
export interface HeaderInput {
  name: string;
  value?: string;
}

/**
 * The headers a rule gets from `asked`, taking the values of names given alone from `stored`: header values
 * are write-only (an Authorization is a credential), so an edit that keeps one names it without its value.
 */
export function resolveHeaders(asked: readonly HeaderInput[] | undefined, stored: Readonly<Record<string, string>> | undefined): { headers: Record<string, string> | undefined } | { problem: string } {
  if (!asked || asked.length === 0) return { headers: undefined };
  const headers: Record<string, string> = {};
  for (const { name, value } of asked) {
    const kept = value ?? stored?.[name];
    if (kept === undefined) return { problem: `header "${name}" has no value (a name alone keeps a stored value, and none is stored)` };
    headers[name] = kept;
  }
  return { headers };
}

/** Header names only: what the API answers of a rule's headers. */
export function headerNames(headers: Readonly<Record<string, string>> | undefined): Array<{ name: string }> | undefined {
  return headers ? Object.keys(headers).map((name) => ({ name })) : undefined;
}
