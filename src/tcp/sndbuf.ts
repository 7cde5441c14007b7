/**
 * Send-buffer autotuning, Linux's tcp_sndbuf_expand: the send buffer
 * (sk_sndbuf) grows with cwnd so that the writer can keep a few windows
 * queued: two windows (three for BBR, which may grow cwnd even in
 * recovery: bbr_sndbuf_expand) of segments, each charged as the skb that
 * carries it (truesize of an MSS plus headers), up to tcp_wmem[2]. Without
 * it a fixed buffer caps a connection at about sndBuf per RTT, and a hole
 * waiting for its retransmission holds the buffer for another RTT on top.
 *
 * Linux grows it when the connection is established (tcp_init_buffer_space)
 * and when an ACK frees space while a writer waits for it (tcp_new_space),
 * unless cwnd is already full (tcp_should_expand_sndbuf) or the user set
 * SO_SNDBUF (SOCK_SNDBUF_LOCK: here, sndBufMax no larger than sndBuf).
 */

/** Linux TCP_INIT_CWND: the buffer holds at least this many segments per window. */
const INIT_CWND = 10;
/** MAX_TCP_HEADER and the aligned skb_shared_info (x86-64): what an skb's data area holds beside the payload. */
const SKB_HEADROOM = 320 + 320;
/** SKB_DATA_ALIGN(sizeof(struct sk_buff)). */
const SKB_STRUCT = 256;

/** The truesize Linux charges per MSS-sized skb: 4352 for an MSS of 1460. */
export function skbPerMss(mss: number): number {
  return 2 ** Math.ceil(Math.log2(mss + SKB_HEADROOM)) + SKB_STRUCT;
}

/**
 * tcp_sndbuf_expand: the buffer `cwndSegs` (and `reordering`) call for,
 * `factor` windows of skbs (2; 3 with BBR), never below `sndBuf` (it only
 * grows) nor above `max` (tcp_wmem[2]).
 */
export function expandedSndBuf(sndBuf: number, max: number, mss: number, cwndSegs: number, reordering: number, factor: number): number {
  const segs = Math.max(INIT_CWND, Math.ceil(cwndSegs), reordering + 1);
  const want = Math.min(factor * segs * skbPerMss(mss), max);
  return Math.max(sndBuf, want);
}
