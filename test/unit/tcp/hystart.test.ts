// HyStart++ (RFC 9406) in CUBIC's first slow start, with the RFC's numbers:
// RttThresh = max(4 ms, min(lastRoundMinRTT / 8, 16 ms)), N_RTT_SAMPLE = 8,
// CSS grows by a quarter, CSS_ROUNDS = 5. A sender fills its window every
// round; every segment is ACKed alone and each ACK carries an RTT sample.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cubic } from '../../../src/tcp/congestion/cubic.js';
import { CSS_ROUNDS } from '../../../src/tcp/congestion/hystart.js';
import type { CongestionObserver } from '../../../src/tcp/congestion/congestion.js';
import { explainCc } from '../../../src/trace/explain.js';

const MSS = 1000;

class Recorder implements CongestionObserver {
  readonly counts = new Map<string, number>();
  readonly notes: string[] = [];
  inc(name: string): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
  }
  note(cause: string): void {
    this.notes.push(cause);
  }
}

/** A window-limited sender: ISS near 2^32 so rounds cross the wrap. */
class Flow {
  sndUna = 0xffff_f000;
  sndNxt = this.sndUna;
  now = 0;
  constructor(readonly cc: Cubic) {
    this.sndNxt = (this.sndUna + cc.cwnd) >>> 0;
  }
  /** One round: every segment sent before it is ACKed, each with RTT `rtt`; returns cwnd after. */
  round(rtt: number): number {
    const end = this.sndNxt;
    while (this.sndUna !== end) {
      this.now += rtt / 10;
      this.sndUna = (this.sndUna + MSS) >>> 0;
      this.cc.onAck(MSS, true, this.now, rtt, { sndUna: this.sndUna, sndNxt: this.sndNxt });
      this.sndNxt = (this.sndUna + Math.floor(this.cc.cwnd / MSS) * MSS) >>> 0; // refill the window
    }
    return this.cc.cwnd / MSS;
  }
}

test('RFC 9406 §4.2: a round min RTT below last + RttThresh stays in slow start; at or above it, CSS; 5 CSS rounds, then avoidance', () => {
  const rec = new Recorder();
  const cc = new Cubic(MSS, rec, 'rfc9406');
  const f = new Flow(cc);
  assert.is(f.round(100), 20); // first round: no last round to compare
  assert.is(f.round(100), 40);
  // lastRoundMinRTT 100 ms: RttThresh = max(4, min(100/8, 16)) = 12.5 ms; 112 < 112.5.
  assert.is(f.round(112), 80);
  assert.is(cc.hystart!.phase, 'slow-start');
  // lastRoundMinRTT 112 ms: RttThresh = 14 ms; 126 >= 126 once 8 samples are in: CSS.
  // (A round starts with the first ACK beyond windowEnd, so it lags the sender's round by one ACK.)
  const cwnd = f.round(126);
  assert.is(cc.hystart!.phase, 'css');
  assert.is(rec.counts.get('tcp_hystart_delay_detect'), 1);
  // The ACKs up to the 8th sample of the round at full slow-start growth, the rest (over 70) at a quarter.
  assert.ok(cwnd > 80 + 80 / 4 && cwnd < 80 + 10 + 70 / 4, `CSS from the 8th sample on: ${cwnd}`);
  assert.match(rec.notes[0]!, /round min RTT 126 ms >= last round's 112 ms \+ 14 ms: conservative slow start/);
  assert.is(cc.ssthresh, Infinity);
  // The RTT stays up: each round in CSS grows cwnd by a quarter (not a doubling).
  let w = cwnd;
  for (let i = 0; i < CSS_ROUNDS - 1; i++) {
    const before = w;
    w = f.round(126);
    assert.ok(w / before > 1.24 && w / before < 1.26, `CSS round grows by a quarter: ${before} -> ${w}`);
    assert.is(cc.hystart!.phase, 'css');
  }
  // CSS_ROUNDS rounds of CSS done (the entering round counts): ssthresh = cwnd, congestion avoidance.
  const before = w;
  w = f.round(126);
  assert.is(cc.hystart!.phase, 'done');
  assert.is(cc.hystart!.cssRounds, CSS_ROUNDS);
  assert.is(rec.counts.get('tcp_hystart_exits'), 1);
  assert.ok(cc.ssthresh >= before * MSS && cc.ssthresh < w * MSS, `ssthresh = cwnd at the exit: ${cc.ssthresh}`);
  assert.ok(w / before < 1.05, 'congestion avoidance after the exit');
  assert.match(rec.notes.at(-1)!, /5 rounds of conservative slow start: ssthresh = cwnd/);
  // --explain prints the note with its rule in brackets, as state changes.
  assert.match(explainCc('tuntcp :40000', rec.notes[0]!), /^tuntcp :40000 congestion control: HyStart\+\+: round min RTT 126 ms .* cwnd \d+ \[RFC 9406 §4.2\]$/);
});

test('RFC 9406 §4.2: RttThresh is at least 4 ms and at most 16 ms', () => {
  // 20 ms path: 20/8 = 2.5 -> 4 ms; 23.9 stays in slow start, 24 enters CSS.
  for (const [base, below, at] of [[20, 23.9, 24], [400, 415.9, 416]] as const) {
    const cc = new Cubic(MSS, undefined, 'rfc9406');
    const f = new Flow(cc);
    f.round(base);
    f.round(base);
    f.round(below);
    assert.is(cc.hystart!.phase, 'slow-start', `${base} ms: ${below} ms is below the threshold`);
    const c2 = new Cubic(MSS, undefined, 'rfc9406');
    const g = new Flow(c2);
    g.round(base);
    g.round(base);
    g.round(at);
    assert.is(c2.hystart!.phase, 'css', `${base} ms: ${at} ms reaches the threshold`);
  }
});

test('RFC 9406 §4.2: a CSS round whose min RTT falls below the baseline was jitter: slow start resumes', () => {
  const rec = new Recorder();
  const cc = new Cubic(MSS, rec, 'rfc9406');
  const f = new Flow(cc);
  f.round(100);
  f.round(100);
  f.round(120);
  assert.is(cc.hystart!.phase, 'css');
  const before = cc.cwnd / MSS;
  const w = f.round(110); // below the 120 ms baseline after 8 samples
  assert.is(cc.hystart!.phase, 'slow-start');
  assert.is(rec.counts.get('tcp_hystart_css_spurious'), 1);
  assert.ok(w / before > 1.8, `most of the round grew at slow start's rate again: ${before} -> ${w}`);
});

test('RFC 9406 §4.2: fewer than N_RTT_SAMPLE samples in a round decide nothing; a loss ends HyStart++ for good', () => {
  const cc = new Cubic(MSS, undefined, 'rfc9406');
  let una = 0;
  let nxt = 10 * MSS;
  // 7 samples per round only (the others carry none), RTT doubling: no CSS.
  for (let r = 0; r < 3; r++) {
    const end = nxt;
    let i = 0;
    while (una < end) {
      una += MSS;
      cc.onAck(MSS, true, una, i++ < 7 ? 100 * 2 ** r : undefined, { sndUna: una, sndNxt: nxt });
      nxt = una + cc.cwnd;
    }
  }
  assert.is(cc.hystart!.phase, 'slow-start');
  cc.onCongestionEvent(cc.cwnd, 1000);
  assert.is(cc.hystart!.phase, 'done');
});

test.run();
