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
import { ip6ToBytes } from '../wire/ipv6.js';

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
  /** Which connections it takes (node:net's listen host): 0 both families
   * ('::' or no host, ipv6Only false), 4 IPv4 only ('0.0.0.0'), 6 IPv6 only;
   * `address`: only those to this local address (a specific host). */
  readonly family: 0 | 4 | 6;
  readonly address: string | null;
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
   * comparison, what the send path writes. -1 over IPv6 (never an IPv4 address). */
  readonly remoteIp: number;
  readonly localIp: number;
  /** Over IPv6: the addresses' 16 bytes (what the send path writes), else null.
   * remoteAddr is then the text ip6ToString gives, the table's key. */
  readonly v6: boolean;
  readonly remote6: Buffer | null;
  readonly local6: Buffer | null;
  /** IPv6 flow label of every packet of the connection (RFC 6437; set by the stack). */
  flowLabel = 0;

  constructor(
    private readonly owner: EndpointOwner,
    readonly conn: Connection,
    readonly localAddr: string,
    readonly localPort: number,
    readonly remoteAddr: string,
    readonly remotePort: number,
  ) {
    this.v6 = remoteAddr.includes(':');
    this.remoteIp = this.v6 ? -1 : ipToNumber(remoteAddr);
    this.localIp = this.v6 ? -1 : ipToNumber(localAddr);
    this.remote6 = this.v6 ? ip6ToBytes(remoteAddr) : null;
    this.local6 = this.v6 ? ip6ToBytes(localAddr) : null;
  }

  /** The path MTU cache's key for the peer (pmtu.ts). */
  get pathKey(): number | string {
    return this.v6 ? this.remoteAddr : this.remoteIp;
  }

  /** `more`: MSG_MORE, more data follows soon (Connection.write). */
  write(data: Buffer, more = false): boolean {
    const ok = this.conn.write(data, this.owner.now(), more);
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

  setCork(on: boolean): void {
    this.conn.setCork(on, this.owner.now());
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
 * CPU of a flood ACK. IPv6 connections have a table of their own, keyed by
 * the remote address's text and port, so IPv4 lookups stay as they were.
 * Iteration keeps insertion order (netstat, shutdown).
 */
export class EndpointTable {
  private readonly byLocalPort = new Map<number, Map<number, TcpEndpoint>>();
  /** IPv6: local port, then remote port, then the remote address's text
   * (the receive path keeps that string from packet to packet, so its hash
   * is computed once; no key string is built per packet). */
  private readonly byLocalPort6 = new Map<number, Map<number, Map<string, TcpEndpoint>>>();
  private readonly all = new Set<TcpEndpoint>();

  get(remoteIp: number, remotePort: number, localPort: number): TcpEndpoint | undefined {
    return this.byLocalPort.get(localPort)?.get(remoteIp * 65536 + remotePort);
  }

  /** The IPv6 connection from `remoteAddr` (ip6ToString's text). */
  get6(remoteAddr: string, remotePort: number, localPort: number): TcpEndpoint | undefined {
    return this.byLocalPort6.get(localPort)?.get(remotePort)?.get(remoteAddr);
  }

  has(remoteIp: number, remotePort: number, localPort: number): boolean {
    return this.get(remoteIp, remotePort, localPort) !== undefined;
  }

  /** Whether any IPv6 connection uses `localPort`. */
  usesPort6(localPort: number): boolean {
    return this.byLocalPort6.has(localPort);
  }

  /** Whether any connection uses `localPort`. */
  usesPort(localPort: number): boolean {
    return this.byLocalPort.has(localPort) || this.byLocalPort6.has(localPort);
  }

  /** Enter `ep`, replacing whatever held its 4-tuple. */
  add(ep: TcpEndpoint): void {
    if (!ep.v6) return this.enter(this.byLocalPort, ep.localPort, ep, ep.remoteIp * 65536 + ep.remotePort);
    let byPort = this.byLocalPort6.get(ep.localPort);
    if (byPort === undefined) {
      byPort = new Map();
      this.byLocalPort6.set(ep.localPort, byPort);
    }
    this.enter(byPort, ep.remotePort, ep, ep.remoteAddr);
  }

  private enter<K>(table: Map<number, Map<K, TcpEndpoint>>, port: number, ep: TcpEndpoint, key: K): void {
    let m = table.get(port);
    if (m === undefined) {
      m = new Map();
      table.set(port, m);
    }
    const old = m.get(key);
    if (old !== undefined) this.all.delete(old);
    m.set(key, ep);
    this.all.add(ep);
  }

  /** Remove `ep` if it is the one holding its 4-tuple. */
  remove(ep: TcpEndpoint): void {
    if (!ep.v6) return this.leave(this.byLocalPort, ep.localPort, ep, ep.remoteIp * 65536 + ep.remotePort);
    const byPort = this.byLocalPort6.get(ep.localPort);
    if (byPort === undefined) return;
    this.leave(byPort, ep.remotePort, ep, ep.remoteAddr);
    if (byPort.size === 0) this.byLocalPort6.delete(ep.localPort);
  }

  private leave<K>(table: Map<number, Map<K, TcpEndpoint>>, port: number, ep: TcpEndpoint, key: K): void {
    const m = table.get(port);
    if (m === undefined || m.get(key) !== ep) return;
    m.delete(key);
    if (m.size === 0) table.delete(port);
    this.all.delete(ep);
  }

  values(): IterableIterator<TcpEndpoint> {
    return this.all.values();
  }

  get size(): number {
    return this.all.size;
  }
}
