// @ts-check
// One client connection: a TCP (or TLS) socket piped to one WebSocket to the broker, bytes unchanged.
//
//   socket ─data─▶ FirstPacketGate ─▶ held until the WebSocket opens (bounded) ─▶ ws.send   (upstream)
//   socket ◀─write─ ws 'message'                                                             (downstream)
//
// Backpressure: a socket.write() that returns false pauses the WebSocket until the socket drains; a
// WebSocket send buffer over highWaterBytes pauses the socket until a send completes under lowWaterBytes.
// So each connection holds at most about preOpenBytes + highWaterBytes + one WebSocket message.
// Either side's close or error, or a timeout, closes both sides; the first cause is the close reason.
import WebSocket from 'ws';
import { FirstPacketGate } from './first-packet-gate.js';

/**
 * Why a connection closed: a fixed set, so they can label metrics.
 * @typedef {'client-closed' | 'client-error' | 'upstream-closed' | 'upstream-error' | 'upstream-failed'
 *   | 'connect-timeout' | 'idle-timeout' | 'malformed-connect' | 'connect-too-large' | 'buffer-overflow'
 *   | 'shutdown'} CloseReason
 */

/**
 * @typedef {object} ConnectionLimits
 * @property {number} connectTimeoutMs  the first packet must be whole by then
 * @property {number} idleTimeoutMs     0 = off
 * @property {number} preOpenBytes      bytes held while the WebSocket opens, past which the connection closes
 * @property {number} maxPacketBytes    the largest first packet, and (×2) the largest WebSocket message
 * @property {number} highWaterBytes    WebSocket send buffer that pauses the socket
 * @property {number} lowWaterBytes     … and resumes it
 * @property {number} closeGraceMs      how long a closing side may take to flush before it is destroyed
 */

/**
 * @typedef {object} ConnectionSummary what the close log line and the counters need
 * @property {number} id
 * @property {string} remote
 * @property {number} bytesUpstream
 * @property {number} bytesDownstream
 * @property {number} durationMs
 * @property {CloseReason} reason
 * @property {string} detail
 */

/**
 * @typedef {object} ConnectionOptions
 * @property {number} id
 * @property {string} target ws:// or wss:// URL of the broker's /mqtt
 * @property {ConnectionLimits} limits
 * @property {import('./first-packet-gate.js').FirstPacketRewrite} [rewrite] applied to the CONNECT
 * @property {import('./index.js').GatewayCounters} counters
 * @property {(summary: ConnectionSummary) => void} onClose
 */

/** WebSocket close codes the gateway sends: the broker treats both as a lost network connection. */
const NORMAL_CLOSE = 1000;
const GOING_AWAY = 1001; // the gateway shuts down

export class GatewayConnection {
  /**
   * connecting: the WebSocket handshake runs, client bytes are held · open: piping · closing: one side
   * closed, the other flushes (bounded by closeGraceMs) · closed: both done, summary reported.
   * @type {'connecting' | 'open' | 'closing' | 'closed'}
   */
  state = 'connecting';
  /** @type {CloseReason | undefined} */
  reason;
  detail = '';
  bytesUpstream = 0;
  bytesDownstream = 0;
  /** @type {Uint8Array[]} client bytes that arrived before the WebSocket opened */
  early = [];
  earlyBytes = 0;
  /** Each side's own 'close' event has fired: the connection is done when both have (or the grace ran out). */
  socketClosed = false;
  upstreamClosed = false;
  startedAt = Date.now();

  /**
   * @param {import('node:net').Socket} socket
   * @param {ConnectionOptions} options
   */
  constructor(socket, options) {
    this.socket = socket;
    this.id = options.id;
    this.limits = options.limits;
    this.counters = options.counters;
    this.onClose = options.onClose;
    this.remote = formatAddress(socket.remoteAddress, socket.remotePort);
    this.gate = new FirstPacketGate({ maxBytes: this.limits.maxPacketBytes, ...(options.rewrite ? { rewrite: options.rewrite } : {}) });

    this.ws = new WebSocket(options.target, 'mqtt', {
      perMessageDeflate: false,
      maxPayload: 2 * this.limits.maxPacketBytes,
      handshakeTimeout: this.limits.connectTimeoutMs,
    });
    this.ws.binaryType = 'nodebuffer';

    /** @type {NodeJS.Timeout | undefined} */
    this.connectTimer = setTimeout(() => this.timeout('connect-timeout'), this.limits.connectTimeoutMs).unref();
    /** @type {NodeJS.Timeout | undefined} */
    this.idleTimer = this.limits.idleTimeoutMs > 0 ? setTimeout(() => this.timeout('idle-timeout'), this.limits.idleTimeoutMs).unref() : undefined;
    /** @type {NodeJS.Timeout | undefined} */
    this.graceTimer = undefined;

    socket.on('data', (chunk) => this.fromClient(chunk));
    socket.on('end', () => this.close('client-closed'));
    socket.on('error', (error) => this.close('client-error', errorText(error)));
    socket.on('close', () => {
      this.socketClosed = true;
      this.close('client-closed');
      this.finishIfDone();
    });

    this.ws.on('open', () => this.upstreamOpened());
    this.ws.on('message', (data, isBinary) => this.fromUpstream(/** @type {Buffer} */ (data), isBinary));
    this.ws.on('error', (error) => {
      if (this.state === 'connecting') this.counters.upstreamFailures++;
      this.close(this.state === 'connecting' ? 'upstream-failed' : 'upstream-error', errorText(error));
    });
    this.ws.on('close', (code) => {
      this.upstreamClosed = true;
      this.close('upstream-closed', `code ${code}`);
      this.finishIfDone();
    });
  }

  /** Bytes this connection holds in memory now, both directions: what backpressure keeps bounded. */
  get bufferedBytes() {
    return this.earlyBytes + this.gate.held.length + this.ws.bufferedAmount + this.socket.writableLength;
  }

  /** @param {Buffer} chunk */
  fromClient(chunk) {
    this.bytesUpstream += chunk.length;
    this.counters.bytesUpstream += chunk.length;
    this.idleTimer?.refresh();
    if (this.state === 'closed') return;
    const verdict = this.gate.push(chunk);
    switch (verdict.kind) {
      case 'hold':
        return;
      case 'refuse':
        return this.close(verdict.reason, verdict.detail);
      case 'forward':
        if (verdict.firstPacket) this.clearTimer('connectTimer');
        return this.toUpstream(verdict.bytes);
      default:
        return assertNever(verdict);
    }
  }

  /** @param {Uint8Array} bytes */
  toUpstream(bytes) {
    if (this.ws.readyState === WebSocket.OPEN) return this.sendUpstream(bytes);
    if (this.ws.readyState !== WebSocket.CONNECTING) return; // closing: nothing more goes up
    this.early.push(bytes);
    this.earlyBytes += bytes.length;
    if (this.earlyBytes > this.limits.preOpenBytes) this.close('buffer-overflow', `${this.earlyBytes} bytes before the WebSocket opened`);
  }

  /** @param {Uint8Array} bytes */
  sendUpstream(bytes) {
    this.ws.send(bytes, { binary: true }, this.afterSend);
    if (this.ws.bufferedAmount > this.limits.highWaterBytes && !this.socket.isPaused()) this.socket.pause();
  }

  /** Each completed send may be the one that brings the buffer under the low-water mark. */
  afterSend = () => {
    if (this.socket.isPaused() && this.ws.bufferedAmount <= this.limits.lowWaterBytes && this.state !== 'closed') this.socket.resume();
  };

  upstreamOpened() {
    const early = this.early;
    this.early = [];
    this.earlyBytes = 0;
    for (const bytes of early) this.sendUpstream(bytes);
    if (this.state === 'connecting') this.state = 'open';
    // The client ended while the handshake ran: what it sent has gone up, now the close follows it.
    else if (this.state === 'closing') this.ws.close(NORMAL_CLOSE);
  }

  /**
   * @param {Buffer} data
   * @param {boolean} isBinary
   */
  fromUpstream(data, isBinary) {
    this.bytesDownstream += data.length;
    this.counters.bytesDownstream += data.length;
    this.idleTimer?.refresh();
    // [MQTT-6.0.0-1] MQTT travels in binary frames: a text frame is not from an MQTT server.
    if (!isBinary) return this.close('upstream-error', 'text frame');
    if (!this.socket.writable) return;
    if (!this.socket.write(data) && !this.ws.isPaused) {
      this.ws.pause();
      this.socket.once('drain', () => this.ws.resume());
    }
  }

  /** @param {'connect-timeout' | 'idle-timeout'} reason */
  timeout(reason) {
    if (reason === 'connect-timeout') this.counters.connectTimeouts++;
    else this.counters.idleTimeouts++;
    this.close(reason);
  }

  /**
   * Closes both sides; the first call's reason is the one reported. A side that is still open gets an orderly
   * close (the WebSocket sends what it holds, then its close frame; the socket flushes, then FIN) and
   * closeGraceMs to finish it before it is destroyed.
   * @param {CloseReason} reason
   * @param {string} [detail]
   */
  close(reason, detail = '') {
    if (this.state === 'closing' || this.state === 'closed') return;
    const wasConnecting = this.state === 'connecting';
    this.state = 'closing';
    this.reason = reason;
    this.detail = detail;
    this.clearTimer('connectTimer');
    this.clearTimer('idleTimer');

    if (wasConnecting && reason === 'client-closed' && this.early.length > 0) {
      // Let the handshake finish so that what the client sent before it left still reaches the broker.
    } else if (this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.terminate();
    } else if (this.ws.readyState === WebSocket.OPEN) {
      this.ws.close(reason === 'shutdown' ? GOING_AWAY : NORMAL_CLOSE);
    }
    if (reason === 'client-error') this.socket.destroy();
    else this.socket.end();

    this.graceTimer = setTimeout(() => {
      this.ws.terminate();
      this.socket.destroy();
      this.upstreamClosed = true;
      this.socketClosed = true;
      this.finishIfDone();
    }, this.limits.closeGraceMs).unref();
  }

  finishIfDone() {
    if (this.state === 'closed' || !this.socketClosed || !this.upstreamClosed) return;
    this.state = 'closed';
    this.clearTimer('graceTimer');
    this.early = [];
    this.onClose({
      id: this.id,
      remote: this.remote,
      bytesUpstream: this.bytesUpstream,
      bytesDownstream: this.bytesDownstream,
      durationMs: Date.now() - this.startedAt,
      reason: this.reason ?? 'client-closed',
      detail: this.detail,
    });
  }

  /** @param {'connectTimer' | 'idleTimer' | 'graceTimer'} name */
  clearTimer(name) {
    clearTimeout(this[name]);
    this[name] = undefined;
  }
}

/**
 * @param {string | undefined} address
 * @param {number | undefined} port
 */
function formatAddress(address, port) {
  if (address === undefined) return 'unknown';
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** @param {Error & { code?: string }} error */
function errorText(error) {
  return error.code ? `${error.code} ${error.message}` : error.message;
}

/** @param {never} value @returns {never} */
function assertNever(value) {
  throw new Error(`unexpected ${JSON.stringify(value)}`);
}
