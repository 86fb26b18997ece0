// What a rule may be created or replaced with through the API: one schema validates it and documents it;
// ruleFromInput fills in the defaults (core/rules/rule.ts).
import { DEFAULT_BATCH, DEFAULT_RETRY, DEFAULT_WEBHOOK_TIMEOUT_MS, RULE_BOUNDS, RULE_NAME, filterProblem, headerProblem, webhookUrlProblem, type Destination, type HeaderInput, type Rule } from '../../core/rules/rule.js';
import { validate, type Schema } from './schema.js';
import { wellFormed } from './token-input.js';

const bounded = (key: keyof typeof RULE_BOUNDS, description: string): Schema => ({ type: 'integer', minimum: RULE_BOUNDS[key][0], maximum: RULE_BOUNDS[key][1], description });

/** Shortest secret a caller may choose: an HMAC key shorter than this is guessable. */
const MIN_SECRET = 16;

const destinationSchema: Schema = {
  type: 'object',
  required: ['type'],
  description: 'Where the messages go: { type: "webhook", url, format?, secret?, headers?, timeoutMs? } or { type: "queue", binding }.',
  properties: {
    type: { type: 'string', enum: ['webhook', 'queue'] },
    url: { type: 'string', maxLength: 2048, description: 'webhook: https://…, or http:// to localhost / 127.0.0.1', check: (url: string) => webhookUrlProblem(url) },
    format: { type: 'string', enum: ['json', 'raw'], description: 'webhook: json (default; one POST per batch, base64 payloads) or raw (one POST per message, the payload as body)' },
    secret: {
      type: 'string',
      minLength: MIN_SECRET,
      maxLength: 256,
      check: wellFormed,
      description: 'webhook: the HMAC-SHA256 key of X-Edge-Mqtt-Signature; generated when absent at creation (answered once), kept when absent on replace; never answered afterwards',
    },
    headers: {
      type: 'array',
      maxItems: 20,
      description: 'webhook: extra request headers. Values are write-only: answers carry the names only, and a header given by name alone keeps its stored value',
      items: {
        type: 'object',
        required: ['name'],
        properties: { name: { type: 'string', minLength: 1, maxLength: 64 }, value: { type: 'string', maxLength: 4096 } },
        check: (header: HeaderInput) => headerProblem(header.name, header.value ?? ''),
      },
    },
    timeoutMs: bounded('timeoutMs', `webhook: milliseconds one POST may take, default ${DEFAULT_WEBHOOK_TIMEOUT_MS}`),
    binding: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]{0,63}$', description: 'queue: the name of a [[queues.producers]] binding of this Worker' },
  },
  check: (destination: { type: string; url?: string; binding?: string; format?: string; secret?: string; headers?: unknown; timeoutMs?: number }) => {
    if (destination.type === 'webhook') {
      if (destination.url === undefined) return '.url is required for a webhook';
      if (destination.binding !== undefined) return '.binding is for queue destinations only';
      return undefined;
    }
    if (destination.binding === undefined) return '.binding is required for a queue';
    const extra = (['url', 'format', 'secret', 'headers', 'timeoutMs'] as const).find((key) => destination[key] !== undefined);
    return extra ? `.${extra} is for webhook destinations only` : undefined;
  },
};

const batchSchema: Schema = {
  type: 'object',
  description: 'When a batch goes: full (maxMessages, maxBytes) or its first message waited maxWaitMs.',
  properties: {
    maxMessages: bounded('maxMessages', `messages per batch, default ${DEFAULT_BATCH.maxMessages} (the session's MAX_INFLIGHT caps it)`),
    maxBytes: bounded('maxBytes', `topic and payload bytes per batch, default ${DEFAULT_BATCH.maxBytes}`),
    maxWaitMs: bounded('maxWaitMs', `how long a batch waits to fill, default ${DEFAULT_BATCH.maxWaitMs}`),
  },
};

const retrySchema: Schema = {
  type: 'object',
  description: 'Retries of a batch the destination did not take; past maxAttempts or maxAgeMs it is dead-lettered.',
  properties: {
    maxAttempts: bounded('maxAttempts', `default ${DEFAULT_RETRY.maxAttempts}`),
    maxAgeMs: bounded('maxAgeMs', `default ${DEFAULT_RETRY.maxAgeMs} (1 hour)`),
    initialDelayMs: bounded('initialDelayMs', `first back-off, doubled per attempt with jitter, default ${DEFAULT_RETRY.initialDelayMs}`),
    maxDelayMs: bounded('maxDelayMs', `longest back-off, default ${DEFAULT_RETRY.maxDelayMs} (5 min)`),
  },
};

export const ruleInputSchema: Schema = {
  type: 'object',
  required: ['filter', 'destination'],
  properties: {
    name: { type: 'string', pattern: RULE_NAME.source, description: '1-64 characters of a-z, 0-9, _ and -, starting with a letter or digit (on create; on replace it must match the path or be absent)' },
    filter: { type: 'string', minLength: 1, maxLength: 1024, description: 'MQTT topic filter (not shared, not starting with $)', check: (filter: string) => filterProblem(filter) },
    enabled: { type: 'boolean', description: 'default true; a disabled rule keeps its session, which queues matching messages (bounded by MAX_QUEUED)' },
    destination: destinationSchema,
    batch: batchSchema,
    retry: retrySchema,
  },
};

export interface RuleInput {
  name?: string;
  filter: string;
  enabled?: boolean;
  destination: {
    type: 'webhook' | 'queue';
    url?: string;
    format?: 'json' | 'raw';
    secret?: string;
    headers?: HeaderInput[];
    timeoutMs?: number;
    binding?: string;
  };
  batch?: Partial<Rule['batch']>;
  retry?: Partial<Rule['retry']>;
}

/** The problem with a body, or undefined. */
export function ruleInputProblem(body: unknown): string | undefined {
  const problem = validate(ruleInputSchema, body);
  if (problem) return problem;
  const { retry } = body as RuleInput;
  if (retry?.initialDelayMs !== undefined && retry.maxDelayMs !== undefined && retry.initialDelayMs > retry.maxDelayMs) return 'body.retry.initialDelayMs must not exceed maxDelayMs';
  return undefined;
}

/**
 * The rule a valid body describes, defaults filled in. The secret and the headers are apart: the object that
 * keeps the rule resolves them against what it stores (both are write-only).
 */
export function ruleFromInput(name: string, input: RuleInput): Rule {
  const { destination: d } = input;
  const destination: Destination =
    d.type === 'webhook'
      ? {
          type: 'webhook',
          url: d.url!,
          format: d.format ?? 'json',
          timeoutMs: d.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS,
        }
      : { type: 'queue', binding: d.binding! };
  const retry = { ...DEFAULT_RETRY, ...input.retry };
  // A policy whose only bound was the default maximum delay keeps the caller's first delay.
  if (retry.initialDelayMs > retry.maxDelayMs) retry.maxDelayMs = retry.initialDelayMs;
  return { name, filter: input.filter, enabled: input.enabled ?? true, destination, batch: { ...DEFAULT_BATCH, ...input.batch }, retry };
}
