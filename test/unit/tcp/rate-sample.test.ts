// Delivery rate estimation (draft-cheng-iccrg-delivery-rate-estimation):
// samples from segments stamped at send and delivered by cumulative ACKs and
// SACKs, with the draft's definitions: delivered over the longer of the send
// and ACK intervals, the most recently sent delivered segment gives the
// sample, app-limited flagged until the app-limited flight is delivered.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rack, type SackedBlock } from '../../../src/tcp/rack.js';
import { DeliveryRate } from '../../../src/tcp/rate-sample.js';
import { P, U } from './script.js';
import { recv, expect, TS, PT, TV, open } from './options-script.js';

const MSS = 1000;

/** Segments of MSS bytes from `from` (relative sequence), sent at `at`. */
function send(r: Rack, at: number, from: number, n: number): void {
  for (let i = 0; i < n; i++) r.sent(from + i * MSS, MSS, MSS, at);
}

/** An ACK at `now` up to `ack`, SACK blocks [left, right) taken as the whole range. */
function ack(r: Rack, now: number, to: number, ...blocks: Array<[number, number]>): void {
  r.onAck(to, blocks.map(([a, b]): SackedBlock => [a, b, a, b]), now);
}

test('a flight of 10 segments ACKed over one RTT gives 10 MSS / RTT (§3.3)', () => {
  const rate = new DeliveryRate();
  const r = new Rack(rate);
  send(r, 0, 0, 10);
  ack(r, 100, 10 * MSS);
  const rs = rate.generate(r.minRtt);
  assert.ok(rs.valid);
  assert.is(rs.delivered, 10 * MSS);
  assert.is(rs.interval, 100);
  assert.is(rs.deliveryRate, (10 * MSS) / 100);
  assert.is(rs.newlyAcked, 10 * MSS);
  assert.is(rs.priorDelivered, 0);
  assert.is(rs.txInFlight, 10 * MSS, 'the sampled (last) segment left with the whole flight out');
  assert.is(rs.rtt, 100);
  assert.not.ok(rs.isAppLimited);
});

test('ACKed one by one: each sample spans from the flight start; the longer of send and ACK intervals counts (§3.3)', () => {
  const rate = new DeliveryRate();
  const r = new Rack(rate);
  for (let i = 0; i < 10; i++) send(r, i, i * MSS, 1); // paced: one per ms
  let rs = rate.generate(0);
  for (let i = 0; i < 10; i++) {
    ack(r, 100 + i, (i + 1) * MSS);
    rs = rate.generate(r.minRtt);
    // Segment i: sent at i (send_elapsed = i - 0), its flight's delivery clock started at 0 (ack_elapsed = 100 + i).
    assert.is(rs.delivered, (i + 1) * MSS);
    assert.is(rs.interval, 100 + i);
    assert.is(rs.newlyAcked, MSS);
  }
  assert.is(rs.deliveryRate, (10 * MSS) / 109);
  // The next flight, sent at 110 with nothing in flight: both clocks restart at its first send (§3.2).
  send(r, 110, 10 * MSS, 10);
  ack(r, 210, 20 * MSS);
  rs = rate.generate(r.minRtt);
  assert.is(rs.priorDelivered, 10 * MSS);
  assert.is(rs.delivered, 10 * MSS);
  assert.is(rs.interval, 100);
});

test('SACKed segments are delivered too; a later cumulative ACK does not count them again', () => {
  const rate = new DeliveryRate();
  const r = new Rack(rate);
  send(r, 0, 0, 4);
  ack(r, 100, 0, [1 * MSS, 3 * MSS]);
  let rs = rate.generate(r.minRtt);
  assert.is(rs.newlyAcked, 2 * MSS);
  assert.is(rs.delivered, 2 * MSS);
  ack(r, 120, 4 * MSS);
  rs = rate.generate(r.minRtt);
  assert.is(rs.newlyAcked, 2 * MSS, 'only the two not SACKed before');
  assert.is(rate.delivered, 4 * MSS);
});

test('an interval shorter than min_RTT (ACK compression) gives no rate (§3.3)', () => {
  const rate = new DeliveryRate();
  const r = new Rack(rate);
  send(r, 0, 0, 1);
  ack(r, 100, MSS);
  rate.generate(r.minRtt);
  send(r, 100, MSS, 2);
  // Both delivered 101 ms after... the second flight's sample spans 100 ms: fine; a squeezed one is not.
  ack(r, 150, 3 * MSS);
  const rs = rate.generate(100);
  assert.is(rs.interval, 50);
  assert.not.ok(rs.valid);
  assert.is(rs.deliveryRate, 0);
  assert.is(rs.newlyAcked, 2 * MSS, 'what was delivered still counts');
});

test('an ACK that delivers nothing gives no sample', () => {
  const rate = new DeliveryRate();
  const r = new Rack(rate);
  send(r, 0, 0, 2);
  ack(r, 100, MSS);
  assert.ok(rate.generate(0).hasData);
  ack(r, 110, MSS);
  const rs = rate.generate(0);
  assert.not.ok(rs.hasData);
  assert.not.ok(rs.valid);
  assert.is(rs.newlyAcked, 0);
});

test('app-limited (§3.4): segments sent while the sender ran out of data flag their samples until they are delivered', () => {
  const rate = new DeliveryRate();
  const r = new Rack(rate);
  send(r, 0, 0, 2);
  rate.markAppLimited(r.pipe()); // nothing more to send, cwnd has room
  assert.is(rate.appLimited, 2 * MSS);
  send(r, 50, 2 * MSS, 1);
  ack(r, 100, 2 * MSS);
  let rs = rate.generate(0);
  assert.not.ok(rs.isAppLimited, 'sent before the marking');
  assert.is(rate.appLimited, 2 * MSS, 'still: the app-limited flight is not delivered beyond its end');
  ack(r, 150, 3 * MSS);
  rs = rate.generate(0);
  assert.ok(rs.isAppLimited, 'sent while app-limited');
  assert.is(rate.appLimited, 0, 'ends once delivered passes it');
  send(r, 160, 3 * MSS, 1);
  ack(r, 260, 4 * MSS);
  assert.not.ok(rate.generate(0).isAppLimited);
});

test('losses: rs.lost counts what was marked lost since the sampled segment was sent; a retransmission gives no RTT (Karn)', () => {
  const rate = new DeliveryRate();
  const r = new Rack(rate);
  send(r, 0, 0, 4);
  ack(r, 100, 0, [MSS, 4 * MSS]);
  r.detectLoss(100, 0);
  let rs = rate.generate(r.minRtt);
  assert.is(rs.newlyLost, MSS);
  assert.is(rs.lost, MSS);
  assert.is(rs.txInFlight, 4 * MSS);
  r.retransmitted(0, MSS, 100);
  ack(r, 200, 4 * MSS);
  rs = rate.generate(r.minRtt);
  assert.is(rs.rtt, -1);
  assert.is(rs.newlyLost, 0);
  assert.is(rs.lost, 0, 'nothing lost since the retransmission');
  assert.is(rs.txInFlight, MSS, 'only the retransmission was in flight with it');
});

test('the sender marks app-limited when it runs out of data with room in cwnd', () => {
  const t = open();
  t.write(200, 3000);
  expect(
    t,
    { f: '.', seq: U(1), ack: P(1), win: 4000, len: 1000, opts: TS(TV(200), PT(100)) },
    { f: '.', seq: U(1001), ack: P(1), win: 4000, len: 1000, opts: TS(TV(200), PT(100)) },
    { f: 'P.', seq: U(2001), ack: P(1), win: 4000, len: 1000, opts: TS(TV(200), PT(100)) },
  );
  const rate = t.conn.recovery.rate;
  assert.is(rate.appLimited, 3000, 'until what is in flight now is delivered');
  recv(t, 300, { f: '.', seq: P(1), ack: U(3001), win: 65535, ts: [PT(300), TV(200)] });
  assert.is(rate.delivered, 3000);
  assert.ok(rate.rs.isAppLimited);
  assert.is(rate.rs.deliveryRate, 30);
});

test.run();
