// BBR's state machine (draft-ietf-ccwg-bbr, v3), driven round by round
// with synthetic rate samples: Startup -> Drain after the bandwidth plateau,
// the ProbeBW cycle DOWN -> CRUISE -> REFILL -> UP -> DOWN, ProbeRTT once
// min_rtt was not refreshed for 5 s, and inflight_hi after loss.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Bbr, type BbrState } from '../../../src/tcp/congestion/bbr.js';
import { DeliveryRate } from '../../../src/tcp/rate-sample.js';
import type { RateContext } from '../../../src/tcp/congestion/congestion.js';

const MSS = 1000;

/** ACKs per round trip. */
const K = 10;

/**
 * A path and a BBR sender on it; one call of round() is one round trip of
 * K ACKs, each delivering 1/K of bw * rtt. The segment each ACK samples was
 * sent one round earlier (its prior_delivered), so the first ACK of a call
 * starts a round (§5.5.1).
 */
class Path {
  readonly rate = new DeliveryRate();
  readonly notes: string[] = [];
  readonly counts = new Map<string, number>();
  readonly bbr = new Bbr(MSS, {
    inc: (n) => this.counts.set(n, (this.counts.get(n) ?? 0) + 1),
    note: (c) => this.notes.push(c),
  });
  now = 0;
  /** C.delivered after the first ACK of the last round (BBR's next_round_delivered). */
  private mark = 0;

  /** A round of `rtt` ms delivering at `bw` bytes/ms with `inFlight` bytes out after it. */
  round(o: { bw: number; rtt?: number; inFlight?: number; lost?: number; txInFlight?: number; appLimited?: boolean; cwndLimited?: boolean; acks?: number }): BbrState {
    const rtt = o.rtt ?? 100;
    const chunk = (o.bw * rtt) / K;
    for (let j = 0; j < (o.acks ?? K); j++) {
      this.now += rtt / K;
      const rs = this.rate.rs;
      rs.hasData = true;
      rs.valid = true;
      rs.priorDelivered = j === 0 ? this.mark : this.mark - 1;
      this.rate.delivered += chunk;
      if (j === 0) this.mark = this.rate.delivered;
      rs.delivered = o.bw * rtt;
      rs.newlyAcked = chunk;
      rs.interval = rtt;
      rs.deliveryRate = o.bw;
      rs.rtt = rtt;
      rs.isAppLimited = o.appLimited ?? false;
      // The round's losses show on its first ACK.
      rs.newlyLost = j === 0 ? (o.lost ?? 0) : 0;
      rs.lost = j === 0 ? (o.lost ?? 0) : 0;
      rs.txInFlight = o.txInFlight ?? o.inFlight ?? this.bbr.cwnd;
      const c: RateContext = { now: this.now, inFlight: o.inFlight ?? this.bbr.cwnd, cwndLimited: o.cwndLimited ?? true, srtt: rtt, rate: this.rate };
      this.bbr.onRateSample(rs, c);
    }
    return this.bbr.state;
  }

  /** Startup on a 1000 bytes/ms (8 Mbit/s), 100 ms path up to the plateau, then Drain and into ProbeBW. */
  toProbeBw(): void {
    for (const bw of [100, 200, 400, 800, 1000]) this.round({ bw });
    this.round({ bw: 1000 });
    this.round({ bw: 1000 });
    this.round({ bw: 1000, inFlight: 250_000 });
    this.round({ bw: 1000, inFlight: 90_000 });
  }
}

test('Startup: pacing gain 2.77 while the bandwidth grows; 3 rounds without 25 % growth: Drain, then ProbeBW once inflight is one BDP', () => {
  const p = new Path();
  assert.is(p.bbr.state, 'Startup');
  for (const bw of [100, 200, 400, 800, 1000]) assert.is(p.round({ bw }), 'Startup');
  assert.is(p.bbr.maxBw, 1000);
  assert.is(p.bbr.pacingGain, 2.77);
  assert.ok(Math.abs(p.bbr.pacingRate - 2.77 * 1000 * 0.99) < 1e-6, `pacing rate ${p.bbr.pacingRate}`);
  assert.is(p.round({ bw: 1100 }), 'Startup', 'growth below 25 %: one round of three');
  assert.is(p.round({ bw: 1000 }), 'Startup');
  // The third round without growth: the pipe is full; inflight (250 kB) is above one BDP (100 kB): Drain.
  assert.is(p.round({ bw: 1000, inFlight: 250_000 }), 'Drain');
  assert.ok(p.bbr.fullBwReached);
  assert.is(p.bbr.pacingGain, 0.35);
  assert.is(p.bbr.minRtt, 100);
  // Drained to about one BDP: ProbeBW, and at once CRUISE (inflight is at most a BDP).
  assert.is(p.round({ bw: 1000, inFlight: 90_000 }), 'ProbeBW_CRUISE');
  assert.is(p.counts.get('tcp_bbr_drain'), 1);
  assert.is(p.counts.get('tcp_bbr_probebw_down'), 1);
  assert.is(p.counts.get('tcp_bbr_probebw_cruise'), 1);
  assert.match(p.notes[0]!, /^BBR Drain: .*\(draft-ietf-ccwg-bbr §5\.3\.2\)$/);
  // cwnd from the model: cwnd_gain 2 x BDP (plus the ACK aggregation allowance, here one ACK's worth), never more.
  assert.ok(p.bbr.cwnd <= 2.5 * 100_000, `cwnd ${p.bbr.cwnd}`);
  assert.ok(p.bbr.cwnd >= 100_000, `cwnd ${p.bbr.cwnd}`);
});

test('an app-limited sample does not lower the bandwidth estimate nor count toward the plateau', () => {
  const p = new Path();
  for (const bw of [100, 200, 400, 800, 1000]) p.round({ bw });
  for (let i = 0; i < 5; i++) assert.is(p.round({ bw: 10, appLimited: true }), 'Startup');
  assert.is(p.bbr.maxBw, 1000);
  assert.not.ok(p.bbr.fullBwReached);
});

test('ProbeBW: CRUISE until the probe wait (2-3 s) passed, REFILL for a round, UP at 1.25 until the bandwidth stops growing, then DOWN', () => {
  const p = new Path();
  p.toProbeBw();
  assert.is(p.bbr.state, 'ProbeBW_CRUISE');
  const states: BbrState[] = [];
  for (let i = 0; i < 40 && p.bbr.state !== 'ProbeBW_REFILL'; i++) states.push(p.round({ bw: 1000, inFlight: 90_000 }));
  assert.is(p.bbr.state, 'ProbeBW_REFILL');
  assert.ok(states.length >= 20 && states.length <= 31, `${states.length} rounds of 100 ms in CRUISE`);
  assert.is(p.bbr.pacingGain, 1);
  assert.is(p.round({ bw: 1000, inFlight: 100_000 }), 'ProbeBW_UP');
  assert.is(p.bbr.pacingGain, 1.25);
  assert.is(p.bbr.cwndGain, 2.25);
  // More bandwidth is there: UP goes on while it grows.
  assert.is(p.round({ bw: 1300, inFlight: 125_000 }), 'ProbeBW_UP');
  assert.is(p.bbr.maxBw, 1300);
  // Three rounds without 25 % more: DOWN, pacing below the estimate to drain the probe's queue.
  assert.is(p.round({ bw: 1300, inFlight: 160_000 }), 'ProbeBW_UP');
  assert.is(p.round({ bw: 1300, inFlight: 160_000 }), 'ProbeBW_UP');
  assert.is(p.round({ bw: 1300, inFlight: 160_000 }), 'ProbeBW_DOWN');
  assert.is(p.bbr.pacingGain, 0.9);
  assert.is(p.round({ bw: 1300, inFlight: 120_000 }), 'ProbeBW_CRUISE');
  assert.is(p.counts.get('tcp_bbr_probebw_refill'), 1);
  assert.is(p.counts.get('tcp_bbr_probebw_up'), 1);
  assert.is(p.counts.get('tcp_bbr_probebw_down'), 2);
});

test('ProbeRTT: min_rtt not refreshed for 5 s: cwnd down to half a BDP for 200 ms and a round, then back to ProbeBW with cwnd restored', () => {
  const p = new Path();
  p.toProbeBw(); // min_rtt 100 taken at 100 ms (the first sample)
  const before: BbrState[] = [];
  while (p.now < 5000) before.push(p.round({ bw: 1000, inFlight: 90_000 }));
  assert.not.ok(before.includes('ProbeRTT'), 'not before 5 s');
  const cwndBefore = p.bbr.cwnd;
  assert.is(p.round({ bw: 1000, inFlight: 90_000 }), 'ProbeRTT');
  assert.is(p.counts.get('tcp_bbr_probertt'), 1);
  assert.is(p.bbr.cwnd, 50_000, 'half a BDP');
  assert.ok(p.rate.appLimited > 0, 'samples in ProbeRTT are app-limited');
  // Inflight fell to the ProbeRTT cwnd: 200 ms from now, and at least a round.
  assert.is(p.round({ bw: 400, rtt: 90, inFlight: 40_000, appLimited: true }), 'ProbeRTT');
  assert.is(p.round({ bw: 400, rtt: 90, inFlight: 40_000, appLimited: true }), 'ProbeRTT');
  assert.is(p.round({ bw: 400, rtt: 90, inFlight: 40_000, appLimited: true }), 'ProbeBW_CRUISE');
  assert.is(p.bbr.minRtt, 90, 'the lower RTT seen in ProbeRTT');
  assert.ok(p.bbr.cwnd >= cwndBefore * 0.8, `cwnd restored: ${p.bbr.cwnd} vs ${cwndBefore}`);
  assert.is(p.bbr.maxBw, 1000, 'the app-limited samples did not lower max_bw');
});

test('inflight_hi after loss: in ProbeBW_UP a round losing more than 2 % of its flight sets inflight_hi and goes DOWN', () => {
  const p = new Path();
  p.toProbeBw();
  while (p.bbr.state !== 'ProbeBW_REFILL') p.round({ bw: 1000, inFlight: 90_000 });
  p.round({ bw: 1000, inFlight: 100_000 });
  assert.is(p.bbr.state, 'ProbeBW_UP');
  assert.is(p.bbr.inflightHi, Infinity);
  assert.is(p.round({ bw: 1000, inFlight: 125_000, txInFlight: 125_000, lost: 1000 }), 'ProbeBW_UP', '0.8 %: not too high');
  assert.is(p.round({ bw: 1000, inFlight: 125_000, txInFlight: 125_000, lost: 5000 }), 'ProbeBW_DOWN', '4 %: too high');
  // max(tx_in_flight, BETA * target inflight (one BDP))
  assert.is(p.bbr.inflightHi, 125_000);
  assert.is(p.counts.get('tcp_bbr_inflight_hi_cuts'), 1);
  assert.ok(p.bbr.cwnd <= 125_000, `cwnd ${p.bbr.cwnd} bounded by inflight_hi`);
  // Outside probing, loss cuts the short-term model once per round: bw_lo, inflight_lo by BETA.
  p.round({ bw: 1000, inFlight: 100_000, lost: 3000 });
  p.round({ bw: 900, inFlight: 100_000 });
  assert.ok(p.bbr.bwLo < Infinity && p.bbr.bw <= p.bbr.maxBw, `bw_lo ${p.bbr.bwLo}`);
  assert.ok(p.bbr.inflightLo < Infinity, `inflight_lo ${p.bbr.inflightLo}`);
});

test('Startup ends on high loss (v3): 6 loss events in a round losing more than 2 % of the flight', () => {
  const p = new Path();
  for (const bw of [100, 200, 400, 800]) p.round({ bw });
  // One round: six ACKs that each report a loss, the flight losing 10 %.
  p.round({ bw: 1000, acks: 1 });
  const rs = p.rate.rs;
  for (let i = 0; i < 6; i++) {
    p.now += 1;
    rs.priorDelivered = 1;
    p.rate.delivered += 1000;
    rs.deliveryRate = 1000;
    rs.delivered = rs.newlyAcked = 1000;
    rs.newlyLost = 1000;
    rs.lost = 10_000;
    rs.txInFlight = 100_000;
    p.bbr.onRateSample(rs, { now: p.now, inFlight: 300_000, cwndLimited: true, srtt: 100, rate: p.rate });
  }
  assert.is(p.bbr.state, 'Startup', 'judged at the end of the loss round');
  // The loss round began at the first loss (NoteLoss): one full round of recovery first.
  p.round({ bw: 1000, inFlight: 300_000, lost: 10_000, txInFlight: 100_000, acks: 1 });
  assert.is(p.bbr.state, 'Startup', 'the round that began before the first loss ends: not yet');
  p.round({ bw: 1000, inFlight: 300_000, lost: 10_000, txInFlight: 100_000, acks: 1 });
  assert.is(p.bbr.state, 'Drain');
  assert.is(p.counts.get('tcp_bbr_startup_loss_exits'), 1);
  assert.ok(p.bbr.inflightHi < Infinity);
});

test('fast recovery: packet conservation for a round, then the model; on exit cwnd comes back', () => {
  const p = new Path();
  p.toProbeBw();
  const cwnd = p.bbr.cwnd;
  p.bbr.onCongestionEvent(80_000);
  assert.is(p.bbr.cwnd, 80_000);
  // First ACKs of the round: cwnd = max(cwnd - lost, inflight + newly ACKed).
  p.round({ bw: 1000, inFlight: 85_000, lost: 2000, acks: 2 });
  assert.is(p.bbr.cwnd, 95_000);
  p.bbr.onRecoveryExit();
  assert.ok(p.bbr.cwnd >= cwnd, 'restored');
  assert.is(p.bbr.ssthresh, Infinity);
});


test('in a connection: BBR hears the ACKs of fast recovery (rate samples), owns cwnd there (no PRR) and paces from the handshake\'s RTT', async () => {
  const { open, recv, CFG, PT, TV } = await import('./options-script.js');
  const { P, U } = await import('./script.js');
  const t = open({ ...CFG, cc: 'bbr', sndBuf: 256 * 1024 });
  const bbr = t.conn.cc as Bbr;
  assert.is(bbr.name, 'bbr');
  // As Linux (bbr_init_pacing_rate_from_rtt): the handshake's RTT paces the first window at 2.77 * IW / SRTT.
  assert.ok(Math.abs(bbr.pacingRate - (2.77 * 10_000) / 100) < 1e-9, `pacing rate ${bbr.pacingRate}`);
  t.write(200, 20_000);
  let sent = t.takeOut().length;
  assert.is(sent, 1, 'the rest waits for its pacing time');
  while (sent < 10 && t.conn.nextDeadline() < 300) {
    t.timerAt(t.conn.nextDeadline());
    sent += t.takeOut().length;
  }
  assert.is(sent, 10, 'the initial window, paced out before the first ACK');
  // 0.300: the first segment is lost, the next four are SACKed: RACK starts recovery.
  recv(t, 300, { f: '.', seq: P(1), ack: U(1), win: 65535, ts: [PT(300), TV(200)], sack: [[U(1001), U(5001)]] });
  assert.is(t.conn.recovery.phase, 'recovery');
  assert.ok(bbr.pacingRate > 0, 'the first rate sample set the pacing rate');
  assert.is(t.conn.recovery.rate.delivered, 4000);
  const mss = 1000;
  assert.is(t.conn.recovery.window(mss), bbr.cwnd, 'BBR\'s cwnd, not PRR\'s window');
  // Packet conservation: cwnd covers what is in flight plus what this ACK delivered.
  assert.ok(bbr.cwnd >= t.conn.recovery.rack!.pipe(), `cwnd ${bbr.cwnd}`);
  const out = t.takeOut();
  assert.ok(out.length >= 1 && out[0]!.seq === U(1), 'the fast retransmit goes first');
  // 0.310: more SACKs in recovery: BBR hears them.
  recv(t, 310, { f: '.', seq: P(1), ack: U(1), win: 65535, ts: [PT(310), TV(200)], sack: [[U(1001), U(8001)]] });
  assert.is(t.conn.recovery.phase, 'recovery');
  assert.is(t.conn.recovery.rate.delivered, 7000);
  assert.is(t.conn.recovery.window(mss), bbr.cwnd);
  t.takeOut();
  // 0.400: the retransmission arrives: recovery ends, cwnd comes back.
  recv(t, 400, { f: '.', seq: P(1), ack: U(10001), win: 65535, ts: [PT(400), TV(300)] });
  assert.is(t.conn.recovery.phase, 'open');
  assert.ok(bbr.cwnd >= 10_000, `cwnd ${bbr.cwnd}`);
  assert.is(bbr.state, 'Startup');
});

test('in a connection: BBR counts cwnd in packets as Linux does (tcp_cwnd_test): 1-byte writes with TCP_NODELAY stop at cwnd/MSS segments in flight', async () => {
  const { open, recv, CFG, PT, TV } = await import('./options-script.js');
  const { P, U } = await import('./script.js');
  const t = open({ ...CFG, cc: 'bbr', noDelay: true, sndBuf: 256 * 1024 });
  const bbr = t.conn.cc as Bbr;
  const mss = 1000;
  assert.is(bbr.cwnd, 10 * mss);
  // 100 one-byte writes spread over 100 ms: each may go at once (no Nagle), pacing permitting.
  const sent: number[] = [];
  for (let i = 0; i < 100; i++) {
    const now = 200 + i;
    while (t.conn.nextDeadline() <= now) t.timerAt(t.conn.nextDeadline());
    t.write(now, 1);
    for (const o of t.takeOut()) sent.push(o.payload?.length ?? 0);
  }
  assert.is(sent.length, 10, `cwnd is 10 packets, not 10 000 one-byte segments: sent ${sent.length}`);
  assert.is(t.conn.recovery.rack!.pipePackets(), 10);
  // 0.300: the first two are acknowledged: room for two packets; what queued meanwhile fits in one.
  recv(t, 300, { f: '.', seq: P(1), ack: U(3), win: 65535, ts: [PT(300), TV(201)] });
  while (t.conn.nextDeadline() <= 310) t.timerAt(t.conn.nextDeadline());
  const more = t.takeOut();
  assert.is(more.length, 1, `one segment: ${more.length}`);
  assert.is(more.reduce((n, o) => n + (o.payload?.length ?? 0), 0), 90, 'the 90 bytes written meanwhile');
});


test('max_bw is a max over two ProbeBW cycles: rounds of CRUISE with a lower delivery rate do not age it out', () => {
  const p = new Path();
  p.toProbeBw();
  assert.is(p.bbr.state, 'ProbeBW_CRUISE');
  assert.is(p.bbr.maxBw, 1000);
  // Ten rounds delivering 70 % of the estimate, without loss: the filter's
  // window is cycles, not rounds, so the estimate holds (draft AdvanceMaxBwFilter
  // once per cycle, when the probe's samples end).
  for (let i = 0; i < 10; i++) assert.is(p.round({ bw: 700, inFlight: 70_000 }), 'ProbeBW_CRUISE');
  assert.is(p.bbr.maxBw, 1000);
  assert.ok(Math.abs(p.bbr.pacingRate - 1000 * 0.99) < 1e-6, `pacing rate ${p.bbr.pacingRate}`);
});

test('loss outside probing: the short-term model is cut a full round after the first loss (NoteLoss restarts the loss round), not at once', () => {
  const p = new Path();
  p.toProbeBw();
  assert.is(p.bbr.state, 'ProbeBW_CRUISE');
  p.round({ bw: 1000, inFlight: 90_000, lost: 1000 });
  assert.is(p.bbr.bwLo, Infinity, 'the loss round began at the loss: no response yet');
  assert.is(p.bbr.inflightLo, Infinity);
  p.round({ bw: 1000, inFlight: 90_000 });
  assert.is(p.bbr.bwLo, 1000, 'max(bw_latest, BETA * max_bw)');
  assert.ok(p.bbr.inflightLo < Infinity, `inflight_lo ${p.bbr.inflightLo}`);
});

test.run();
