/**
 * Per-connection settings. Defaults follow Linux where RFCs leave room.
 */
import { DEFAULT_RTO, type RtoConfig } from './rtt.js';
import type { EcnMode } from './ecn.js';

export interface TcpConfig {
  /** MSS we advertise: link MTU - 40 (RFC 9293 §3.7.1). */
  mss: number;
  /** Receive buffer in bytes of data, fixed (like SO_RCVBUF, which turns
   * Linux's autotuning off): bounds the advertised window and what we hold.
   * 0 (the default): chosen from tcpRmem and grown by autotuning (autotune.ts). */
  rcvBuf: number;
  /** Linux's net.ipv4.tcp_rmem (min, default, max), in Linux's buffer bytes,
   * of which half holds data (tcp_win_from_space at its initial 50 % ratio):
   * the initial receive buffer, the autotuning limit, and the window scale. */
  tcpRmem: readonly [number, number, number];
  /** Send buffer (Linux sk_sndbuf): write() returns false once the queue's
   * Linux-style accounting (wmem.ts: payload plus per-skb overhead) reaches it. */
  sndBuf: number;
  /** Linux net.ipv4.tcp_wmem[2]: the send buffer grows with cwnd up to this
   * (sndbuf.ts, tcp_sndbuf_expand); SO_SNDBUF sets it to sndBuf (no growth). */
  sndBufMax: number;
  /** Linux tcp_min_tso_segs: fewest segments in a sent skb (wmem.ts). */
  minTsoSegs: number;
  /** Maximum segment lifetime in ms; TIME_WAIT lasts 2*msl (Linux: 60 s in all). */
  msl: number;
  rto: RtoConfig;
  /** SYN retransmissions before ETIMEDOUT (Linux tcp_syn_retries = 6). */
  synRetries: number;
  /** SYN,ACK retransmissions of a passive open before it is dropped (Linux
   * tcp_synack_retries = 5: resent at 1, 3, 7, 15, 31 s, gone at 63 s). */
  synAckRetries: number;
  /** Data retransmissions before ETIMEDOUT (Linux tcp_retries2 = 15); also
   * unanswered zero-window probes. */
  retries: number;
  /** Retransmissions or unanswered probes of an orphan (the application
   * closed its socket) before it is given up (Linux tcp_orphan_retries: 8). */
  orphanRetries: number;
  /** How long an orphan waits in FIN_WAIT_2 for the peer's FIN (Linux tcp_fin_timeout: 60 s). */
  finTimeout: number;
  /** Delayed ACK timeout in ms (RFC 9293 §3.8.6.3: under 0.5 s; Linux: 40 ms min, 200 ms max). */
  delayedAck: number;
  /** Most quick ACKs (every data segment ACKed at once) at the start of a
   * connection and after a retransmission is seen (Linux TCP_MAX_QUICKACKS = 16); 0: none. */
  quickAcks: number;
  /** At most one duplicate ACK per this many ms for out-of-window or
   * PAWS-rejected segments without data (Linux tcp_invalid_ratelimit = 500). */
  invalidRateLimit: number;
  /** Offer window scaling in SYNs (RFC 7323 §2). */
  windowScaling: boolean;
  /** Offer SACK in SYNs (RFC 2018) and use it when the peer agrees. */
  sack: boolean;
  /** RACK-TLP loss detection (RFC 8985) when SACK is agreed (Linux tcp_recovery=1, the default);
   * off: RFC 6675 IsLost with DupThresh alone. */
  rack: boolean;
  /** F-RTO (RFC 5682, SACK-enhanced with RACK, basic without SACK; frto.ts) after a retransmission timeout
   * (Linux tcp_frto=2, the default; 0 turns it off). */
  frto: boolean;
  /** Tail loss probes (RFC 8985 §7; Linux tcp_early_retrans=3, the default; 0 turns them off). */
  tlp: boolean;
  /** Offer timestamps in SYNs (RFC 7323 §3) and use them when the peer agrees. */
  timestamps: boolean;
  /** Congestion control algorithm (Linux's default is cubic). */
  cc: 'cubic' | 'newreno' | 'bbr';
  /** CUBIC's slow start exit: true, Linux's hybrid slow start (tcp_cubic hystart=1, hystart-linux.ts); 'rfc9406', HyStart++; false, none. */
  hystart: boolean | 'rfc9406';
  /** Pace new data and retransmissions at 200 % (slow start) / 120 % of cwnd/SRTT
   * (pacing.ts; Linux with the fq qdisc). Off by default: Linux's default qdisc does not pace CUBIC. */
  pacing: boolean;
  /** Nagle's algorithm off (RFC 9293 §3.7.4). */
  noDelay: boolean;
  /** Linux TCP_CORK: a partial segment waits until it fills, the cork is
   * removed, TCP_NODELAY is set, or the probe timer (the RTO) sends it. */
  cork: boolean;
  /** Keepalive: idle ms before the first probe, 0 = off (Linux 7200 s when on). */
  keepAliveIdle: number;
  keepAliveInterval: number;
  keepAliveCount: number;
  /** Abort when sent data stays unacknowledged this long (RFC 5482 / TCP_USER_TIMEOUT), 0 = off. */
  userTimeout: number;
  /** RFC 5961 §7: at most this many challenge ACKs per second per connection. */
  challengeAckLimit: number;
  /** Largest payload of one new-data segment when the link offloads
   * segmentation (TSO/GSO): a multiple of the MSS is sent as one
   * super-segment. 0: one MSS per segment (no offload). */
  gsoMax: number;
  /** ECN (RFC 3168): 'on' asks in our SYNs and accepts (Linux tcp_ecn=1),
   * 'passive' only accepts a peer's ECN-setup SYN (tcp_ecn=2, Linux's default), 'off' neither. */
  ecn: EcnMode;
  /** RFC 4821 black-hole detection and probing (Linux tcp_mtu_probing=1, which
   * Linux leaves off by default; on here, see plpmtud.ts). 'always': probe up
   * from the start of every connection (tcp_mtu_probing=2). */
  mtuProbing: boolean | 'always';
  /** RFC 4821 search parameters (Linux tcp_base_mss, tcp_probe_threshold,
   * tcp_probe_interval in ms; plpmtud.ts). */
  mtuSearch: { baseMss: number; threshold: number; interval: number };
  /** Initial congestion window in segments (RFC 6928: 10; Linux's route initcwnd). */
  initCwnd: number;
  /** The route's MTU to the peer (Linux `ip route ... mtu M`): the path MTU is at most this; 0: none. */
  routeMtu: number;
  /** The route's advmss (Linux `ip route ... advmss N`): the MSS we announce is at most this; 0: none.
   * Unlike mss (TCP_MAXSEG) it leaves the MSS we send alone (ourMss). */
  advMss: number;
  /** IP_MTU_DISCOVER: true sets DF and follows the path MTU (Linux's
   * IP_PMTUDISC_WANT/DO for TCP); false is IP_PMTUDISC_DONT: DF clear and
   * "fragmentation needed" leaves this connection's MSS alone (tcp_v4_mtu_reduced). */
  pmtuDiscovery: boolean;
  /** IP_TOS: the TOS byte's upper six bits (DSCP); ECN's two are the connection's own. */
  tos: number;
  /** The connection runs over IPv6: 40 bytes of IP header instead of 20, so
   * MSS = MTU - 60 (RFC 8200 §8.3) and the path MTU is read that way. */
  ipv6: boolean;
}

export const DEFAULT_TCP_CONFIG: TcpConfig = {
  mss: 1460,
  rcvBuf: 0,
  tcpRmem: [4096, 131072, 6291456],
  sndBuf: 256 * 1024,
  sndBufMax: 4 * 1024 * 1024,
  minTsoSegs: 2,
  msl: 30_000,
  rto: DEFAULT_RTO,
  synRetries: 6,
  synAckRetries: 5,
  retries: 15,
  orphanRetries: 8,
  finTimeout: 60_000,
  delayedAck: 40,
  quickAcks: 16,
  invalidRateLimit: 500,
  windowScaling: true,
  sack: true,
  timestamps: true,
  rack: true,
  frto: true,
  tlp: true,
  cc: 'cubic',
  hystart: true,
  pacing: false,
  noDelay: false,
  cork: false,
  keepAliveIdle: 0,
  keepAliveInterval: 75_000,
  keepAliveCount: 9,
  userTimeout: 0,
  challengeAckLimit: 10,
  gsoMax: 0,
  ecn: 'passive',
  mtuProbing: true,
  mtuSearch: { baseMss: 1024, threshold: 8, interval: 600_000 },
  initCwnd: 10,
  routeMtu: 0,
  advMss: 0,
  pmtuDiscovery: true,
  tos: 0,
  ipv6: false,
};

/** The MSS we announce: mss, at most the route's advmss (Linux tcp_advertise_mss). */
export function ourMss(cfg: Pick<TcpConfig, 'mss' | 'advMss'>): number {
  return cfg.advMss > 0 ? Math.min(cfg.mss, cfg.advMss) : cfg.mss;
}

/** The peer's MSS when it sends none (RFC 9293 §3.7.1). */
export const DEFAULT_PEER_MSS = 536;

/** Smallest window-scale shift that lets `bytes` be advertised (RFC 7323 §2.3: at most 14). */
export function windowShiftFor(bytes: number): number {
  let s = 0;
  while (s < 14 && bytes >> s > 65535) s++;
  return s;
}

/** Linux's net.core.rmem_max default: also counts for the window scale (tcp_select_initial_window). */
export const LINUX_RMEM_MAX = 212992;

/** Bytes of data a Linux buffer of `space` bytes holds (tcp_win_from_space, scaling_ratio 50 %). */
export function winFromSpace(space: number): number {
  return Math.max(0, Math.floor(space / 2));
}

/** The receive buffer a connection starts with (Linux: tcp_rmem[1], or SO_RCVBUF). */
export function initialRcvBuf(cfg: Pick<TcpConfig, 'rcvBuf' | 'tcpRmem'>): number {
  return cfg.rcvBuf > 0 ? cfg.rcvBuf : winFromSpace(cfg.tcpRmem[1]);
}

/** How far autotuning may grow the receive buffer (a fixed rcvBuf does not grow). */
export function maxRcvBuf(cfg: Pick<TcpConfig, 'rcvBuf' | 'tcpRmem'>): number {
  return cfg.rcvBuf > 0 ? cfg.rcvBuf : Math.max(initialRcvBuf(cfg), winFromSpace(cfg.tcpRmem[2]));
}

/**
 * Our window scale, as Linux's tcp_select_initial_window: room for the
 * largest buffer the connection may reach, ilog2(max(space, tcp_rmem[2],
 * rmem_max)) - 15 (tcp_rmem 4096 131072 6291456: 7; a max of 32 MiB: 10);
 * with a fixed buffer (SO_RCVBUF: the clamp is the buffer), the smallest
 * shift that lets it be advertised.
 */
export function rcvWscaleFor(cfg: Pick<TcpConfig, 'rcvBuf' | 'tcpRmem'>): number {
  if (cfg.rcvBuf > 0) return windowShiftFor(cfg.rcvBuf);
  const space = Math.max(initialRcvBuf(cfg), cfg.tcpRmem[2], LINUX_RMEM_MAX);
  return Math.min(14, Math.max(0, Math.floor(Math.log2(space)) - 15));
}
