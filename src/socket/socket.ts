/**
 * A TCP socket with node:net's shape: a stream.Duplex whose writes go into the
 * connection's send buffer and whose reads come out of its receive buffer.
 *
 * Flow control reaches the peer: data leaves the receive buffer only when the
 * stream asks for more (_read), so a paused reader stops window updates.
 *
 * The contract of net.Socket, kept here:
 * - write(buf, cb): the bytes are copied into the send buffer (as the kernel
 *   does), so the caller may reuse `buf` once cb ran; write() returns false
 *   and 'drain' follows when the send buffer is full.
 * - destroy() is close(2): what was written is still delivered, then FIN; a
 *   RST only when received data was left unread. resetAndDestroy() aborts.
 * - 'close' carries hadError; ref()/unref() decide whether the socket keeps
 *   the process alive.
 * - Events arrive after the stack has processed the packet that caused them
 *   (see Stack.flush), so a throwing handler is an uncaught exception of the
 *   process, as with node:net, and leaves the stack intact.
 */
import { Duplex } from 'node:stream';
import type { TcpEndpoint, EndpointHandler } from '../stack/endpoint.js';
import type { ConnEvent } from '../tcp/connection.js';
import type { Stack } from '../stack/stack.js';
import type { Timer } from '../stack/clock.js';

/** The stack a socket lives on; a NetStack also keeps its open sockets (for close()). */
export type SocketHost = Stack & { readonly sockets?: Set<Socket> };
import { codedError, socketError } from './errors.js';

export interface SocketOptions {
  allowHalfOpen?: boolean;
}

/**
 * Most bytes taken from the receive buffer at once, like the 64 KiB reads of
 * node:net: what a paused stream has not asked for stays in TCP, where it
 * holds the window closed and counts as unread for destroy() (RST).
 */
const READ_CHUNK = 64 * 1024;

/** Linux's tcp_keepalive_time, used when setKeepAlive gets no delay. */
const DEFAULT_KEEPALIVE_IDLE = 7_200_000;

export class Socket extends Duplex implements EndpointHandler {
  connecting: boolean;
  bytesRead = 0;
  /** The connection; null while the host name is being looked up. */
  private ep: TcpEndpoint | null = null;
  private written = 0;
  private pendingWrite: ((err?: Error | null) => void) | null = null;
  /** A write or end waiting for the connection to exist (host name lookup). */
  private waitingForEndpoint: (() => void) | null = null;
  /** The callback of the write among them, answered if the socket is destroyed first. */
  private writeBeforeEndpoint: ((err?: Error | null) => void) | null = null;
  private wantRead = false;
  /** Chunks taken from the receive buffer and not yet pushed to the stream. */
  private inbox: Buffer[] = [];
  private inboxAt = 0;
  private peerEnded = false;
  private endPushed = false;
  private tcbGone = false;
  private resetOnDestroy = false;
  private timeoutMs = 0;
  private idleTimer: Timer | null = null;
  private lastActivity = 0;
  private refd = true;
  private holdingRef = false;
  /** Set by the Server that accepted this socket: called once from _destroy,
   * where node:net counts a server's connections (not a 'close' listener,
   * which user code may remove). */
  onDestroyed: (() => void) | null = null;

  constructor(
    private readonly stack: SocketHost,
    ep: TcpEndpoint | null,
    opts: SocketOptions & { connecting: boolean },
  ) {
    // node:net emits 'close' itself, with hadError.
    super({ allowHalfOpen: opts.allowHalfOpen ?? false, decodeStrings: true, emitClose: false });
    this.connecting = opts.connecting;
    if (ep !== null) this.attach(ep);
    this.updateRef();
    stack.sockets?.add(this);
  }

  /** Give the socket its connection (after the host name lookup, for connect()). */
  attach(ep: TcpEndpoint): void {
    this.ep = ep;
    ep.handler = this;
    const w = this.waitingForEndpoint;
    this.waitingForEndpoint = null;
    w?.();
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
    if (this.connecting) return socketError(code, 'connect', this.ep?.remoteAddr, this.ep?.remotePort);
    return socketError(code, 'read');
  }

  // --------------------------------------------------------- stream plumbing

  override _write(chunk: Buffer, enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const ep = this.ep;
    if (ep === null) {
      // Like net.Socket while connecting: the write waits for the connection.
      this.writeBeforeEndpoint = cb;
      this.waitForEndpoint(() => {
        this.writeBeforeEndpoint = null;
        this._write(chunk, enc, cb);
      });
      return;
    }
    if (this.tcbGone || ep.conn.state === 'CLOSED') {
      cb(socketError('EPIPE', 'write'));
      return;
    }
    this.written += chunk.length;
    this.touch();
    if (ep.write(chunk)) cb();
    else this.pendingWrite = cb;
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.connecting) {
      // Like net.Socket: end() before the handshake completes sends FIN after it.
      this.once('connect', () => this._final(cb));
      return;
    }
    if (this.ep !== null && !this.tcbGone) this.ep.close();
    cb();
  }

  override _read(): void {
    this.wantRead = true;
    // Push from outside _read, as net.Socket does from its read callback: a
    // flowing stream then emits 'data' right inside push(), so a handler that
    // throws unwinds into pull(), which keeps the rest for the next tick.
    if (!this.pullScheduled && (this.inboxAt < this.inbox.length || (this.ep?.conn.readable ?? 0) > 0 || this.peerEnded)) {
      this.pullScheduled = true;
      process.nextTick(this.pullLater);
    }
  }

  private pullScheduled = false;
  private readonly pullLater = (): void => {
    this.pullScheduled = false;
    this.pull();
  };

  private pull(): void {
    const ep = this.ep;
    if (ep === null) return;
    try {
      while (this.wantRead) {
        if (this.inboxAt === this.inbox.length) {
          if (ep.conn.readable === 0) break;
          this.inbox = ep.read(READ_CHUNK);
          this.inboxAt = 0;
          for (const b of this.inbox) this.bytesRead += b.length;
        }
        if (!this.push(this.inbox[this.inboxAt++]!)) this.wantRead = false;
      }
    } catch (err) {
      // A 'data' handler threw (it got its chunk): the rest waits in the
      // inbox and follows on the next tick; the error is the process's.
      if (!this.pullScheduled) {
        this.pullScheduled = true;
        process.nextTick(this.pullLater);
      }
      throw err;
    }
    if (this.peerEnded && !this.endPushed && ep.conn.readable === 0 && this.inboxAt === this.inbox.length) {
      this.endPushed = true;
      // node:net learns of EOF in a read of its own, a later turn of the
      // event loop than the data before it. Consumers that answer that data
      // through a chain of ticks finish first: node:http, whose 'end'
      // handler aborts pipelined requests not yet answered, would otherwise
      // drop the last answers to a client that sends its FIN with them.
      setImmediate(() => this.push(null));
    }
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.clearIdleTimer();
    this.waitingForEndpoint = null;
    const early = this.writeBeforeEndpoint;
    this.writeBeforeEndpoint = null;
    // node:net answers a write still waiting for the connection, before 'close'.
    if (early !== null) process.nextTick(early, codedError(Error, 'ERR_SOCKET_CLOSED_BEFORE_CONNECTION', 'Socket closed before the connection was established'));
    const ep = this.ep;
    if (ep !== null && !this.tcbGone && !ep.removed) {
      // close(2) leaves the connection to finish on its own (FIN after the
      // queued data; RST if received data is unread); resetAndDestroy aborts.
      if (this.resetOnDestroy) ep.abort();
      else ep.release();
      // The connection's events stop here, so a write waiting for 'drain'
      // would never be called back; node:net calls it with no error (its
      // bytes were taken, as ours are in the send queue).
      const pending = this.pendingWrite;
      this.pendingWrite = null;
      if (pending !== null) process.nextTick(pending);
    }
    this.connecting = false;
    this.updateRef();
    this.stack.sockets?.delete(this);
    const done = this.onDestroyed;
    this.onDestroyed = null;
    done?.();
    cb(err);
    // After 'error' (emitted on the next tick by the stream): 'close' with hadError.
    process.nextTick(() => this.emit('close', err !== null && err !== undefined));
  }

  // ------------------------------------------------------------ node:net API

  /** Close with a RST now (an abortive close, SO_LINGER 0), as net.Socket.resetAndDestroy(). */
  resetAndDestroy(): this {
    if (this.destroyed) return this;
    this.resetOnDestroy = true;
    if (this.connecting && this.ep !== null) {
      // Like node:net: the RST follows once connected.
      this.once('connect', () => this.destroy());
      return this;
    }
    return this.destroy();
  }

  get bytesWritten(): number {
    return this.written;
  }

  get remoteAddress(): string | undefined {
    return this.ep?.remoteAddr;
  }

  get remotePort(): number | undefined {
    return this.ep?.remotePort;
  }

  get remoteFamily(): string | undefined {
    return this.ep !== null ? family(this.ep) : undefined;
  }

  get localFamily(): string | undefined {
    return this.ep !== null ? family(this.ep) : undefined;
  }

  get localAddress(): string | undefined {
    return this.ep?.localAddr;
  }

  get localPort(): number | undefined {
    return this.ep?.localPort;
  }

  get pending(): boolean {
    return this.connecting;
  }

  /** The TCP state, for teaching and tests. */
  get tcpState(): string {
    return this.ep?.conn.state ?? 'CLOSED';
  }

  /** The congestion control algorithm of this connection ('cubic', 'newreno' or 'bbr'). */
  get congestionControl(): string | undefined {
    return this.ep?.conn.cc.name;
  }

  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (this.readable && this.writable) return 'open';
    if (this.readable && !this.writable) return 'readOnly';
    if (!this.readable && this.writable) return 'writeOnly';
    return 'closed';
  }

  address(): { address: string; family: string; port: number } | Record<string, never> {
    if (this.ep === null) return {};
    return { address: this.ep.localAddr, family: family(this.ep), port: this.ep.localPort };
  }

  setNoDelay(noDelay = true): this {
    if (this.ep !== null && !this.tcbGone) this.ep.setNoDelay(noDelay);
    else if (this.ep === null) this.waitForEndpoint(() => this.setNoDelay(noDelay));
    return this;
  }

  /**
   * TCP_CORK (Linux): while on, a partial segment waits until it fills, the
   * cork is removed, setNoDelay(true) pushes it, or one RTO passes with
   * nothing in flight. Not node:net's stream cork(), which holds writes
   * in the stream; this one holds segments in TCP.
   */
  setCork(cork = true): this {
    if (this.ep !== null && !this.tcbGone) this.ep.setCork(cork);
    else if (this.ep === null) this.waitForEndpoint(() => this.setCork(cork));
    return this;
  }

  setKeepAlive(enable = false, initialDelay = 0): this {
    if (this.ep !== null && !this.tcbGone) this.ep.setKeepAlive(enable ? (initialDelay > 0 ? initialDelay : DEFAULT_KEEPALIVE_IDLE) : 0);
    else if (this.ep === null) this.waitForEndpoint(() => this.setKeepAlive(enable, initialDelay));
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

  /** Keep the process alive while this socket is open (the default). */
  ref(): this {
    this.refd = true;
    this.updateRef();
    return this;
  }

  /** Let the process exit even though this socket is open. */
  unref(): this {
    this.refd = false;
    this.updateRef();
    return this;
  }

  private updateRef(): void {
    const want = this.refd && !this.destroyed;
    if (want === this.holdingRef) return;
    this.holdingRef = want;
    if (want) this.stack.holdRef();
    else this.stack.releaseRef();
  }

  /** Run `fn` once the connection exists (after the lookup); options set before it are not lost. */
  private waitForEndpoint(fn: () => void): void {
    const before = this.waitingForEndpoint;
    this.waitingForEndpoint = () => {
      before?.();
      fn();
    };
  }

  private touch(): void {
    this.lastActivity = this.stack.now();
    if (this.timeoutMs > 0 && this.idleTimer === null) this.armIdleTimer();
  }

  private armIdleTimer(): void {
    this.idleTimer = this.stack.clock.at(this.lastActivity + this.timeoutMs, () => {
      this.idleTimer = null;
      if (this.timeoutMs === 0 || this.destroyed) return;
      // User code runs outside the stack's clock.
      if (this.stack.now() - this.lastActivity >= this.timeoutMs) process.nextTick(() => this.destroyed || this.emit('timeout'));
      else this.armIdleTimer();
    });
  }

  private clearIdleTimer(): void {
    if (this.idleTimer !== null) this.stack.clock.cancel(this.idleTimer);
    this.idleTimer = null;
  }
}

/** node:net's family names. */
export function family(ep: TcpEndpoint): 'IPv4' | 'IPv6' {
  return ep.v6 ? 'IPv6' : 'IPv4';
}
