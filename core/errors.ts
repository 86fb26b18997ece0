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
