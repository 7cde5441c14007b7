/**
 * The fields of Linux's struct tcp_info (include/uapi/linux/tcp.h) that a
 * Connection can fill truthfully, in Linux's units: segments for windows,
 * microseconds for times (milliseconds for the last_* ages). A field not
 * listed is unknown here (a script that reads it is skipped, naming it).
 */
import type { Connection } from '../tcp/connection.js';
import { CHRONO_BUSY, CHRONO_RWND_LIMITED, CHRONO_SNDBUF_LIMITED } from '../tcp/chrono.js';
import { ourMss } from '../tcp/config.js';

/** Linux's "no threshold yet" ssthresh. */
const TCP_INFINITE_SSTHRESH = 0x7fffffff;

const CA_STATE = { open: 0, recovery: 3, loss: 4 } as const;

/** `now` in ms, for the fields that are ages. */
const FIELDS: Record<string, (c: Connection, now: number) => number | undefined> = {
  tcpi_snd_cwnd: (c) => Math.floor(c.cc.cwnd / c.effMss),
  tcpi_snd_ssthresh: (c) => (Number.isFinite(c.cc.ssthresh) && c.cc.ssthresh < TCP_INFINITE_SSTHRESH * c.effMss ? Math.floor(c.cc.ssthresh / c.effMss) : TCP_INFINITE_SSTHRESH),
  tcpi_snd_mss: (c) => c.effMss,
  tcpi_advmss: (c) => ourMss(c.cfg) - (c.ts.enabled ? 12 : 0),
  tcpi_rto: (c) => Math.round(c.rtt.rto * 1000),
  tcpi_rtt: (c) => Math.round(c.rtt.srtt * 1000),
  tcpi_rttvar: (c) => Math.round(c.rtt.rttvar * 1000),
  tcpi_backoff: (c) => c.rtt.backoff,
  tcpi_ca_state: (c) => CA_STATE[c.recovery.phase],
  tcpi_reordering: (c) => c.recovery.reordering,
  tcpi_unacked: (c) => Math.ceil(((c.sndNxt - c.sndUna) >>> 0) / c.effMss),
  tcpi_sacked: (c) => Math.ceil(c.recovery.scoreboard.sackedBytes / c.effMss),
  tcpi_snd_wscale: (c) => c.sndWscale,
  tcpi_rcv_wscale: (c) => c.rcvWscale,
  // The per-segment marks exist with RACK (rack.ts); without it tuntcp keeps no lost/retransmitted count.
  tcpi_lost: (c) => c.recovery.rack?.lostCount(),
  tcpi_retrans: (c) => c.recovery.rack?.retransCount(),
  tcpi_reord_seen: (c) => c.recovery.rack?.reordSeen,
  tcpi_probes: (c) => c.unansweredProbes,
  // Linux tcp_get_info_chrono_stats, in us: busy_time is all three together.
  tcpi_busy_time: (c, now) => Math.round(1000 * (c.chrono.time(CHRONO_BUSY, now) + c.chrono.time(CHRONO_RWND_LIMITED, now) + c.chrono.time(CHRONO_SNDBUF_LIMITED, now))),
  tcpi_rwnd_limited: (c, now) => Math.round(1000 * c.chrono.time(CHRONO_RWND_LIMITED, now)),
  tcpi_sndbuf_limited: (c, now) => Math.round(1000 * c.chrono.time(CHRONO_SNDBUF_LIMITED, now)),
  // Linux: now - icsk_ack.lrcvtime, in ms; lrcvtime is set when the connection is established, then by each in-order data segment.
  tcpi_last_data_recv: (c, now) => Math.round(now - (c.ackPolicy.lastDataTime ?? c.establishedAt)),
};

/** Undefined: tuntcp does not know this field (for this connection). */
export function tcpInfoField(c: Connection, name: string, now = 0): number | undefined {
  return FIELDS[name]?.(c, now);
}
