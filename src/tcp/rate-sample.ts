/**
 * Delivery rate estimation (draft-cheng-iccrg-delivery-rate-estimation,
 * Linux tcp_rate.c): on every ACK, how fast the network delivered data
 * over the latest flight, measured between the send and the delivery of
 * one segment. Each segment is stamped when it is sent with the
 * connection's delivery counters (§3.2 "Transmitting or retransmitting a
 * data packet"); when it is delivered (cumulatively ACKed or SACKed) the
 * stamp of the most recently sent delivered segment (the highest
 * sequence among those sent at once) gives the sample
 * (§3.3): delivered bytes since that send over the longer of the send and
 * the ACK intervals. Samples taken while the sender had too little data
 * to fill its window are flagged app-limited (§3.4): they show what the
 * application offered, not what the path could carry.
 *
 * The stamps live in RACK's per-segment records (rack.ts, the scoreboard of
 * SACK connections); congestion control that wants samples (BBR) gets one
 * per ACK from recovery.ts. Units: bytes and ms; rates in bytes per ms.
 */

/** What a segment remembers of the connection when it is (re)sent (the draft's P.* fields). */
export interface RateStamp {
  /** C.delivered at the send. */
  rsDelivered: number;
  /** C.delivered_time at the send. */
  rsDeliveredTime: number;
  /** C.first_send_time at the send. */
  rsFirstSendTime: number;
  /** C.app_limited was set at the send. */
  rsAppLimited: boolean;
  /** Bytes in flight just after the send (BBR's tx_in_flight). */
  rsTxInFlight: number;
  /** C.lost at the send. */
  rsLost: number;
}

/** One rate sample (the draft's rs.*), reused from ACK to ACK. */
export class RateSample {
  /** rs.delivery_rate: bytes per ms (0 when `valid` is false). */
  deliveryRate = 0;
  /** rs.interval in ms. */
  interval = 0;
  /** rs.delivered: bytes delivered over the interval. */
  delivered = 0;
  /** rs.prior_delivered: C.delivered when the sampled segment was sent. */
  priorDelivered = 0;
  /** rs.is_app_limited. */
  isAppLimited = false;
  /** Bytes ACKed or SACKed for the first time by this ACK. */
  newlyAcked = 0;
  /** Bytes newly marked lost since the last sample. */
  newlyLost = 0;
  /** rs.tx_in_flight: bytes in flight when the sampled segment was sent. */
  txInFlight = 0;
  /** rs.lost: bytes marked lost between that send and now. */
  lost = 0;
  /** RTT of the sampled segment in ms, -1 if it was retransmitted (Karn). */
  rtt = -1;
  /** Whether interval and rate hold a measurement (§3.3: not below min_rtt, delivered something). */
  valid = false;
  /** Whether this ACK delivered any stamped segment (the fields above come from one). */
  hasData = false;
  sendElapsed = 0;
  ackElapsed = 0;
  /** The sampled segment's send time (internal: picks the most recently sent). */
  sendTime = 0;
}

export class DeliveryRate {
  /** C.delivered: bytes delivered (ACKed or SACKed) over the connection's life. */
  delivered = 0;
  /** C.delivered_time: when `delivered` last grew. */
  deliveredTime = 0;
  /** C.first_send_time: send time of the segment that began the current sampling flight. */
  firstSendTime = 0;
  /** C.app_limited: 0, or the `delivered` count at which the app-limited period ends (§3.4). */
  appLimited = 0;
  /** C.lost: bytes marked lost over the connection's life (each marking counts). */
  lost = 0;
  /** The sample being built from this ACK's deliveries. */
  readonly rs = new RateSample();
  private deliveredAtLastSample = 0;
  private lostAtLastSample = 0;
  /** C.lost when the sampled segment was sent. */
  private priorLost = 0;
  /** The sample was generated: the next delivery starts a new one. */
  private taken = false;

  /**
   * §3.2: segment `p` is sent at `now`; `flightEmpty` when nothing was in
   * flight before it (the flight restarts: the send interval begins here),
   * `inFlight` the bytes in flight with it.
   */
  stamp(p: RateStamp, now: number, flightEmpty: boolean, inFlight: number): void {
    if (flightEmpty) {
      this.firstSendTime = now;
      this.deliveredTime = now;
    }
    p.rsDelivered = this.delivered;
    p.rsDeliveredTime = this.deliveredTime;
    p.rsFirstSendTime = this.firstSendTime;
    p.rsAppLimited = this.appLimited !== 0;
    p.rsTxInFlight = inFlight;
    p.rsLost = this.lost;
  }

  /**
   * §3.3 UpdateRateSample: `bytes` of segment `p`, last sent at `sendTime`,
   * are delivered at `now`. The most recently sent delivered segment
   * (the largest stamp) gives the sample.
   */
  onDelivered(p: RateStamp, bytes: number, sendTime: number, retransmitted: boolean, now: number): void {
    this.delivered += bytes;
    this.deliveredTime = now;
    const rs = this.rs;
    if (this.taken) {
      this.taken = false;
      rs.hasData = false;
    }
    if (rs.hasData && !(p.rsDelivered > rs.priorDelivered || (p.rsDelivered === rs.priorDelivered && sendTime >= rs.sendTime))) return;
    rs.hasData = true;
    rs.priorDelivered = p.rsDelivered;
    rs.isAppLimited = p.rsAppLimited;
    rs.txInFlight = p.rsTxInFlight;
    this.priorLost = p.rsLost;
    rs.sendElapsed = sendTime - p.rsFirstSendTime;
    rs.sendTime = sendTime;
    rs.ackElapsed = now - p.rsDeliveredTime;
    rs.rtt = retransmitted ? -1 : now - sendTime;
    // The next flight's send interval starts at this segment's send (§3.3: C.first_send_time = P.send_time).
    this.firstSendTime = sendTime;
  }

  /** `bytes` were newly marked lost (RACK, or a timeout). */
  onLost(bytes: number): void {
    this.lost += bytes;
  }

  /**
   * §3.3 GenerateRateSample, after all of one ACK's deliveries: the sample,
   * valid when the interval is at least `minRtt` (shorter ones are ACK
   * compression, §3.3 "may be too optimistic"). Resets for the next ACK.
   */
  generate(minRtt: number): RateSample {
    const rs = this.rs;
    if (this.taken) rs.hasData = false; // nothing delivered by this ACK
    this.taken = true;
    // §3.4: the app-limited period ends once its last segment is delivered.
    if (this.appLimited !== 0 && this.delivered > this.appLimited) this.appLimited = 0;
    rs.newlyAcked = this.delivered - this.deliveredAtLastSample;
    rs.newlyLost = this.lost - this.lostAtLastSample;
    this.deliveredAtLastSample = this.delivered;
    this.lostAtLastSample = this.lost;
    rs.valid = false;
    rs.deliveryRate = 0;
    rs.delivered = 0;
    rs.interval = 0;
    rs.lost = 0;
    if (!rs.hasData) return rs;
    rs.interval = Math.max(rs.sendElapsed, rs.ackElapsed);
    rs.delivered = this.delivered - rs.priorDelivered;
    rs.lost = this.lost - this.priorLost;
    if (rs.interval > 0 && rs.interval >= minRtt && rs.delivered > 0) {
      rs.valid = true;
      rs.deliveryRate = rs.delivered / rs.interval;
    }
    return rs;
  }

  /**
   * §3.4 CheckIfApplicationLimited: the sender has no data left to send
   * (and no loss to repair) while the window has room: samples until what is
   * in flight now is delivered are app-limited.
   */
  markAppLimited(inFlight: number): void {
    this.appLimited = Math.max(this.delivered + inFlight, 1);
  }
}
