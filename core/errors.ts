// The one error type the protocol core throws: it carries the reason code the connection ends with.
import type { ReasonCodeValue } from './reason-codes.js';

/** Thrown by the decoder and framer; `reasonCode` is what a 5.0 DISCONNECT would carry. */
export class MqttError extends Error {
  constructor(
    readonly reasonCode: ReasonCodeValue,
    message: string,
  ) {
    super(message);
    this.name = 'MqttError';
  }
}

/** What an OverloadedError's message starts with: RPC keeps an error's message, not its class or fields. */
const OVERLOADED = 'overloaded:';

/**
 * A bounded queue on a message's way was full, so a QoS 1/2 copy was refused (DESIGN §7 Bounds): the
 * publish fails without acknowledgement. Crossing Durable Object RPC it arrives as a plain Error carrying
 * the same message: recognise it with isOverloaded, not instanceof.
 */
export class OverloadedError extends Error {
  readonly overloaded = true;

  constructor(what: string) {
    super(`${OVERLOADED} ${what}`);
    // The name stays 'Error': RPC passes the standard error types only (a custom name fails to cross).
  }
}

/** True for an OverloadedError, here or after an RPC hop (see OverloadedError). */
export function isOverloaded(error: unknown): boolean {
  return error instanceof OverloadedError || (error instanceof Error && error.message.startsWith(OVERLOADED));
}
