/**
 * A connection as the stack holds it: the sans-IO TCB plus its addresses, its
 * one entry in the stack's timer heap, and the object (a Socket) that gets its
 * events. Every user call goes through here so the stack can send what the
 * call produced and re-arm the timer right after it.
 */
import type { Connection, ConnEvent } from '../tcp/connection.js';
import type { Timer } from './clock.js';
import type { TcpConfig } from '../tcp/config.js';
import { ipToNumber } from '../wire/ipv4.js';

/** The owner of a connection (a Socket). Its events arrive after the packet
 * or call that caused them has been processed, never inside it. */
export interface EndpointHandler {
  onEvent(ev: ConnEvent): void;
}

export interface Listener {
  readonly port: number;
  /** Connections in SYN_RECEIVED may not exceed this (the SYN queue). */
  readonly backlog: number;
  /** Passive connections still in SYN_RECEIVED. */
  pending: number;
  /** When the SYN queue was last full and a SYN got a cookie instead (-Infinity: never):
   * ACKs that match no connection are checked for cookies until COOKIE_VALID after it. */
  cookieSentAt: number;
  /** Settings for connections accepted here, over the stack's (e.g. `cc`). */
  readonly tcp?: Partial<TcpConfig>;
  onConnection(ep: TcpEndpoint): void;
}

/** What the endpoint needs from the stack (kept narrow to avoid a cycle). */
export interface EndpointOwner {
  now(): number;
  flush(ep: TcpEndpoint): void;
  /** The handler let go of the connection: it finishes as an orphan. */
  orphaned(ep: TcpEndpoint): void;
}

export class TcpEndpoint {
  handler: EndpointHandler | null = null;
  /** The listener that created this passive connection, until it is established. */
  listener: Listener | null = null;
  /** Established and waiting for the listener's onConnection (delivered with the events). */
  acceptBy: Listener | null = null;
  /** Keeps the process alive (an orphan whose data or FIN is still unacknowledged). */
  holdsRef = false;
  /** Counted in the stack's TIME_WAIT total (StackOptions.maxTimeWait). */
  inTimeWait = false;
  timer: Timer | null = null;
  timerAt = Infinity;
  flushing = false;
  /** Removed from the stack's table (the TCB was deleted). */
  removed = false;
  /** The addresses as 32-bit numbers: the table's key, the receive path's
   * comparison, what the send path writes. */
  readonly remoteIp: number;
  readonly localIp: number;

  constructor(
    private readonly owner: EndpointOwner,
    readonly conn: Connection,
    readonly localAddr: string,
    readonly localPort: number,
    readonly remoteAddr: string,
    readonly remotePort: number,
  ) {
    this.remoteIp = ipToNumber(remoteAddr);
    this.localIp = ipToNumber(localAddr);
  }

  write(data: Buffer): boolean {
    const ok = this.conn.write(data, this.owner.now());
    this.owner.flush(this);
    return ok;
  }

  read(max?: number): Buffer[] {
    const data = this.conn.read(this.owner.now(), max);
    this.owner.flush(this);
    return data;
  }

  close(): void {
    this.conn.close(this.owner.now());
    this.owner.flush(this);
  }

  abort(): void {
    this.conn.abort(this.owner.now());
    this.owner.flush(this);
  }

  /** close(2): FIN after the queued data, or RST if received data is unread;
   * the handler gets no more events (Connection.orphan). */
  release(): void {
    this.handler = null;
    this.acceptBy = null;
    this.conn.orphan(this.owner.now());
    this.owner.orphaned(this);
    this.owner.flush(this);
  }

  setNoDelay(on: boolean): void {
    this.conn.setNoDelay(on, this.owner.now());
    this.owner.flush(this);
  }

  setKeepAlive(idleMs: number): void {
    this.conn.setKeepAlive(idleMs, this.owner.now());
    this.owner.flush(this);
  }
}

/**
 * The connection table, keyed by numbers: local port, then remote address and
 * port (remoteIp * 2^16 + remotePort, exact in a double). Our own address is
 * fixed per stack, so three parts suffice. A lookup builds no string: under a
 * flood every packet is looked up, and the template-string key of before
 * (`${addr}:${port}:${port}`, built and hashed per packet) was a tenth of the
 * CPU of a flood ACK. Iteration keeps insertion order (netstat, shutdown).
 */
export class EndpointTable {
  private readonly byLocalPort = new Map<number, Map<number, TcpEndpoint>>();
  private readonly all = new Set<TcpEndpoint>();

  get(remoteIp: number, remotePort: number, localPort: number): TcpEndpoint | undefined {
    return this.byLocalPort.get(localPort)?.get(remoteIp * 65536 + remotePort);
  }

  has(remoteIp: number, remotePort: number, localPort: number): boolean {
    return this.get(remoteIp, remotePort, localPort) !== undefined;
  }

  /** Whether any connection uses `localPort`. */
  usesPort(localPort: number): boolean {
    return this.byLocalPort.has(localPort);
  }

  /** Enter `ep`, replacing whatever held its 4-tuple. */
  add(ep: TcpEndpoint): void {
    let m = this.byLocalPort.get(ep.localPort);
    if (m === undefined) {
      m = new Map();
      this.byLocalPort.set(ep.localPort, m);
    }
    const key = ep.remoteIp * 65536 + ep.remotePort;
    const old = m.get(key);
    if (old !== undefined) this.all.delete(old);
    m.set(key, ep);
    this.all.add(ep);
  }

  /** Remove `ep` if it is the one holding its 4-tuple. */
  remove(ep: TcpEndpoint): void {
    const m = this.byLocalPort.get(ep.localPort);
    const key = ep.remoteIp * 65536 + ep.remotePort;
    if (m === undefined || m.get(key) !== ep) return;
    m.delete(key);
    if (m.size === 0) this.byLocalPort.delete(ep.localPort);
    this.all.delete(ep);
  }

  values(): IterableIterator<TcpEndpoint> {
    return this.all.values();
  }
}
