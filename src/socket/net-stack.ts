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
import { socketError, codedError, validPort } from './errors.js';

/** node:net's lookup option: dns.lookup's shape, one address. */
export type LookupFunction = (
  hostname: string,
  options: LookupOneOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
) => void;

export interface ConnectOptions extends SocketOptions {
  port: number | string;
  /** Host name or IPv4 address (default 'localhost', as node:net). */
  host?: string;
  /** Address family for the lookup; only 4 is supported (IPv6 is not yet). */
  family?: number;
  /** Resolves `host` (default dns.lookup). */
  lookup?: LookupFunction;
  localPort?: number;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  timeout?: number;
  /** Congestion control for this connection (default: the stack's). */
  cc?: 'cubic' | 'newreno';
  /** Ask for ECN in the SYN (RFC 3168; Linux tcp_ecn=1); default: the stack's setting. */
  ecn?: boolean;
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
    if (isIPv4(hostname)) {
      // At once (node:net waits a tick): the SYN leaves now, and localPort is
      // known right away; failures still arrive as 'error' on a later tick.
      open(hostname);
    } else if (isIPv6(hostname) || (o.family !== undefined && o.family !== 0 && o.family !== 4)) {
      process.nextTick(() => s.destroy(socketError('EAFNOSUPPORT', 'connect', hostname, port)));
    } else {
      const lookup = o.lookup ?? (dnsLookup as LookupFunction);
      lookup(hostname, { family: 4 }, (err, address, family) => {
        s.emit('lookup', err, address, family, hostname);
        if (s.destroyed) return;
        if (err) s.destroy(err);
        else if (!isIPv4(address)) s.destroy(socketError('EAFNOSUPPORT', 'connect', address, port));
        else open(address);
      });
    }
    return s;
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
