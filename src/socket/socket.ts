/**
 * A TCP socket with node:net's shape: a stream.Duplex whose writes go into the
 * connection's send buffer and whose reads come out of its receive buffer.
 *
 * Flow control reaches the peer: data leaves the receive buffer only when the
 * stream asks for more (_read), so a paused reader stops window updates.
 */
import { Duplex } from 'node:stream';
import type { TcpEndpoint, EndpointHandler } from '../stack/endpoint.js';
import type { ConnEvent } from '../tcp/connection.js';
import type { Stack } from '../stack/stack.js';
import type { Timer } from '../stack/clock.js';
import { socketError } from './errors.js';

export interface SocketOptions {
  allowHalfOpen?: boolean;
}

/** Linux's tcp_keepalive_time, used when setKeepAlive gets no delay. */
const DEFAULT_KEEPALIVE_IDLE = 7_200_000;

export class Socket extends Duplex implements EndpointHandler {
  connecting: boolean;
  bytesRead = 0;
  private written = 0;
  private pendingWrite: ((err?: Error | null) => void) | null = null;
  private wantRead = false;
  private peerEnded = false;
  private endPushed = false;
  private tcbGone = false;
  private timeoutMs = 0;
  private idleTimer: Timer | null = null;
  private lastActivity = 0;

  constructor(
    private readonly stack: Stack,
    private readonly ep: TcpEndpoint,
    opts: SocketOptions & { connecting: boolean },
  ) {
    super({ allowHalfOpen: opts.allowHalfOpen ?? false, decodeStrings: true });
    this.connecting = opts.connecting;
    ep.handler = this;
  }

  // ---------------------------------------------------------------- events

  onEvent(ev: ConnEvent): void {
    switch (ev.type) {
      case 'established':
        if (this.connecting) {
          this.connecting = false;
          this.emit('connect');
          this.emit('ready');
        }
        break;
      case 'readable':
        this.touch();
        if (this.wantRead) this.pull();
        break;
      case 'end':
        this.peerEnded = true;
        this.pull();
        break;
      case 'drain': {
        const cb = this.pendingWrite;
        this.pendingWrite = null;
        cb?.();
        break;
      }
      case 'error':
        this.tcbGone = true;
        this.destroy(this.errorFor(ev.code));
        break;
      case 'closed':
        this.tcbGone = true;
        if (this.pendingWrite !== null) {
          const cb = this.pendingWrite;
          this.pendingWrite = null;
          cb(socketError('EPIPE', 'write'));
        }
        break;
      default:
        break;
    }
  }

  private errorFor(code: string): Error {
    if (code === 'EPIPE') return socketError(code, 'write');
    if (this.connecting) return socketError(code, 'connect', this.ep.remoteAddr, this.ep.remotePort);
    return socketError(code, 'read');
  }

  // --------------------------------------------------------- stream plumbing

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.tcbGone || this.ep.conn.state === 'CLOSED') {
      cb(socketError('EPIPE', 'write'));
      return;
    }
    this.written += chunk.length;
    this.touch();
    if (this.ep.write(chunk)) cb();
    else this.pendingWrite = cb;
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.connecting) {
      // Like net.Socket: end() before the handshake completes sends FIN after it.
      this.once('connect', () => this._final(cb));
      return;
    }
    if (!this.tcbGone) this.ep.close();
    cb();
  }

  override _read(): void {
    this.wantRead = true;
    this.pull();
  }

  private pull(): void {
    while (this.wantRead && this.ep.conn.readable > 0) {
      for (const b of this.ep.read()) {
        this.bytesRead += b.length;
        if (!this.push(b)) this.wantRead = false;
      }
    }
    if (this.peerEnded && !this.endPushed && this.ep.conn.readable === 0) {
      this.endPushed = true;
      this.push(null);
    }
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.clearIdleTimer();
    // After a graceful end in both directions the connection finishes on its
    // own (our FIN may still wait behind queued data). Destroyed before that,
    // the connection is aborted with a RST, like close(2) with unread data.
    const graceful = this.readableEnded && this.writableFinished;
    if (!this.tcbGone && !graceful) this.ep.abort();
    this.connecting = false;
    cb(err);
  }

  // ------------------------------------------------------------ node:net API

  get bytesWritten(): number {
    return this.written;
  }

  get remoteAddress(): string {
    return this.ep.remoteAddr;
  }

  get remotePort(): number {
    return this.ep.remotePort;
  }

  get remoteFamily(): string {
    return 'IPv4';
  }

  get localAddress(): string {
    return this.ep.localAddr;
  }

  get localPort(): number {
    return this.ep.localPort;
  }

  get pending(): boolean {
    return this.connecting;
  }

  /** The TCP state, for teaching and tests. */
  get tcpState(): string {
    return this.ep.conn.state;
  }

  /** The congestion control algorithm of this connection ('cubic' or 'newreno'). */
  get congestionControl(): string {
    return this.ep.conn.cc.name;
  }

  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (this.readable && this.writable) return 'open';
    if (this.readable && !this.writable) return 'readOnly';
    if (!this.readable && this.writable) return 'writeOnly';
    return 'closed';
  }

  address(): { address: string; family: string; port: number } {
    return { address: this.ep.localAddr, family: 'IPv4', port: this.ep.localPort };
  }

  setNoDelay(noDelay = true): this {
    if (!this.tcbGone) this.ep.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable = false, initialDelay = 0): this {
    if (!this.tcbGone) this.ep.setKeepAlive(enable ? (initialDelay > 0 ? initialDelay : DEFAULT_KEEPALIVE_IDLE) : 0);
    return this;
  }

  /** Emit 'timeout' after `ms` without activity (0 disables), as node:net does. */
  setTimeout(ms: number, cb?: () => void): this {
    this.timeoutMs = ms;
    if (cb !== undefined) {
      if (ms === 0) this.removeListener('timeout', cb);
      else this.once('timeout', cb);
    }
    this.clearIdleTimer();
    if (ms > 0) {
      this.lastActivity = this.stack.now();
      this.armIdleTimer();
    }
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  private touch(): void {
    this.lastActivity = this.stack.now();
    if (this.timeoutMs > 0 && this.idleTimer === null) this.armIdleTimer();
  }

  private armIdleTimer(): void {
    this.idleTimer = this.stack.clock.at(this.lastActivity + this.timeoutMs, () => {
      this.idleTimer = null;
      if (this.timeoutMs === 0 || this.destroyed) return;
      if (this.stack.now() - this.lastActivity >= this.timeoutMs) this.emit('timeout');
      else this.armIdleTimer();
    });
  }

  private clearIdleTimer(): void {
    if (this.idleTimer !== null) this.stack.clock.cancel(this.idleTimer);
    this.idleTimer = null;
  }
}
