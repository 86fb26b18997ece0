// A rule's webhook: batches POSTed as JSON (or each message raw), signed with HMAC-SHA256 over
// `timestamp.body`. Any 2xx is success; another status, a network error or a timeout is a failure the rule
// retries or dead-letters (core/rules/retry.ts).
import { jsonBatchRequest, rawMessageRequest, RuleHeader, signatureValue, signedBytes, type WebhookRequest } from '../../core/rules/delivery.js';
import { parseRetryAfter, type Failure } from '../../core/rules/retry.js';
import type { WebhookDestination as WebhookSettings } from '../../core/rules/rule.js';
import { DEFAULT_WEBHOOK_TIMEOUT_MS } from '../../core/rules/rule.js';
import type { DeliveryAttempt, DeliveryResult, RuleDestination } from './destination.js';

/** Characters of a failed response's body kept for the rule's last error. */
const ERROR_BODY_CHARS = 200;

export class WebhookDestination implements RuleDestination {
  private key: Promise<CryptoKey> | undefined;

  constructor(
    private readonly settings: WebhookSettings,
    private readonly rule: string,
    private readonly tenant: string,
    private readonly secret: string,
  ) {}

  async deliver({ deliveryId, attempt, messages }: DeliveryAttempt): Promise<DeliveryResult> {
    if (this.settings.format === 'json') {
      const failure = await this.post(jsonBatchRequest(this.rule, this.tenant, deliveryId, attempt, messages));
      return failure ? { accepted: 0, failure } : { accepted: messages.length };
    }
    // raw: one request per message, in order; the first failure stops the batch there.
    for (const [index, message] of messages.entries()) {
      const failure = await this.post(rawMessageRequest(this.rule, deliveryId, attempt, message, index));
      if (failure) return { accepted: index, failure };
    }
    return { accepted: messages.length };
  }

  /** One signed POST; undefined on a 2xx, else what went wrong. */
  private async post(request: WebhookRequest): Promise<Failure | undefined> {
    const timestamp = Math.floor(Date.now() / 1000);
    const mac = new Uint8Array(await crypto.subtle.sign('HMAC', await this.signingKey(), signedBytes(timestamp, request.body)));
    const timeoutMs = this.settings.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
    let response: Response;
    try {
      response = await fetch(this.settings.url, {
        method: 'POST',
        headers: {
          ...this.settings.headers,
          ...request.headers,
          'Content-Type': request.contentType,
          [RuleHeader.timestamp]: String(timestamp),
          [RuleHeader.signature]: signatureValue(mac),
        },
        body: request.body,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const name = (error as Error)?.name;
      return { message: name === 'TimeoutError' || name === 'AbortError' ? `no answer within ${timeoutMs} ms` : `request failed: ${String((error as Error)?.message ?? error)}` };
    }
    if (response.ok) {
      // Read to the end: an unread body holds the connection.
      await response.arrayBuffer().catch(() => undefined);
      return undefined;
    }
    const text = await response.text().catch(() => '');
    const retryAfterMs = parseRetryAfter(response.headers.get('Retry-After'), Date.now());
    return {
      message: `HTTP ${response.status}${text ? `: ${text.slice(0, ERROR_BODY_CHARS)}` : ''}`,
      status: response.status,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  }

  private signingKey(): Promise<CryptoKey> {
    this.key ??= crypto.subtle.importKey('raw', new TextEncoder().encode(this.secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    return this.key;
  }
}
