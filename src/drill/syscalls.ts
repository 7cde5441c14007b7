/**
 * The system calls of a script on tuntcp's stack, with Linux's errno
 * semantics: file descriptors from 3 up, blocking and O_NONBLOCK sockets,
 * socket options mapped to TcpConfig. Each call returns its result, or
 * null when it would block: the runner calls it again as time passes.
 */
import { DrillSkip, type Expr } from './ast.js';
import type { Stack } from '../stack/stack.js';
import type { Listener, TcpEndpoint } from '../stack/endpoint.js';
import type { ConnEvent } from '../tcp/connection.js';
import type { TcpConfig } from '../tcp/config.js';
import { tcpInfoField } from './tcp-info.js';

export interface CallResult {
  ret: number;
  errno?: string;
}

/** Linux's numbers for what getsockopt(SO_ERROR) returns. */
const ERRNO: Record<string, number> = {
  EPIPE: 32, ECONNRESET: 104, ETIMEDOUT: 110, ECONNREFUSED: 111, EHOSTUNREACH: 113, ENETUNREACH: 101, EMSGSIZE: 90, EPROTO: 71,
};

const O_RDWR = 0x2;
const O_NONBLOCK = 0x800;

export const REMOTE_PORT = 8080;
export const LOCAL_PORT = 8080;

export interface DrillSocket {
  fd: number;
  nonblock: boolean;
  /** Options set before listen/connect, given to the connection. */
  tcp: Partial<TcpConfig>;
  listener?: Listener;
  backlog: TcpEndpoint[];
  ep?: TcpEndpoint;
  soError?: string;
  rdShut: boolean;
  wrShut: boolean;
  lingerZero: boolean;
}

const SETSOCKOPT_KNOWN = new Set(['SO_REUSEADDR', 'SO_KEEPALIVE', 'SO_SNDBUF', 'SO_RCVBUF', 'TCP_NODELAY', 'TCP_MAXSEG', 'TCP_USER_TIMEOUT', 'TCP_CORK', 'SO_LINGER', 'TCP_CONGESTION', 'IP_MTU_DISCOVER', 'IP_TOS']);

/** IP_MTU_DISCOVER's values (linux/in.h) that tuntcp gives a meaning: DONT clears DF, WANT and DO are its default. */
const PMTUDISC: Record<string, boolean> = { IP_PMTUDISC_DONT: false, IP_PMTUDISC_WANT: true, IP_PMTUDISC_DO: true, 0: false, 1: true, 2: true };

export class Syscalls {
  readonly sockets = new Map<number, DrillSocket>();
  private nextFd = 3;

  constructor(
    private readonly stack: () => Stack,
    private readonly remoteAddr: string,
  ) {}

  /** A call by name; the returned function is tried until it does not block. */
  start(name: string, args: Expr[], ret: Expr): () => CallResult | null {
    const fn = this.calls[name];
    if (fn === undefined) throw new DrillSkip(`system call ${name}() is not supported`);
    // packetdrill maps the script's descriptors to live ones: a new socket gets the number the script names.
    const opens = name === 'socket' || name === 'accept' || name === 'accept4';
    const fd = opens && ret.t === 'int' && ret.v >= 3 && !this.sockets.has(ret.v) ? ret.v : -1;
    // Arguments are read once: a call that blocks keeps its own progress.
    return fn(args, fd);
  }

  private readonly calls: Record<string, (args: Expr[], fd: number) => () => CallResult | null> = {
    socket: (a, fd) => () => this.socket(a, fd),
    bind: (a) => () => (this.sock(a), { ret: 0 }),
    listen: (a) => () => this.listen(a),
    accept: (a, fd) => () => this.accept(a, fd),
    accept4: (a, fd) => () => this.accept(a, fd),
    connect: (a) => this.connect(a),
    write: (a) => this.write(this.sock(a), int(a[2])),
    send: (a) => this.writeFlags(a, int(a[2]), a[3]),
    sendto: (a) => this.writeFlags(a, int(a[2]), a[3]),
    sendmsg: (a) => this.writeFlags(a, iovLength(a[1]), a[2]),
    writev: (a) => this.write(this.sock(a), iovLength(a[1])),
    read: (a) => () => this.read(this.sock(a), int(a[2])),
    recv: (a) => () => this.read(this.sock(a), int(a[2])),
    recvfrom: (a) => () => this.read(this.sock(a), int(a[2])),
    close: (a) => () => this.close(a),
    shutdown: (a) => () => this.shutdown(a),
    fcntl: (a) => () => this.fcntl(a),
    setsockopt: (a) => () => this.setsockopt(a),
    getsockopt: (a) => () => this.getsockopt(a),
    ioctl: (a) => () => this.ioctl(a),
  };

  /** Whether a socket of the script listens (a SYN from the remote is for it). */
  listening(): boolean {
    for (const s of this.sockets.values()) if (s.listener !== undefined) return true;
    return false;
  }

  private sock(a: Expr[]): DrillSocket {
    const s = this.sockets.get(int(a[0]));
    if (s === undefined) throw new BadFd();
    return s;
  }

  /** `fd`: the number the script expects (-1: any). */
  private socket(a: Expr[], want: number): CallResult {
    const type = a[1];
    if (type?.t === 'word' && type.v !== 'SOCK_STREAM') throw new DrillSkip(`socket type ${type.v} is not supported`);
    const fd = this.newFd(want);
    this.sockets.set(fd, { fd, nonblock: false, tcp: {}, backlog: [], rdShut: false, wrShut: false, lingerZero: false });
    return { ret: fd };
  }

  private listen(a: Expr[]): CallResult {
    const s = this.sock(a);
    const backlog = Math.max(1, int(a[1]));
    s.listener = this.stack().openListener(LOCAL_PORT, backlog, (ep) => {
      ep.handler = handlerFor(s, this);
      s.backlog.push(ep);
    }, s.tcp);
    return { ret: 0 };
  }

  private accept(a: Expr[], want: number): CallResult | null {
    const s = this.sock(a);
    if (s.listener === undefined) return { ret: -1, errno: 'EINVAL' };
    const ep = s.backlog.shift();
    if (ep === undefined) return s.nonblock ? { ret: -1, errno: 'EAGAIN' } : null;
    const fd = this.newFd(want);
    const child: DrillSocket = { fd, nonblock: false, tcp: s.tcp, backlog: [], ep, rdShut: false, wrShut: false, lingerZero: s.lingerZero };
    ep.handler = handlerFor(child, this);
    this.sockets.set(fd, child);
    return { ret: fd };
  }

  private newFd(want: number): number {
    const fd = want >= 0 && !this.sockets.has(want) ? want : this.nextFd;
    this.nextFd = Math.max(this.nextFd, fd + 1);
    return fd;
  }

  /** Set by a connection's handler when an error arrives for it. */
  noteError(s: DrillSocket, code: string): void {
    s.soError = code;
  }

  private connect(a: Expr[]): () => CallResult | null {
    const s = this.sock(a);
    if (s.ep !== undefined) {
      const st = s.ep.conn.state;
      return () => (st === 'SYN_SENT' ? { ret: -1, errno: 'EALREADY' } : { ret: -1, errno: 'EISCONN' });
    }
    const ep = this.stack().openConnection(this.remoteAddr, REMOTE_PORT, undefined, s.tcp);
    s.ep = ep;
    ep.handler = handlerFor(s, this);
    if (s.nonblock) return () => ({ ret: -1, errno: 'EINPROGRESS' });
    return () => {
      if (s.soError !== undefined) return { ret: -1, errno: takeError(s) };
      const st = ep.conn.state;
      if (st === 'SYN_SENT' || st === 'SYN_RECEIVED') return null;
      if (st === 'CLOSED') return { ret: -1, errno: 'ECONNREFUSED' };
      return { ret: 0 };
    };
  }

  private writeFlags(a: Expr[], len: number, flags: Expr | undefined): () => CallResult | null {
    return this.write(this.sock(a), len, flags !== undefined && words(flags).includes('MSG_MORE'));
  }

  /** write(2): all of it on a blocking socket (waiting for room), what fits on a non-blocking one. */
  private write(s: DrillSocket, len: number, more = false): () => CallResult | null {
    let done = 0;
    let blocked = false;
    return () => {
      const ep = s.ep;
      if (s.soError !== undefined) return { ret: -1, errno: takeError(s) };
      if (ep === undefined) return { ret: -1, errno: 'EPIPE' };
      const st = ep.conn.state;
      if (s.wrShut || !(st === 'ESTABLISHED' || st === 'CLOSE_WAIT')) {
        if (st === 'SYN_SENT' || st === 'SYN_RECEIVED') return s.nonblock ? { ret: -1, errno: 'EAGAIN' } : null;
        return { ret: -1, errno: 'EPIPE' };
      }
      // A blocked writer wakes when the buffer is writable again, not at the first free byte (sk_stream_write_space).
      if (blocked && ep.conn.writeWaiting) return null;
      blocked = false;
      // Linux tcp_sendmsg: skb by skb while below sk_sndbuf, each pushed as it fills (wmem.ts).
      for (let n = Math.min(ep.conn.sendPiece, len - done); n > 0; n = Math.min(ep.conn.sendPiece, len - done)) {
        ep.write(Buffer.alloc(n), more);
        done += n;
      }
      if (done === len || (s.nonblock && done > 0)) return { ret: done };
      if (s.nonblock) return { ret: -1, errno: 'EAGAIN' };
      blocked = true;
      return null;
    };
  }

  private read(s: DrillSocket, max: number): CallResult | null {
    const ep = s.ep;
    if (ep === undefined) return { ret: -1, errno: 'ENOTCONN' };
    if (ep.conn.readable > 0 && max > 0) {
      const got = ep.read(max).reduce((n, b) => n + b.length, 0);
      return { ret: got };
    }
    if (s.soError !== undefined) return { ret: -1, errno: takeError(s) };
    if (s.rdShut || ep.conn.peerFinReceived || ep.conn.state === 'CLOSED') return { ret: 0 };
    return s.nonblock ? { ret: -1, errno: 'EAGAIN' } : null;
  }

  private close(a: Expr[]): CallResult {
    const s = this.sock(a);
    this.sockets.delete(s.fd);
    if (s.listener !== undefined) {
      this.stack().closeListener(s.listener);
      // Linux resets connections that were never accepted (inet_csk_listen_stop).
      for (const ep of s.backlog) ep.abort();
    }
    if (s.ep !== undefined) {
      if (s.lingerZero) s.ep.abort(); // SO_LINGER with l_linger 0: RST (Linux tcp_close)
      else s.ep.release();
    }
    return { ret: 0 };
  }

  private shutdown(a: Expr[]): CallResult {
    const s = this.sock(a);
    const how = word(a[1]);
    if (s.ep === undefined) return { ret: -1, errno: 'ENOTCONN' };
    if (how === 'SHUT_RD' || how === 'SHUT_RDWR') s.rdShut = true;
    if (how === 'SHUT_WR' || how === 'SHUT_RDWR') {
      s.wrShut = true;
      s.ep.close();
    }
    return { ret: 0 };
  }

  private fcntl(a: Expr[]): CallResult {
    const s = this.sock(a);
    const cmd = word(a[1]);
    if (cmd === 'F_GETFL') return { ret: O_RDWR | (s.nonblock ? O_NONBLOCK : 0) };
    if (cmd === 'F_SETFL') {
      s.nonblock = words(a[2]!).includes('O_NONBLOCK');
      return { ret: 0 };
    }
    throw new DrillSkip(`fcntl ${cmd} is not supported`);
  }

  private setsockopt(a: Expr[]): CallResult {
    const s = this.sock(a);
    const opt = word(a[2]);
    if (!SETSOCKOPT_KNOWN.has(opt)) throw new DrillSkip(`setsockopt ${opt} is not supported`);
    if (opt === 'IP_MTU_DISCOVER') {
      const mode = a[3]?.t === 'list' ? word(a[3].items[0]) : word(a[3]);
      const on = PMTUDISC[mode];
      if (on === undefined) throw new DrillSkip(`setsockopt IP_MTU_DISCOVER ${mode} is not supported (only DONT, WANT, DO)`);
      s.tcp.pmtuDiscovery = on;
      if (s.ep !== undefined) s.ep.conn.cfg.pmtuDiscovery = on;
      return { ret: 0 };
    }
    const v = listValue(a[3]);
    const conn = s.ep?.conn;
    const set = <K extends keyof TcpConfig>(k: K, value: TcpConfig[K]): void => {
      s.tcp[k] = value;
      if (conn !== undefined) conn.cfg[k] = value;
    };
    switch (opt) {
      case 'SO_REUSEADDR':
      case 'SO_KEEPALIVE':
        return { ret: 0 };
      case 'SO_SNDBUF': // Linux doubles it (socket(7)) and locks it: no autotuning (SOCK_SNDBUF_LOCK)
        set('sndBuf', 2 * v);
        set('sndBufMax', 2 * v);
        return { ret: 0 };
      case 'SO_RCVBUF':
        if (conn !== undefined) throw new DrillSkip('SO_RCVBUF on a connected socket is not supported');
        set('rcvBuf', 2 * v);
        return { ret: 0 };
      case 'TCP_NODELAY':
        s.tcp.noDelay = v !== 0;
        s.ep?.setNoDelay(v !== 0);
        return { ret: 0 };
      case 'TCP_MAXSEG':
        if (v < 88 || v > 32767) return { ret: -1, errno: 'EINVAL' };
        set('mss', v);
        return { ret: 0 };
      case 'TCP_USER_TIMEOUT': set('userTimeout', v); return { ret: 0 };
      case 'IP_TOS': set('tos', v & 0xff & ~3); return { ret: 0 }; // Linux keeps a TCP socket's ECN bits
      case 'TCP_CORK':
        s.tcp.cork = v !== 0;
        s.ep?.setCork(v !== 0);
        return { ret: 0 };
      case 'SO_LINGER': {
        const l = a[3];
        const vals = l?.t === 'struct' ? l.items.map((e) => (e.t === 'field' ? e.value : e)) : [];
        s.lingerZero = vals.length === 2 && int(vals[0]) !== 0 && int(vals[1]) === 0;
        return { ret: 0 };
      }
      case 'TCP_CONGESTION': {
        const name = a[3]?.t === 'str' ? a[3].v : '';
        if (name === 'cubic') set('cc', 'cubic');
        else if (name === 'reno') set('cc', 'newreno');
        else if (name === 'bbr') set('cc', 'bbr');
        else return { ret: -1, errno: 'ENOENT' };
        return { ret: 0 };
      }
      default:
        throw new DrillSkip(`setsockopt ${opt} is not supported`);
    }
  }

  private getsockopt(a: Expr[]): CallResult {
    const s = this.sock(a);
    const opt = word(a[2]);
    let value: number;
    switch (opt) {
      case 'SO_ERROR': value = s.soError === undefined ? 0 : (ERRNO[takeError(s)] ?? 5); break;
      case 'SO_SNDBUF': value = s.ep?.conn.cfg.sndBuf ?? s.tcp.sndBuf ?? this.stack().tcpConfig.sndBuf; break;
      case 'SO_RCVBUF': value = s.ep?.conn.cfg.rcvBuf ?? s.tcp.rcvBuf ?? this.stack().tcpConfig.rcvBuf; break;
      case 'TCP_NODELAY': value = (s.ep?.conn.cfg.noDelay ?? s.tcp.noDelay) ? 1 : 0; break;
      case 'TCP_USER_TIMEOUT': value = s.ep?.conn.cfg.userTimeout ?? s.tcp.userTimeout ?? 0; break;
      case 'TCP_MAXSEG': {
        const st = s.ep?.conn.state;
        // Linux: the current MSS once connected, else what the user set, else 536.
        value = s.ep !== undefined && st !== 'SYN_SENT' && st !== 'CLOSED' ? tcpInfoField(s.ep.conn, 'tcpi_snd_mss')! : s.tcp.mss ?? 536;
        break;
      }
      default:
        throw new DrillSkip(`getsockopt ${opt} is not supported`);
    }
    const want = a[3];
    if (want !== undefined && want.t === 'list' && want.items[0] !== undefined && want.items[0].t === 'int' && want.items[0].v !== value) {
      throw new ValueMismatch(`getsockopt ${opt}: expected [${want.items[0].v}], got [${value}]`);
    }
    return { ret: 0 };
  }

  private ioctl(a: Expr[]): CallResult {
    const s = this.sock(a);
    const req = word(a[1]);
    if (req !== 'SIOCINQ' && req !== 'FIONREAD') throw new DrillSkip(`ioctl ${req} is not supported`);
    const value = s.ep?.conn.readable ?? 0;
    const want = a[2];
    if (want?.t === 'list' && want.items[0]?.t === 'int' && want.items[0].v !== value) {
      throw new ValueMismatch(`ioctl ${req}: expected [${want.items[0].v}], got [${value}]`);
    }
    return { ret: 0 };
  }
}

/** A value the call returns through memory (getsockopt, ioctl) was not what the script says. */
export class ValueMismatch extends Error {}

/** A call on a file descriptor the script never opened. */
export class BadFd extends Error {}

function handlerFor(s: DrillSocket, calls: Syscalls): { onEvent(ev: ConnEvent): void } {
  return {
    onEvent(ev: ConnEvent): void {
      if (ev.type === 'error') calls.noteError(s, ev.code);
    },
  };
}

function takeError(s: DrillSocket): string {
  const e = s.soError ?? 'EIO';
  s.soError = undefined;
  return e;
}

function int(e: Expr | undefined): number {
  if (e?.t === 'int') return e.v;
  if (e?.t === 'list' && e.items.length === 1) return int(e.items[0]);
  throw new DrillSkip(`an integer argument was expected, found ${e === undefined ? 'nothing' : e.t}`);
}

function word(e: Expr | undefined): string {
  if (e?.t === 'word') return e.v;
  if (e?.t === 'int') return String(e.v);
  return '';
}

function words(e: Expr): string[] {
  if (e.t === 'word') return [e.v];
  if (e.t === 'or') return e.items.flatMap(words);
  return [];
}

/** `[1]` or a plain integer. */
function listValue(e: Expr | undefined): number {
  if (e?.t === 'list' && e.items[0]?.t === 'int') return e.items[0].v;
  if (e?.t === 'int') return e.v;
  if (e?.t === 'struct' || e?.t === 'str') return 0;
  return int(e);
}

/** The bytes of sendmsg's msghdr: the sum of `msg_iov(n)=[{..., len}, ...]`, or writev's iovec list. */
function iovLength(e: Expr | undefined): number {
  const iov = e?.t === 'struct' ? e.items.find((f) => f.t === 'field' && f.name === 'msg_iov') : e;
  const list = iov?.t === 'field' ? iov.value : iov;
  if (list?.t !== 'list') throw new DrillSkip('sendmsg without msg_iov is not supported');
  return list.items.reduce((n, item) => n + (item.t === 'struct' ? int(item.items[item.items.length - 1]) : 0), 0);
}
