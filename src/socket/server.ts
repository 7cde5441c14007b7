/**
 * A TCP server with node:net's shape: listen(), 'listening', 'connection',
 * 'close', 'error', close(), address(). `server.close()` stops accepting at
 * once and emits 'close' when the last accepted connection has closed.
 */
import { EventEmitter } from 'node:events';
import { isIPv6 } from 'node:net';
import { ip6ToBytes, ip6ToString } from '../wire/ipv6.js';
import type { Stack } from '../stack/stack.js';
import type { Listener, TcpEndpoint } from '../stack/endpoint.js';
import type { TcpConfig } from '../tcp/config.js';
import { family, Socket } from './socket.js';
import { socketError, validPort } from './errors.js';

export interface ServerOptions {
  allowHalfOpen?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  /** Maximum connections in SYN_RECEIVED (Node's default backlog is 511). */
  backlog?: number;
  /** Congestion control for accepted connections (default: the stack's). */
  cc?: 'cubic' | 'newreno' | 'bbr';
  /** false: refuse a client's request for ECN (RFC 3168; Linux tcp_ecn=0); default: the stack's setting (accept). */
  ecn?: boolean;
}

/** The TCP settings a connect() or server option asks for, over the stack's (undefined: none). */
export function socketTcp(o: { cc?: 'cubic' | 'newreno' | 'bbr'; ecn?: boolean }): Partial<TcpConfig> | undefined {
  if (o.cc === undefined && o.ecn === undefined) return undefined;
  const tcp: Partial<TcpConfig> = {};
  if (o.cc !== undefined) tcp.cc = o.cc;
  if (o.ecn !== undefined) tcp.ecn = o.ecn ? 'on' : 'off';
  return tcp;
}

export interface ListenOptions {
  /** A number or a numeric string (listen(process.env.PORT)), as node:net takes. */
  port?: number | string;
  host?: string;
  backlog?: number;
}

export class Server extends EventEmitter {
  /** As net.Server's: connections beyond this many are closed at once and reported as 'drop'. */
  maxConnections?: number;
  private listener: Listener | null = null;
  private readonly sockets = new Set<Socket>();
  private closing = false;
  private refd = true;
  private holdingRef = false;

  constructor(
    private readonly stack: Stack,
    private readonly options: ServerOptions = {},
    connectionListener?: (socket: Socket) => void,
  ) {
    super();
    if (connectionListener !== undefined) this.on('connection', connectionListener);
  }

  get listening(): boolean {
    return this.listener !== null;
  }

  listen(port?: number | string | ListenOptions, host?: string | number | (() => void), backlog?: number | (() => void), cb?: () => void): this {
    let opts: ListenOptions;
    if (typeof port === 'object' && port !== null) {
      opts = { ...port };
      if (typeof host === 'function') cb = host;
    } else {
      opts = { port: port ?? 0 };
      for (const a of [host, backlog]) {
        if (typeof a === 'function') cb = a;
        else if (typeof a === 'string') opts.host = a;
        else if (typeof a === 'number') opts.backlog = a;
      }
    }
    if (this.listener !== null) {
      // node:net throws this synchronously.
      throw Object.assign(new Error('Listen method has been called more than once without closing.'), { code: 'ERR_SERVER_ALREADY_LISTEN' });
    }
    // Like node:net: a bad port throws (RangeError ERR_SOCKET_BAD_PORT); a numeric string is a port.
    const portNumber = validPort(opts.port ?? 0);
    if (cb !== undefined) this.once('listening', cb);
    const h = opts.host;
    const bind = listenBinding(h, this.stack.addr, this.stack.addr6);
    if (bind === null) {
      process.nextTick(() => this.emit('error', socketError('EADDRNOTAVAIL', 'listen', h, portNumber)));
      return this;
    }
    try {
      this.listener = this.stack.openListener(portNumber, opts.backlog ?? this.options.backlog ?? 511, (ep) => this.accept(ep), socketTcp(this.options), bind);
    } catch (err) {
      const e = err as { code?: string };
      const out = e.code === 'EADDRINUSE' || e.code === 'ENETDOWN' ? socketError(e.code, 'listen', this.stack.addr, portNumber) : (err as Error);
      process.nextTick(() => this.emit('error', out));
      return this;
    }
    this.closing = false;
    this.updateRef();
    process.nextTick(() => this.emit('listening'));
    return this;
  }

  private accept(ep: TcpEndpoint): void {
    if (this.maxConnections !== undefined && this.sockets.size >= this.maxConnections) {
      // node:net closes the accepted descriptor (FIN) and emits 'drop'.
      const drop = { localAddress: ep.localAddr, localPort: ep.localPort, localFamily: family(ep), remoteAddress: ep.remoteAddr, remotePort: ep.remotePort, remoteFamily: family(ep) };
      ep.release();
      this.emit('drop', drop);
      return;
    }
    const s = new Socket(this.stack, ep, { allowHalfOpen: this.options.allowHalfOpen ?? false, connecting: false });
    if (this.options.noDelay) s.setNoDelay(true);
    if (this.options.keepAlive) s.setKeepAlive(true, this.options.keepAliveInitialDelay ?? 0);
    this.sockets.add(s);
    s.onDestroyed = () => {
      this.sockets.delete(s);
      this.maybeClosed();
    };
    this.emit('connection', s);
  }

  address(): { address: string; family: string; port: number } | null {
    const l = this.listener;
    if (l === null) return null;
    // As node:net: '::' when listening on both families with IPv6 on; an IPv6 host as given.
    if (l.address !== null && l.family === 6) return { address: l.address, family: 'IPv6', port: l.port };
    if (l.family === 6 || (l.family === 0 && this.stack.addr6 !== null)) return { address: '::', family: 'IPv6', port: l.port };
    return { address: this.stack.addr, family: 'IPv4', port: l.port };
  }

  close(cb?: (err?: Error) => void): this {
    if (this.listener === null) {
      const err = Object.assign(new Error('Server is not running.'), { code: 'ERR_SERVER_NOT_RUNNING' });
      if (cb !== undefined) process.nextTick(() => cb(err));
      return this;
    }
    this.stack.closeListener(this.listener);
    this.listener = null;
    this.updateRef();
    this.closing = true;
    if (cb !== undefined) this.once('close', () => cb());
    this.maybeClosed();
    return this;
  }

  getConnections(cb: (err: Error | null, count: number) => void): this {
    process.nextTick(() => cb(null, this.sockets.size));
    return this;
  }

  private maybeClosed(): void {
    if (this.closing && this.sockets.size === 0) {
      this.closing = false;
      process.nextTick(() => this.emit('close'));
    }
  }

  /** Keep the process alive while listening (the default). */
  ref(): this {
    this.refd = true;
    this.updateRef();
    return this;
  }

  /** Let the process exit even though this server listens. */
  unref(): this {
    this.refd = false;
    this.updateRef();
    return this;
  }

  private updateRef(): void {
    const want = this.refd && this.listener !== null;
    if (want === this.holdingRef) return;
    this.holdingRef = want;
    if (want) this.stack.holdRef();
    else this.stack.releaseRef();
  }
}

/**
 * Which connections a listen host takes (Listener.family, .address), as
 * node:net binds: none or '::' both families (ipv6Only false), 'localhost'
 * both, '0.0.0.0', 127.x or our IPv4 address IPv4 only, our IPv6 address or
 * '::1' only that address. null: an address this host does not have.
 */
export function listenBinding(h: string | undefined, addr: string, addr6: string | null): { family: 0 | 4 | 6; address: string | null } | null {
  if (h === undefined || h === '::' || h === 'localhost') return { family: 0, address: null };
  if (h === addr || h === '0.0.0.0' || h.startsWith('127.')) return { family: 4, address: null };
  if (!isIPv6(h) || addr6 === null) return null;
  const b = ip6ToBytes(h);
  const text = b === null ? '' : ip6ToString(b, 0);
  return text === addr6 || text === '::1' ? { family: 6, address: text } : null;
}
