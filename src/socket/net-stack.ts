/**
 * The public stack: the host of src/stack plus node:net-style factories,
 * `createServer()` and `connect()`.
 */
import { Stack, type StackOptions } from '../stack/stack.js';
import { Server, type ServerOptions } from './server.js';
import { Socket, type SocketOptions } from './socket.js';
import { socketError } from './errors.js';

export interface ConnectOptions extends SocketOptions {
  port: number;
  host?: string;
  localPort?: number;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  timeout?: number;
  /** Congestion control for this connection (default: the stack's). */
  cc?: 'cubic' | 'newreno';
}

export class NetStack extends Stack {
  constructor(opts: StackOptions) {
    super(opts);
  }

  createServer(options?: ServerOptions | ((s: Socket) => void), listener?: (s: Socket) => void): Server {
    if (typeof options === 'function') return new Server(this, {}, options);
    return new Server(this, options ?? {}, listener);
  }

  /** Like net.connect(options[, cb]) or net.connect(port[, host][, cb]). */
  connect(options: ConnectOptions | number, host?: string | (() => void), cb?: () => void): Socket {
    const o: ConnectOptions = typeof options === 'number' ? { port: options } : { ...options };
    if (typeof host === 'function') cb = host;
    else if (typeof host === 'string') o.host = host;
    const remote = o.host ?? '127.0.0.1';
    const ep = this.openConnection(remote, o.port, o.localPort, o.cc ? { cc: o.cc } : undefined);
    const s = new Socket(this, ep, { allowHalfOpen: o.allowHalfOpen ?? false, connecting: true });
    if (cb !== undefined) s.once('connect', cb);
    if (o.noDelay) s.setNoDelay(true);
    if (o.keepAlive) s.setKeepAlive(true, o.keepAliveInitialDelay ?? 0);
    if (o.timeout !== undefined) s.setTimeout(o.timeout);
    return s;
  }
}

export { socketError };
