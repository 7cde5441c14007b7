/**
 * The interface between the sender and a congestion control algorithm
 * (RFC 5681 terms). The sender asks for `cwnd` before sending and reports
 * acknowledgements and losses; algorithms live one per file.
 */
export interface CongestionControl {
  readonly name: string;
  /** Congestion window in bytes. */
  readonly cwnd: number;
  /** Slow start threshold in bytes. */
  readonly ssthresh: number;
  /** New data acknowledged: `acked` bytes, `inFlight` before this ACK. */
  onAck(acked: number, inFlight: number, now: number): void;
  /** The retransmission timer expired (RFC 5681 §3.1, eq. 4). */
  onTimeout(inFlight: number, now: number): void;
  /** The sender learned its MSS (after the handshake). */
  setMss(mss: number): void;
}
