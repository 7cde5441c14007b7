/**
 * Per-connection settings. Defaults follow Linux where RFCs leave room.
 */
import { DEFAULT_RTO, type RtoConfig } from './rtt.js';
import type { EcnMode } from './ecn.js';

export interface TcpConfig {
  /** MSS we advertise: link MTU - 40 (RFC 9293 §3.7.1). */
  mss: number;
  /** Receive buffer: bounds the advertised window and what we hold. */
  rcvBuf: number;
  /** Send buffer: write() returns false once this much is queued. */
  sndBuf: number;
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
  /** Offer timestamps in SYNs (RFC 7323 §3) and use them when the peer agrees. */
  timestamps: boolean;
  /** Congestion control algorithm (Linux's default is cubic). */
  cc: 'cubic' | 'newreno';
  /** Nagle's algorithm off (RFC 9293 §3.7.4). */
  noDelay: boolean;
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
   * Linux leaves off by default; on here, see plpmtud.ts). */
  mtuProbing: boolean;
  /** The connection runs over IPv6: 40 bytes of IP header instead of 20, so
   * MSS = MTU - 60 (RFC 8200 §8.3) and the path MTU is read that way. */
  ipv6: boolean;
}

export const DEFAULT_TCP_CONFIG: TcpConfig = {
  mss: 1460,
  rcvBuf: 256 * 1024,
  sndBuf: 256 * 1024,
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
  cc: 'cubic',
  noDelay: false,
  keepAliveIdle: 0,
  keepAliveInterval: 75_000,
  keepAliveCount: 9,
  userTimeout: 0,
  challengeAckLimit: 10,
  gsoMax: 0,
  ecn: 'passive',
  mtuProbing: true,
  ipv6: false,
};

/** The peer's MSS when it sends none (RFC 9293 §3.7.1). */
export const DEFAULT_PEER_MSS = 536;

/** Smallest window-scale shift that lets `bytes` be advertised (RFC 7323 §2.3: at most 14). */
export function windowShiftFor(bytes: number): number {
  let s = 0;
  while (s < 14 && bytes >> s > 65535) s++;
  return s;
}
