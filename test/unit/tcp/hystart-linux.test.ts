// Linux's hybrid slow start (hystart-linux.ts, tcp_cubic hystart_update), the
// default slow start exit of CUBIC here. Each ACK acknowledges one segment
// and carries an RTT sample; the sender refills its window at once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cubic } from '../../../src/tcp/congestion/cubic.js';
import { LOW_WINDOW, MIN_SAMPLES } from '../../../src/tcp/congestion/hystart-linux.js';
import type { CongestionObserver } from '../../../src/tcp/congestion/congestion.js';

const MSS = 1000;

class Recorder implements CongestionObserver {
  readonly counts = new Map<string, number>();
  inc(name: string): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
  }
  note(): void {}
}

/** A window-limited sender; ISS near 2^32 so rounds cross the wrap. `gap` ms between ACKs. */
class Flow {
  sndUna = 0xffff_f000;
  sndNxt: number;
  now = 0;
  constructor(readonly cc: Cubic, readonly gap: number) {
    this.sndNxt = (this.sndUna + cc.cwnd) >>> 0;
  }
  /** One ACK of one segment with RTT `rtt`. */
  ack(rtt: number): void {
    this.now += this.gap;
    this.sndUna = (this.sndUna + MSS) >>> 0;
    this.cc.onAck(MSS, true, this.now, rtt, { sndUna: this.sndUna, sndNxt: this.sndNxt });
    this.sndNxt = (this.sndUna + Math.floor(this.cc.cwnd / MSS) * MSS) >>> 0;
  }
  /** Every segment sent before this round ACKed with RTT `rtt`. */
  round(rtt: number): void {
    const end = this.sndNxt;
    while (this.sndUna !== end && this.cc.cwnd < this.cc.ssthresh) this.ack(rtt);
  }
}

test('delay: from the 9th sample of a round, a round minimum above min RTT + clamp(min/8, 4, 16) ends slow start: ssthresh = cwnd', () => {
  const rec = new Recorder();
  const cc = new Cubic(MSS, rec);
  const f = new Flow(cc, 10); // ACKs 10 ms apart: no ACK train
  f.round(100); // min RTT 100; cwnd 10 -> 20 segments
  assert.ok(cc.cwnd >= LOW_WINDOW * MSS);
  for (let i = 0; i < MIN_SAMPLES; i++) f.ack(113);
  assert.is(cc.ssthresh, Infinity, 'eight samples decide nothing');
  const cwnd = cc.cwnd;
  f.ack(113);
  assert.is(cc.ssthresh, cwnd, 'the ninth: 113 > 100 + 12.5');
  assert.ok(cc.cwnd < cwnd + MSS, 'this ACK goes to congestion avoidance');
  assert.is(rec.counts.get('tcp_hystart_delay_detect'), 1);
  assert.is(rec.counts.get('tcp_hystart_exits'), 1);
});

test('delay: a rise below the threshold (100 -> 112 ms, threshold 12.5) stays in slow start', () => {
  const cc = new Cubic(MSS);
  const f = new Flow(cc, 10);
  f.round(100);
  f.round(112);
  f.round(112);
  assert.is(cc.ssthresh, Infinity);
});

test('delay: a sample that is a new minimum RTT cannot end slow start (Linux b344579)', () => {
  const cc = new Cubic(MSS);
  const f = new Flow(cc, 10);
  f.round(100);
  for (let i = 0; i < MIN_SAMPLES; i++) f.ack(120);
  f.ack(90); // the round minimum is 90 = min RTT now
  assert.is(cc.ssthresh, Infinity);
});

test('ACK train: ACKs under 2 ms apart spanning more than half the min RTT end slow start', () => {
  const rec = new Recorder();
  const cc = new Cubic(MSS, rec);
  const f = new Flow(cc, 1); // ACKs 1 ms apart, RTT 20 ms: a train longer than (20 + 1) / 2 ms
  f.round(20);
  f.round(20);
  assert.ok(Number.isFinite(cc.ssthresh));
  assert.is(rec.counts.get('tcp_hystart_train_detect'), 1);
});

test('below 16 segments nothing is detected; hystart: false never exits', () => {
  const cc = new Cubic(MSS);
  const f = new Flow(cc, 10);
  for (let i = 0; i < 5; i++) f.ack(200); // cwnd 10..15, RTT doubled: no test below LOW_WINDOW
  assert.is(cc.ssthresh, Infinity);
  const off = new Cubic(MSS, undefined, false);
  const g = new Flow(off, 1);
  g.round(20);
  g.round(40);
  assert.is(off.ssthresh, Infinity);
});

test.run();
