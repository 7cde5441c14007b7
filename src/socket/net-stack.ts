/**
 * The public stack: the host of src/stack plus node:net-style factories,
 * `createServer()` and `connect()`, and a close() that closes every socket
 * and server the way process exit closes a program's descriptors.
 */
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns';
import { isIPv4, isIPv6 } from 'node:net';
import { Stack, type StackOptions } from '../stack/stack.js';
import { Server, socketTcp, type ServerOptions } from './server.js';
import { Socket, type SocketOptions } from './socket.js';
import type { TcpEndpoint } from '../stack/endpoint.js';
import { socketError, codedError, validPort } from './errors.js';

/** node:net's lookup option: dns.lookup's shape, one address. */
export type LookupFunction = (
  hostname: string,
  options: LookupOneOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
) => void;

export interface ConnectOptions extends SocketOptions {
  port: number | string;
  /** Host name, IPv4 or IPv6 address (default 'localhost', as node:net). */
  host?: string;
  /** Address family for the lookup: 4, 6, or 0 for both (node:net's default). */
  family?: number;
  /** Resolves `host` (default dns.lookup). With both families it is called
   * with `all: true` and may answer with a list, as node:net does. */
  lookup?: LookupFunction;
  /** With addresses of both families, try them in turn, IPv6 and IPv4
   * interleaved (RFC 8305 §4, as node:net's default, true). */
  autoSelectFamily?: boolean;
  /** How long one attempt may take before the next starts (node:net: 250 ms). */
  autoSelectFamilyAttemptTimeout?: number;
  localPort?: number;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  timeout?: number;
  /** Congestion control for this connection (default: the stack's). */
  cc?: 'cubic' | 'newreno' | 'bbr';
  /** Ask for ECN in the SYN (RFC 3168; Linux tcp_ecn=1); default: the stack's setting. */
  ecn?: boolean;
}

/** dns.lookup with `all: true`. */
type LookupAllFunction = (
  hostname: string,
  options: { family: number; all: true },
  callback: (err: NodeJS.ErrnoException | null, addresses: Array<{ address: string; family: number }> | string, family?: number) => void,
) => void;

/** node:net's order: the first address's family first, then the families alternating, each address once. */
function interleave(all: ReadonlyArray<{ address: string; family: number }>): string[] {
  const first = all[0]?.family === 6 ? 6 : 4;
  const a: string[] = [];
  const b: string[] = [];
  for (const { address, family } of all) {
    const list = family === first ? a : b;
    if ((family === 4 || family === 6) && !list.includes(address)) list.push(address);
  }
  const out: string[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i < a.length) out.push(a[i]!);
    if (i < b.length) out.push(b[i]!);
  }
  return out;
}

export class NetStack extends Stack {
  /** Open sockets (closed by close()). */
  readonly sockets = new Set<Socket>();
  private readonly servers = new Set<Server>();

  constructor(opts: StackOptions) {
    super(opts);
  }

  createServer(options?: ServerOptions | ((s: Socket) => void), listener?: (s: Socket) => void): Server {
    const srv = typeof options === 'function' ? new Server(this, {}, options) : new Server(this, options ?? {}, listener);
    this.servers.add(srv);
    return srv;
  }

  /**
   * Like net.connect(options[, cb]) or net.connect(port[, host][, cb]).
   * As in node:net, only bad arguments throw (a port out of range:
   * RangeError ERR_SOCKET_BAD_PORT); every failure of the connection itself,
   * including the host name lookup, arrives as an 'error' event.
   */
  connect(options: ConnectOptions | number | string, host?: string | (() => void), cb?: () => void): Socket {
    const o: ConnectOptions = typeof options === 'object' && options !== null ? { ...options } : { port: options };
    if (typeof host === 'function') cb = host;
    else if (typeof host === 'string') o.host = host;
    if (o.port === undefined) {
      throw codedError(TypeError, 'ERR_MISSING_ARGS', 'The "options" or "port" or "path" argument must be specified');
    }
    const port = validPort(o.port);
    const hostname = o.host ?? 'localhost';
    if (typeof hostname !== 'string') {
      throw codedError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "options.host" property must be of type string. Received ${typeof hostname}`);
    }
    const s = new Socket(this, null, { allowHalfOpen: o.allowHalfOpen ?? false, connecting: true });
    if (cb !== undefined) s.once('connect', cb);
    if (o.noDelay) s.setNoDelay(true);
    if (o.keepAlive) s.setKeepAlive(true, o.keepAliveInitialDelay ?? 0);
    if (o.timeout !== undefined) s.setTimeout(o.timeout);

    const open = (address: string): void => {
      if (s.destroyed) return;
      try {
        s.attach(this.openConnection(address, port, o.localPort, socketTcp(o)));
      } catch (err) {
        const code = (err as { code?: string }).code ?? 'EINVAL';
        s.destroy(socketError(code, 'connect', address, port));
      }
    };
    // Without IPv6 here every name resolves to IPv4 only, as before.
    const family = o.family ?? (this.addr6 === null ? 4 : 0);
    if (family !== 0 && family !== 4 && family !== 6) {
      throw codedError(TypeError, 'ERR_INVALID_ARG_VALUE', `The property 'options.family' must be one of: 0, 4, 6. Received ${String(family)}`);
    }
    if (isIPv4(hostname) || isIPv6(hostname)) {
      // At once (node:net waits a tick): the SYN leaves now, and localPort is
      // known right away; failures still arrive as 'error' on a later tick.
      open(hostname);
      return s;
    }
    const lookup = o.lookup ?? (dnsLookup as LookupFunction);
    if (family !== 0 || o.autoSelectFamily === false) {
      lookup(hostname, { family }, (err, address, fam) => {
        s.emit('lookup', err, address, fam, hostname);
        if (s.destroyed) return;
        if (err) s.destroy(err);
        else open(address);
      });
      return s;
    }
    // Both families (node:net's lookupAndConnectMultiple): every address, then attempts in turn.
    (lookup as unknown as LookupAllFunction)(hostname, { family: 0, all: true }, (err, list, fam) => {
      const all = typeof list === 'string' ? [{ address: list, family: fam ?? (isIPv6(list) ? 6 : 4) }] : (list ?? []);
      if (err) s.emit('lookup', err, undefined, undefined, hostname);
      for (const a of all) s.emit('lookup', null, a.address, a.family, hostname);
      if (s.destroyed) return;
      if (err) return s.destroy(err);
      const order = interleave(all);
      if (order.length <= 1) return open(order[0] ?? hostname);
      this.attempt(s, order, 0, port, o);
    });
    return s;
  }

  /**
   * Happy eyeballs as node:net does it (RFC 8305 §5, sequential): connect to
   * order[i]; when it fails, or is not connected after the attempt timeout
   * (then abandoned), go on with the next address. The socket gets the
   * connection that succeeds, or the last one's error.
   */
  private attempt(s: Socket, order: string[], i: number, port: number, o: ConnectOptions): void {
    const address = order[i]!;
    const last = i === order.length - 1;
    let ep: TcpEndpoint;
    s.emit('connectionAttempt', address, port, isIPv6(address) ? 6 : 4);
    try {
      ep = this.openConnection(address, port, o.localPort, socketTcp(o));
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'EINVAL';
      const e = socketError(code, 'connect', address, port);
      s.emit('connectionAttemptFailed', address, port, isIPv6(address) ? 6 : 4, e);
      if (last) s.destroy(e);
      else this.attempt(s, order, i + 1, port, o);
      return;
    }
    const timeout = Math.max(10, o.autoSelectFamilyAttemptTimeout ?? 250);
    const timer = last ? null : this.clock.at(this.clock.now() + timeout, () => {
      ep.handler = null;
      ep.abort();
      if (s.destroyed) return;
      s.emit('connectionAttemptTimeout', address, port, isIPv6(address) ? 6 : 4);
      this.attempt(s, order, i + 1, port, o);
    });
    const settle = (): void => {
      if (timer !== null) this.clock.cancel(timer);
    };
    if (last) return s.attach(ep);
    ep.handler = {
      onEvent: (ev) => {
        if (s.destroyed) {
          settle();
          ep.handler = null;
          if (!ep.removed) ep.abort();
        } else if (ev.type === 'established') {
          settle();
          s.attach(ep);
          s.onEvent(ev);
        } else if (ev.type === 'error') {
          settle();
          ep.handler = null;
          s.emit('connectionAttemptFailed', address, port, isIPv6(address) ? 6 : 4, socketError(ev.code, 'connect', address, port));
          this.attempt(s, order, i + 1, port, o);
        }
      },
    };
  }

  /**
   * Close every server and socket as process exit closes a program's
   * descriptors ('close' is emitted on each), then the stack (Stack.close).
   */
  override close(opts: { linger?: number } = {}): Promise<void> {
    const graceful = (opts.linger ?? 1000) > 0;
    for (const srv of this.servers) if (srv.listening) srv.close();
    for (const s of [...this.sockets]) {
      if (graceful || s.connecting) s.destroy();
      else s.resetAndDestroy();
    }
    return super.close(opts);
  }
}

export { socketError };
