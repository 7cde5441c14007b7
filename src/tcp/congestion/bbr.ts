/**
 * BBR congestion control, draft-ietf-ccwg-bbr ("BBRv3", Linux tcp_bbr.c of
 * v3). Instead of reacting to loss alone, BBR keeps a model of the path:
 * the bottleneck bandwidth (max_bw, a windowed maximum of delivery-rate
 * samples, rate-sample.ts) and the round-trip propagation delay (min_rtt, a
 * windowed minimum), and sends at max_bw (pacing) with about one BDP
 * (max_bw * min_rtt) in flight, so the bottleneck queue stays short and
 * random loss does not cut the rate. Loss and the short-term model
 * (inflight_hi, bw_lo, inflight_lo) bound it where the path is shared.
 *
 * States (§4.3): Startup (pacing gain 2.77, until the bandwidth stops
 * growing 25 % per round for 3 rounds, or loss is high), Drain (empty the
 * queue Startup built), ProbeBW (a cycle DOWN, CRUISE, REFILL, UP that
 * probes for more bandwidth every few seconds), ProbeRTT (cwnd drops to
 * half a BDP for 200 ms when min_rtt was not refreshed for 5 s).
 *
 * It hears every ACK through onRateSample, in recovery too, and sets cwnd
 * and its pacing rate itself (Linux's cong_control hook: PRR does not
 * apply). Units: bytes, ms, bytes per ms. Names are the draft's (BBR.*).
 *
 * Rate samples need per-segment records, which RACK keeps (SACK agreed, rack
 * on: the default with any modern peer). Without them no sample ever comes,
 * and NewReno's window rules stand in, so the connection is still safe.
 */
import { initialWindow, NO_OBSERVER, type CongestionControl, type CongestionObserver, type RateContext } from './congestion.js';
import type { RateSample } from '../rate-sample.js';
import { NewReno } from './newreno.js';

/** §5.1.1 (v3): Startup's pacing gain 4 ln 2 and cwnd gain. */
export const STARTUP_PACING_GAIN = 2.77;
export const STARTUP_CWND_GAIN = 2;
/** §5.3.1 Drain's pacing gain (v3: 0.35, empties Startup's queue in about one round). */
export const DRAIN_PACING_GAIN = 0.35;
export const DEFAULT_CWND_GAIN = 2;
/** §5.3.3: ProbeBW_UP's gains; DOWN's pacing gain. */
export const PROBE_UP_PACING_GAIN = 1.25;
export const PROBE_UP_CWND_GAIN = 2.25;
export const PROBE_DOWN_PACING_GAIN = 0.9;
/** §5.6.2: pace 1 % below the estimated bandwidth. */
export const PACING_MARGIN = 0.01;
/** §5.5.4: the full-bandwidth test: 25 % growth, 3 rounds. */
export const FULL_BW_GROWTH = 1.25;
export const FULL_BW_ROUNDS = 3;
/** §5.5.5 (v3): loss rate above which inflight is too high; loss events Startup tolerates per round. */
export const LOSS_THRESH = 0.02;
export const STARTUP_FULL_LOSS_COUNT = 6;
/** §5.5.10: multiplicative cut of the short-term model on loss, and headroom below inflight_hi. */
export const BETA = 0.7;
export const HEADROOM = 0.15;
/** §5.3.4 ProbeRTT: every 5 s, for 200 ms, at half a BDP; min_rtt is a 10 s window. */
export const PROBE_RTT_INTERVAL = 5000;
export const PROBE_RTT_DURATION = 200;
export const PROBE_RTT_CWND_GAIN = 0.5;
export const MIN_RTT_FILTER_LEN = 10_000;
/** §5.5.9 extra_acked: a 10-round window. */
export const EXTRA_ACKED_ROUNDS = 10;

export type BbrState = 'Startup' | 'Drain' | 'ProbeBW_DOWN' | 'ProbeBW_CRUISE' | 'ProbeBW_REFILL' | 'ProbeBW_UP' | 'ProbeRTT';
type AckPhase = 'init' | 'probeStarting' | 'probeFeedback' | 'probeStopping' | 'refilling';

/** Why the state changes (--explain notes; counters tcp_bbr_<state>). */
const WHY: Record<BbrState, string> = {
  Startup: 'BBR Startup: pacing at 2.77x the bandwidth estimate to find the bottleneck (draft-ietf-ccwg-bbr §5.3.1)',
  Drain: 'BBR Drain: the bandwidth stopped growing; drain the queue Startup built (draft-ietf-ccwg-bbr §5.3.2)',
  ProbeBW_DOWN: 'BBR ProbeBW_DOWN: pace below the bandwidth until the queue is gone (draft-ietf-ccwg-bbr §5.3.3.1)',
  ProbeBW_CRUISE: 'BBR ProbeBW_CRUISE: inflight is at or below one BDP; cruise at the estimated bandwidth (draft-ietf-ccwg-bbr §5.3.3.2)',
  ProbeBW_REFILL: 'BBR ProbeBW_REFILL: time to probe for more bandwidth; refill the pipe first (draft-ietf-ccwg-bbr §5.3.3.3)',
  ProbeBW_UP: 'BBR ProbeBW_UP: pacing 1.25x above the bandwidth to find more (draft-ietf-ccwg-bbr §5.3.3.4)',
  ProbeRTT: 'BBR ProbeRTT: min_rtt not refreshed for 5 s; cwnd down to half a BDP for 200 ms (draft-ietf-ccwg-bbr §5.3.4)',
};

export class Bbr implements CongestionControl {
  readonly name = 'bbr';
  readonly cwndInPackets = true;
  /** Linux bbr_sndbuf_expand: BBR may grow cwnd in recovery, so the buffer holds 3 windows. */
  readonly sndBufWindows = 3;
  cwnd: number;
  /** BBR has no ssthresh: Infinity (Linux: TCP_INFINITE_SSTHRESH), NewReno's while it stands in. */
  get ssthresh(): number {
    return this.sampled ? Infinity : this.fallback.ssthresh;
  }
  /** BBR.pacing_rate, bytes per ms (0: no estimate yet, nothing is paced). */
  pacingRate = 0;
  state: BbrState = 'Startup';
  pacingGain = STARTUP_PACING_GAIN;
  cwndGain = STARTUP_CWND_GAIN;
  private mss: number;

  // The model (§5.5).
  /** BBR.max_bw: the max filter over the last two ProbeBW cycles (v3's bw_hi[2]). */
  maxBw = 0;
  private bwHi: [number, number] = [0, 0];
  /** BBR.bw_lo, BBR.bw: the short-term bound and the bandwidth used. */
  bwLo = Infinity;
  bw = 0;
  /** BBR.min_rtt and when it was taken; probe_rtt_min_delay/stamp (§5.5.6). */
  minRtt = Infinity;
  private minRttStamp = 0;
  private probeRttMinDelay = Infinity;
  private probeRttMinStamp = 0;
  /** BBR.probe_rtt_expired: judged before this ACK's RTT refreshes the stamp. */
  private probeRttExpired = false;
  /** BBR.inflight_hi, BBR.inflight_lo (§5.5.10). */
  inflightHi = Infinity;
  inflightLo = Infinity;
  /** BBR.extra_acked filter (§5.5.9). */
  private extraAcked: [number, number] = [0, 0];
  private extraAckedIntervalStart = 0;
  private extraAckedDelivered = 0;
  private extraAckedSlotRound = 0;

  // Rounds (§5.5.1).
  roundCount = 0;
  private roundStart = false;
  private nextRoundDelivered = 0;

  // Startup's end (§5.5.4).
  fullBwReached = false;
  private fullBwNow = false;
  private fullBw = 0;
  private fullBwCount = 0;

  // Latest delivery signals and loss rounds (§5.5.10).
  private bwLatest = 0;
  private inflightLatest = 0;
  private lossRoundDelivered = 0;
  private lossRoundStart = false;
  private lossInRound = false;
  private lossEventsInRound = 0;

  // ProbeBW (§5.3.3).
  private ackPhase: AckPhase = 'init';
  private cycleStamp = 0;
  private bwProbeWait = 0;
  private roundsSinceBwProbe = 0;
  private bwProbeSamples = false;
  private bwProbeUpRounds = 0;
  private bwProbeUpAcks = 0;
  private bwProbeUpCnt = Infinity;

  // ProbeRTT (§5.3.4) and idle restart.
  private probeRttDoneStamp = 0;
  private probeRttRoundDone = false;
  private idleRestart = false;

  // Recovery (§5.6.4).
  private priorCwnd = 0;
  private packetConservation = false;
  /** Recovery began: a round starts at the next sample, and conservation lasts until it ends. */
  private recoveryRoundPending = false;
  private inRecovery = false;
  /** Deterministic jitter for the probe wait (sans-IO, replayable). */
  private seed: number;
  /** A rate sample came: the model rules; until then NewReno's rules do. */
  private sampled = false;
  private readonly fallback: NewReno;

  constructor(mss: number, private readonly observer: CongestionObserver = NO_OBSERVER, seed = 1) {
    this.mss = mss;
    this.cwnd = initialWindow(mss);
    this.seed = seed >>> 0 || 1;
    this.fallback = new NewReno(mss);
  }

  setMss(mss: number): void {
    this.mss = mss;
    this.fallback.setMss(mss);
    this.cwnd = Math.max(this.cwnd, initialWindow(mss));
  }

  /** Growth happens in onRateSample, on every ACK; NewReno's before any sample. */
  onAck(acked: number, cwndLimited: boolean): void {
    if (this.sampled) return;
    this.fallback.onAck(acked, cwndLimited);
    this.cwnd = this.fallback.cwnd;
  }

  // ---------------------------------------------------------------- per ACK (§5.2 BBRUpdateOnACK)

  onRateSample(rs: RateSample, c: RateContext): void {
    this.sampled = true;
    if (this.pacingRate === 0) this.initPacingRate(c.srtt);
    if (this.recoveryRoundPending) {
      this.recoveryRoundPending = false;
      this.startRound(c); // Linux bbr_set_cwnd_to_recover_or_restore: next_rtt_delivered = delivered
    }
    this.updateModelAndState(rs, c);
    this.setPacingRate(this.pacingGain);
    this.setCwnd(rs, c);
  }

  private updateModelAndState(rs: RateSample, c: RateContext): void {
    this.updateLatestDeliverySignals(rs, c);
    this.updateCongestionSignals(rs, c);
    this.updateAckAggregation(rs, c);
    this.checkFullBwReached(rs);
    this.checkStartupDone(rs, c);
    this.checkDrain(c);
    this.updateProbeBwCyclePhase(rs, c);
    this.updateMinRtt(rs, c.now);
    this.checkProbeRtt(rs, c);
    this.advanceLatestDeliverySignals(rs);
    this.bw = Math.min(this.maxBw, this.bwLo); // BBRBoundBWForModel
  }

  private setState(state: BbrState): void {
    if (this.state === state) return;
    this.state = state;
    this.observer.inc(`tcp_bbr_${state.toLowerCase()}`);
    this.observer.note(WHY[state]);
  }

  /** §5.5.1 BBRUpdateRound: a round ends when a segment sent after its start is delivered. */
  private updateRound(rs: RateSample, c: RateContext): void {
    this.roundStart = false;
    if (rs.hasData && rs.priorDelivered >= this.nextRoundDelivered) {
      this.nextRoundDelivered = c.rate.delivered;
      this.roundCount++;
      this.roundsSinceBwProbe++;
      this.roundStart = true;
      this.packetConservation = false; // one round of packet conservation after recovery began
    }
  }

  private startRound(c: RateContext): void {
    this.nextRoundDelivered = c.rate.delivered;
  }

  /** §5.5.2 BBRUpdateMaxBw: app-limited samples count only when they raise the estimate. */
  private updateMaxBw(rs: RateSample, c: RateContext): void {
    this.updateRound(rs, c);
    if (!rs.valid) return;
    if (rs.deliveryRate >= this.maxBw || !rs.isAppLimited) {
      this.bwHi[1] = Math.max(this.bwHi[1], rs.deliveryRate);
      this.maxBw = Math.max(this.bwHi[0], this.bwHi[1]);
    }
  }

  /** §5.5.2 BBRAdvanceMaxBwFilter: the window moves on by one ProbeBW cycle. */
  private advanceMaxBwFilter(): void {
    if (this.bwHi[1] === 0) return;
    this.bwHi[0] = this.bwHi[1];
    this.bwHi[1] = 0;
  }

  private updateLatestDeliverySignals(rs: RateSample, c: RateContext): void {
    this.lossRoundStart = false;
    // NoteLoss: the first loss of a round starts the loss round anew, so the
    // response reads a full round of delivery after it (Linux bbr_note_loss).
    if (rs.newlyLost > 0 && !this.lossInRound) this.lossRoundDelivered = c.rate.delivered;
    this.bwLatest = Math.max(this.bwLatest, rs.deliveryRate);
    this.inflightLatest = Math.max(this.inflightLatest, rs.delivered);
    if (rs.hasData && rs.priorDelivered >= this.lossRoundDelivered) {
      this.lossRoundDelivered = c.rate.delivered;
      this.lossRoundStart = true;
    }
  }

  private advanceLatestDeliverySignals(rs: RateSample): void {
    if (!this.lossRoundStart) return;
    this.bwLatest = rs.deliveryRate;
    this.inflightLatest = rs.delivered;
  }

  /** §5.5.10 BBRUpdateCongestionSignals: once per loss round, loss cuts the short-term model. */
  private updateCongestionSignals(rs: RateSample, c: RateContext): void {
    this.updateMaxBw(rs, c);
    if (rs.newlyLost > 0) {
      this.lossInRound = true;
      this.lossEventsInRound++;
    }
    if (!this.lossRoundStart) return;
    this.adaptLowerBoundsFromCongestion();
    this.lossInRound = false;
  }

  private isProbingBw(): boolean {
    return this.state === 'Startup' || this.state === 'ProbeBW_REFILL' || this.state === 'ProbeBW_UP';
  }

  private adaptLowerBoundsFromCongestion(): void {
    if (this.isProbingBw() || !this.lossInRound) return;
    // BBRInitLowerBounds, then BBRLossLowerBounds.
    if (this.bwLo === Infinity) this.bwLo = this.maxBw;
    if (this.inflightLo === Infinity) this.inflightLo = this.cwnd;
    this.bwLo = Math.max(this.bwLatest, BETA * this.bwLo);
    this.inflightLo = Math.max(this.inflightLatest, BETA * this.inflightLo);
  }

  private resetLowerBounds(): void {
    this.bwLo = Infinity;
    this.inflightLo = Infinity;
  }

  private resetCongestionSignals(): void {
    this.lossInRound = false;
    this.bwLatest = 0;
    this.inflightLatest = 0;
  }

  /** §5.5.9 BBRUpdateACKAggregation: how much more arrived than bw predicts, for cwnd headroom. */
  private updateAckAggregation(rs: RateSample, c: RateContext): void {
    const interval = c.now - this.extraAckedIntervalStart;
    let expected = this.bw * interval;
    if (this.extraAckedDelivered <= expected) {
      this.extraAckedDelivered = 0;
      this.extraAckedIntervalStart = c.now;
      expected = 0;
    }
    this.extraAckedDelivered += rs.newlyAcked;
    const extra = Math.min(this.extraAckedDelivered - expected, this.cwnd);
    // A two-slot windowed max, each slot half the window (Linux's extra_acked[2]).
    if (this.roundStart && this.roundCount - this.extraAckedSlotRound >= EXTRA_ACKED_ROUNDS / 2) {
      this.extraAckedSlotRound = this.roundCount;
      this.extraAcked[0] = this.extraAcked[1];
      this.extraAcked[1] = 0;
    }
    if (extra > this.extraAcked[1]) this.extraAcked[1] = extra;
  }

  private get extraAckedMax(): number {
    return Math.max(this.extraAcked[0], this.extraAcked[1]);
  }

  /** §5.5.4 BBRCheckFullBWReached: 3 rounds without 25 % growth. */
  private checkFullBwReached(rs: RateSample): void {
    if (this.fullBwNow || !this.roundStart || !rs.valid || rs.isAppLimited) return;
    if (rs.deliveryRate >= this.fullBw * FULL_BW_GROWTH) {
      this.resetFullBw();
      this.fullBw = rs.deliveryRate;
      return;
    }
    this.fullBwCount++;
    this.fullBwNow = this.fullBwCount >= FULL_BW_ROUNDS;
    if (this.fullBwNow) this.fullBwReached = true;
  }

  private resetFullBw(): void {
    this.fullBw = 0;
    this.fullBwCount = 0;
    this.fullBwNow = false;
  }

  /** §5.3.1.3 BBRCheckStartupDone, with v3's exit on high loss (BBRCheckStartupHighLoss). */
  private checkStartupDone(rs: RateSample, c: RateContext): void {
    if (this.state === 'Startup' && !this.fullBwReached && this.lossRoundStart) {
      if (this.lossEventsInRound >= STARTUP_FULL_LOSS_COUNT && this.isInflightTooHigh(rs)) {
        this.fullBwReached = true;
        this.observer.inc('tcp_bbr_startup_loss_exits');
        this.inflightHi = Math.max(this.bdpMultiple(this.maxBw, 1), this.inflightLatest);
      }
      this.lossEventsInRound = 0;
    } else if (this.lossRoundStart) {
      this.lossEventsInRound = 0;
    }
    if (this.state === 'Startup' && this.fullBwReached) this.enterDrain(c);
  }

  private enterStartup(): void {
    this.setState('Startup');
    this.pacingGain = STARTUP_PACING_GAIN;
    this.cwndGain = STARTUP_CWND_GAIN;
  }

  private enterDrain(c: RateContext): void {
    this.setState('Drain');
    this.pacingGain = DRAIN_PACING_GAIN;
    this.cwndGain = STARTUP_CWND_GAIN;
    this.checkDrain(c);
  }

  /** §5.3.2 BBRCheckDrain: the queue is gone once inflight is one BDP. */
  private checkDrain(c: RateContext): void {
    if (this.state === 'Drain' && c.inFlight <= this.inflight(this.maxBw, 1)) this.enterProbeBw(c);
  }

  // ---------------------------------------------------------------- ProbeBW (§5.3.3)

  private isInProbeBwState(): boolean {
    return this.state.startsWith('ProbeBW');
  }

  private enterProbeBw(c: RateContext): void {
    this.cwndGain = DEFAULT_CWND_GAIN;
    this.startProbeBwDown(c);
  }

  private startProbeBwDown(c: RateContext): void {
    this.resetCongestionSignals();
    this.bwProbeUpCnt = Infinity;
    // BBRPickProbeWait: 0 or 1 rounds, 2-3 s of wall-clock time.
    this.roundsSinceBwProbe = this.random() < 0.5 ? 0 : 1;
    this.bwProbeWait = 2000 + this.random() * 1000;
    this.cycleStamp = c.now;
    this.ackPhase = 'probeStopping';
    this.startRound(c);
    this.setState('ProbeBW_DOWN');
    this.pacingGain = PROBE_DOWN_PACING_GAIN;
    this.cwndGain = DEFAULT_CWND_GAIN;
  }

  private startProbeBwCruise(): void {
    this.setState('ProbeBW_CRUISE');
    this.pacingGain = 1;
    this.cwndGain = DEFAULT_CWND_GAIN;
  }

  private startProbeBwRefill(c: RateContext): void {
    this.resetLowerBounds();
    this.bwProbeUpRounds = 0;
    this.bwProbeUpAcks = 0;
    this.ackPhase = 'refilling';
    this.startRound(c);
    this.setState('ProbeBW_REFILL');
    this.pacingGain = 1;
    this.cwndGain = DEFAULT_CWND_GAIN;
  }

  private startProbeBwUp(rs: RateSample, c: RateContext): void {
    this.ackPhase = 'probeStarting';
    this.startRound(c);
    this.resetFullBw();
    this.fullBw = rs.deliveryRate;
    this.cycleStamp = c.now;
    this.setState('ProbeBW_UP');
    this.pacingGain = PROBE_UP_PACING_GAIN;
    this.cwndGain = PROBE_UP_CWND_GAIN;
    this.raiseInflightHiSlope();
  }

  /** §5.3.3.6 BBRUpdateProbeBWCyclePhase. */
  private updateProbeBwCyclePhase(rs: RateSample, c: RateContext): void {
    if (!this.fullBwReached) return;
    this.adaptUpperBounds(rs, c);
    if (!this.isInProbeBwState()) return;
    switch (this.state) {
      case 'ProbeBW_DOWN':
        if (this.checkTimeToProbeBw(c)) return;
        if (this.checkTimeToCruise(c)) this.startProbeBwCruise();
        return;
      case 'ProbeBW_CRUISE':
        this.checkTimeToProbeBw(c);
        return;
      case 'ProbeBW_REFILL':
        // After one round of refilling, start to probe.
        if (this.roundStart) {
          this.bwProbeSamples = true;
          this.startProbeBwUp(rs, c);
        }
        return;
      case 'ProbeBW_UP':
        if (this.checkTimeToGoDown(rs, c)) this.startProbeBwDown(c);
        return;
    }
  }

  /** Wall-clock wait over, or as many rounds as Reno would need to grow by one BDP (§5.3.3.5). */
  private checkTimeToProbeBw(c: RateContext): boolean {
    const renoRounds = Math.min(Math.floor(this.targetInflight() / this.mss), 63);
    if (c.now - this.cycleStamp > this.bwProbeWait || this.roundsSinceBwProbe >= renoRounds) {
      this.startProbeBwRefill(c);
      return true;
    }
    return false;
  }

  private checkTimeToCruise(c: RateContext): boolean {
    if (c.inFlight > this.inflightWithHeadroom()) return false;
    return c.inFlight <= this.inflight(this.maxBw, 1);
  }

  /** UP ends when the bandwidth stopped growing (v3) or inflight reached inflight_hi. */
  private checkTimeToGoDown(rs: RateSample, c: RateContext): boolean {
    if (c.cwndLimited && this.cwnd >= this.inflightHi) {
      this.resetFullBw();
      this.fullBw = rs.deliveryRate;
    } else if (this.fullBwNow) {
      return true;
    }
    return false;
  }

  /** §5.5.10 BBRAdaptUpperBounds: inflight_hi after loss, and its growth while probing. */
  private adaptUpperBounds(rs: RateSample, c: RateContext): void {
    if (this.ackPhase === 'probeStarting' && this.roundStart) this.ackPhase = 'probeFeedback';
    if (this.ackPhase === 'probeStopping' && this.roundStart) {
      // Once per cycle: left in probeStopping, every round would age max_bw
      // out and it would follow the latest round (draft AdaptLongTermModel).
      this.bwProbeSamples = false;
      this.ackPhase = 'init';
      if (this.isInProbeBwState() && !rs.isAppLimited) this.advanceMaxBwFilter();
    }
    if (this.checkInflightTooHigh(rs, c)) return;
    if (this.inflightHi === Infinity) return;
    if (rs.txInFlight > this.inflightHi) this.inflightHi = rs.txInFlight;
    if (this.state === 'ProbeBW_UP') this.probeInflightHiUpward(rs, c);
  }

  private checkInflightTooHigh(rs: RateSample, c: RateContext): boolean {
    if (!this.isInflightTooHigh(rs)) return false;
    if (this.bwProbeSamples) this.handleInflightTooHigh(rs, c);
    return true;
  }

  /** §5.5.10 IsInflightTooHigh: the flight lost more than LOSS_THRESH of what was in it. */
  private isInflightTooHigh(rs: RateSample): boolean {
    return rs.hasData && rs.lost > rs.txInFlight * LOSS_THRESH;
  }

  private handleInflightTooHigh(rs: RateSample, c: RateContext): void {
    this.bwProbeSamples = false;
    if (!rs.isAppLimited) {
      this.inflightHi = Math.max(rs.txInFlight, this.targetInflight() * BETA);
      this.observer.inc('tcp_bbr_inflight_hi_cuts');
    }
    if (this.state === 'ProbeBW_UP') this.startProbeBwDown(c);
  }

  private probeInflightHiUpward(rs: RateSample, c: RateContext): void {
    if (!c.cwndLimited || this.cwnd < this.inflightHi) return;
    this.bwProbeUpAcks += rs.newlyAcked;
    if (this.bwProbeUpAcks >= this.bwProbeUpCnt) {
      const delta = Math.floor(this.bwProbeUpAcks / this.bwProbeUpCnt);
      this.bwProbeUpAcks -= delta * this.bwProbeUpCnt;
      this.inflightHi += delta * this.mss;
    }
    if (this.roundStart) this.raiseInflightHiSlope();
  }

  /** Grow inflight_hi by 1, 2, 4, ... segments per round (bytes ACKed per segment of growth). */
  private raiseInflightHiSlope(): void {
    const growthThisRound = 2 ** this.bwProbeUpRounds;
    this.bwProbeUpRounds = Math.min(this.bwProbeUpRounds + 1, 30);
    this.bwProbeUpCnt = Math.max(this.cwnd / growthThisRound, this.mss);
  }

  // ---------------------------------------------------------------- min_rtt and ProbeRTT (§5.3.4, §5.5.6)

  private updateMinRtt(rs: RateSample, now: number): void {
    // Stamps start with the first sample (the draft's initialization at Now()).
    this.probeRttExpired = this.probeRttMinDelay !== Infinity && now > this.probeRttMinStamp + PROBE_RTT_INTERVAL;
    if (rs.rtt >= 0 && (rs.rtt < this.probeRttMinDelay || this.probeRttExpired)) {
      this.probeRttMinDelay = rs.rtt;
      this.probeRttMinStamp = now;
    }
    const minRttExpired = now > this.minRttStamp + MIN_RTT_FILTER_LEN;
    if (this.probeRttMinDelay < this.minRtt || minRttExpired) {
      this.minRtt = this.probeRttMinDelay;
      this.minRttStamp = this.probeRttMinStamp;
    }
  }

  private checkProbeRtt(rs: RateSample, c: RateContext): void {
    if (this.state !== 'ProbeRTT' && this.probeRttExpired && !this.idleRestart && this.minRtt !== Infinity) {
      this.setState('ProbeRTT');
      this.pacingGain = 1;
      this.cwndGain = PROBE_RTT_CWND_GAIN;
      this.saveCwnd();
      this.probeRttDoneStamp = 0;
      this.ackPhase = 'probeStopping';
      this.startRound(c);
    }
    if (this.state === 'ProbeRTT') this.handleProbeRtt(c);
    if (rs.delivered > 0) this.idleRestart = false;
  }

  private handleProbeRtt(c: RateContext): void {
    c.rate.markAppLimited(c.inFlight); // ProbeRTT's low rate says nothing of the path
    if (this.probeRttDoneStamp === 0 && c.inFlight <= this.probeRttCwnd()) {
      this.probeRttDoneStamp = c.now + PROBE_RTT_DURATION;
      this.probeRttRoundDone = false;
      this.startRound(c);
    } else if (this.probeRttDoneStamp !== 0) {
      if (this.roundStart) this.probeRttRoundDone = true;
      if (this.probeRttRoundDone) this.checkProbeRttDone(c);
    }
  }

  private checkProbeRttDone(c: RateContext): void {
    if (this.probeRttDoneStamp === 0 || c.now <= this.probeRttDoneStamp) return;
    this.probeRttMinStamp = c.now;
    this.restoreCwnd();
    // BBRExitProbeRTT
    this.resetLowerBounds();
    if (this.fullBwReached) {
      this.startProbeBwDown(c);
      this.startProbeBwCruise();
    } else {
      this.enterStartup();
    }
  }

  private probeRttCwnd(): number {
    return Math.max(this.bdpMultiple(this.bw, PROBE_RTT_CWND_GAIN), this.minPipeCwnd);
  }

  // ---------------------------------------------------------------- output: pacing rate and cwnd (§5.6)

  private get minPipeCwnd(): number {
    return 4 * this.mss;
  }

  private initPacingRate(srtt: number): void {
    const rtt = srtt > 0 && Number.isFinite(srtt) ? srtt : 1;
    this.pacingRate = (STARTUP_PACING_GAIN * this.cwnd) / rtt;
  }

  /** §5.6.2 BBRSetPacingRateWithGain: never lower before the pipe is full. */
  private setPacingRate(gain: number): void {
    const rate = gain * this.bw * (1 - PACING_MARGIN);
    if (rate > 0 && (this.fullBwReached || rate > this.pacingRate)) this.pacingRate = rate;
  }

  /** §5.6.3 send quantum: a millisecond of data, 2 segments to 64 KB. */
  private get sendQuantum(): number {
    return Math.min(Math.max(this.pacingRate * 1, 2 * this.mss), 64 * 1024);
  }

  private bdpMultiple(bw: number, gain: number): number {
    if (this.minRtt === Infinity) return initialWindow(this.mss);
    return gain * bw * this.minRtt;
  }

  /** BBRInflight: a BDP multiple plus the quantization budget (§5.6.4.2). */
  private inflight(bw: number, gain: number): number {
    let v = Math.max(this.bdpMultiple(bw, gain), 3 * this.sendQuantum, this.minPipeCwnd);
    if (this.state === 'ProbeBW_UP') v += 2 * this.mss;
    return v;
  }

  private targetInflight(): number {
    return Math.min(this.bdpMultiple(this.bw, 1), this.cwnd);
  }

  private inflightWithHeadroom(): number {
    if (this.inflightHi === Infinity) return Infinity;
    const headroom = Math.max(this.mss, HEADROOM * this.inflightHi);
    return Math.max(this.inflightHi - headroom, this.minPipeCwnd);
  }

  /** §5.6.4.4 BBRSetCwnd. */
  private setCwnd(rs: RateSample, c: RateContext): void {
    const maxInflight = this.inflight(this.bw, this.cwndGain) + this.extraAckedMax;
    // §5.6.4.4 BBRModulateCwndForRecovery.
    if (rs.newlyLost > 0) this.cwnd = Math.max(this.cwnd - rs.newlyLost, this.mss);
    if (this.packetConservation) {
      this.cwnd = Math.max(this.cwnd, c.inFlight + rs.newlyAcked);
    } else if (this.fullBwReached) {
      this.cwnd = Math.min(this.cwnd + rs.newlyAcked, maxInflight);
    } else if (this.cwnd < maxInflight || c.rate.delivered < initialWindow(this.mss)) {
      this.cwnd += rs.newlyAcked;
    }
    if (!this.packetConservation) this.cwnd = Math.max(this.cwnd, this.minPipeCwnd);
    if (this.state === 'ProbeRTT') this.cwnd = Math.min(this.cwnd, this.probeRttCwnd());
    // §5.6.4.7 BBRBoundCwndForModel.
    let cap = Infinity;
    if (this.isInProbeBwState() && this.state !== 'ProbeBW_CRUISE') cap = this.inflightHi;
    else if (this.state === 'ProbeRTT' || this.state === 'ProbeBW_CRUISE') cap = this.inflightWithHeadroom();
    cap = Math.max(Math.min(cap, this.inflightLo), this.minPipeCwnd);
    this.cwnd = Math.min(this.cwnd, cap);
  }

  private saveCwnd(): void {
    this.priorCwnd = this.inRecovery || this.state === 'ProbeRTT' ? Math.max(this.priorCwnd, this.cwnd) : this.cwnd;
  }

  private restoreCwnd(): void {
    this.cwnd = Math.max(this.cwnd, this.priorCwnd);
  }

  // ---------------------------------------------------------------- congestion events (§5.6.4.4)

  /** Fast recovery begins: packet conservation for one round (the ACKs then set cwnd). */
  onCongestionEvent(inFlight: number): void {
    if (!this.sampled) return this.standIn(() => this.fallback.onCongestionEvent(inFlight));
    this.saveCwnd();
    this.inRecovery = true;
    this.cwnd = Math.max(inFlight, this.mss);
    this.packetConservation = true;
    this.recoveryRoundPending = true;
  }

  onRecoveryExit(): void {
    if (!this.sampled) return this.standIn(() => this.fallback.onRecoveryExit());
    this.inRecovery = false;
    this.packetConservation = false;
    this.restoreCwnd();
  }

  /** §5.6.4.4: on a timeout cwnd keeps one segment beyond what is still in flight (Linux tcp_enter_loss). */
  onTimeout(inFlight: number): void {
    if (!this.sampled) return this.standIn(() => this.fallback.onTimeout(inFlight));
    this.saveCwnd();
    this.inRecovery = true;
    this.cwnd = this.mss;
    this.packetConservation = false;
    this.resetFullBw(); // Linux bbr_set_state(TCP_CA_Loss)
    this.observer.inc('tcp_bbr_timeouts');
  }

  /** §5.4.4 restart from idle: pace at the estimated bandwidth, no queue burst. */
  onIdleRestart(): void {
    if (!this.sampled) return this.standIn(() => this.fallback.onIdleRestart());
    this.idleRestart = true;
    this.extraAckedIntervalStart = 0;
    if (this.isInProbeBwState()) this.setPacingRate(1);
  }

  /** A reduction proved spurious (Linux bbr_undo_cwnd): the full-bandwidth count restarts. */
  undo(priorCwnd: number, priorSsthresh: number): void {
    if (!this.sampled) return this.standIn(() => this.fallback.undo(priorCwnd, priorSsthresh));
    this.resetFullBw();
    this.lossInRound = false;
    this.inRecovery = false;
    this.packetConservation = false;
    this.cwnd = Math.max(this.cwnd, priorCwnd, this.priorCwnd);
  }

  /** NewReno decides while no rate sample came. */
  private standIn(rule: () => void): void {
    rule();
    this.cwnd = this.fallback.cwnd;
  }

  /** xorshift32 in [0, 1). */
  private random(): number {
    let x = this.seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.seed = x >>> 0;
    return this.seed / 2 ** 32;
  }
}
