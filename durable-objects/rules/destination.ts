// Where a rule's batches go, behind one interface: a webhook (webhook-destination.ts) or a Queue producer
// binding (queue-destination.ts). A destination reports how many messages, from the first, it took: a raw
// webhook or a batch split over several Queue calls can fail halfway, and what was taken is not sent again.
import type { RuleMessage } from '../../core/rules/delivery.js';
import type { Failure } from '../../core/rules/retry.js';
import type { Rule } from '../../core/rules/rule.js';
import type { Env } from '../env.js';
import { queueBinding, QueueDestination } from './queue-destination.js';
import { WebhookDestination } from './webhook-destination.js';

export interface DeliveryAttempt {
  /** Stable across the retries of one batch: a receiver de-duplicates by it. */
  deliveryId: string;
  /** 1 = the first. */
  attempt: number;
  messages: readonly RuleMessage[];
}

export interface DeliveryResult {
  /** Messages taken, counted from the first. */
  accepted: number;
  /** Why the rest were not; absent when all were taken. */
  failure?: Failure;
}

export interface RuleDestination {
  deliver(attempt: DeliveryAttempt): Promise<DeliveryResult>;
}

/** The destination of `rule`; undefined when its Queue binding does not exist (any more). */
export function destinationOf(env: Env, tenant: string, rule: Rule, secret: string | undefined): RuleDestination | undefined {
  const target = rule.destination;
  if (target.type === 'webhook') return new WebhookDestination(target, rule.name, tenant, secret ?? '');
  const queue = queueBinding(env, target.binding);
  return queue ? new QueueDestination(queue, rule.name, tenant) : undefined;
}
