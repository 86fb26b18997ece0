// A rule's Cloudflare Queue: each MQTT message becomes one Queue message (JSON, payload in base64), sent with
// sendBatch in order, in chunks within the Queue's limits. A chunk that fails stops the batch there; what the
// earlier chunks sent is not sent again.
import { queueMessage } from '../../core/rules/delivery.js';
import type { Env } from '../env.js';
import type { DeliveryAttempt, DeliveryResult, RuleDestination } from './destination.js';

/** Cloudflare Queues: at most 100 messages and 256 KB per sendBatch (we keep a margin for the envelope). */
const QUEUE_BATCH_MESSAGES = 100;
const QUEUE_BATCH_BYTES = 200 * 1024;

/** The part of a Queue producer binding a rule uses. */
export interface QueueProducer {
  sendBatch(messages: Iterable<{ body: unknown; contentType?: 'json' }>): Promise<unknown>;
}

/** The Queue producer binding `name` of this Worker, or undefined when there is none by that name. */
export function queueBinding(env: Env, name: string): QueueProducer | undefined {
  const candidate = (env as unknown as Record<string, unknown>)[name];
  return candidate !== null && typeof candidate === 'object' && typeof (candidate as QueueProducer).sendBatch === 'function' ? (candidate as QueueProducer) : undefined;
}

export class QueueDestination implements RuleDestination {
  constructor(
    private readonly queue: QueueProducer,
    private readonly rule: string,
    private readonly tenant: string,
  ) {}

  async deliver({ messages }: DeliveryAttempt): Promise<DeliveryResult> {
    let accepted = 0;
    while (accepted < messages.length) {
      const chunk: Array<{ body: unknown; contentType: 'json' }> = [];
      let bytes = 0;
      for (const message of messages.slice(accepted)) {
        const body = queueMessage(this.rule, this.tenant, message);
        const size = JSON.stringify(body).length;
        if (chunk.length > 0 && (chunk.length >= QUEUE_BATCH_MESSAGES || bytes + size > QUEUE_BATCH_BYTES)) break;
        chunk.push({ body, contentType: 'json' });
        bytes += size;
      }
      try {
        await this.queue.sendBatch(chunk);
      } catch (error) {
        return { accepted, failure: { message: `queue send failed: ${String((error as Error)?.message ?? error)}` } };
      }
      accepted += chunk.length;
    }
    return { accepted };
  }
}
