// The RTO estimator (rtt.ts): RFC 6298's SRTT and RTTVAR, with Linux's
// variance term (tcp_rtt_estimator) as the default and the RFC's formula
// kept as estimator 'rfc6298'. Samples in ms; sequence numbers as SND.UNA
// after the ACK and SND.NXT then.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_RTO, RttEstimator } from '../../../src/tcp/rtt.js';

const linux = (): RttEstimator => new RttEstimator(DEFAULT_RTO);
const rfc = (): RttEstimator => new RttEstimator({ ...DEFAULT_RTO, estimator: 'rfc6298' });

test('first sample: RTO = 3*RTT (SRTT + 4*RTT/2), both ways', () => {
  for (const r of [linux(), rfc()]) {
    r.sample(100, 1, 1);
    assert.is(r.srtt, 100);
    assert.is(r.rttvar, 50);
    assert.is(r.rto, 300);
  }
});

test('Linux: the 200 ms floor is on the variance term, not the RTO (RTT 10: RTO 210, RFC 200)', () => {
  const l = linux();
  l.sample(10, 1, 1);
  assert.is(l.rto, 210);
  const r = rfc();
  r.sample(10, 1, 1);
  assert.is(r.rto, 200);
});

test('a steady RTT: RFC 6298 lets the RTO fall to SRTT + 4*RTTVAR (250), Linux keeps SRTT + 200 (300)', () => {
  const l = linux();
  const r = rfc();
  for (const e of [l, r]) {
    e.sample(100, 1, 1);
    e.sample(100, 1001, 2001);
    assert.is(e.rttvar, 37.5);
  }
  assert.is(r.rto, 250);
  assert.is(l.rto, 300);
});

test('Linux: a sample below SRTT moves RTTVAR an eighth as much (a falling RTT is not variance)', () => {
  const l = linux();
  l.sample(100, 1, 1);
  l.sample(10, 1001, 2001);
  assert.is(l.srtt, 88.75);
  assert.is(l.rttvar, 50 + (90 - 50) / 8 / 4);
  const r = rfc();
  r.sample(100, 1, 1);
  r.sample(10, 1001, 2001);
  assert.is(r.rttvar, 60);
});

test('Linux: a spike raises the variance term at once; it decays a quarter of the way per RTT, not per sample', () => {
  const l = linux();
  l.sample(100, 1, 1);
  // RTT 300: RTTVAR 87.5, 4*RTTVAR = 350 becomes the variance term; RTO = 125 + 350.
  l.sample(300, 1001, 5001);
  assert.is(l.rto, 475);
  // Same RTT (SND.UNA 2001 has not passed 5001): RTTVAR falls, the term stays 350.
  l.sample(100, 2001, 5001);
  assert.is(l.srtt, 121.875);
  assert.is(l.rto, 121.875 + 350);
  // The next RTT: the term moves a quarter of the way to this RTT's largest 4*RTTVAR (287.5).
  l.sample(100, 6001, 9001);
  assert.is(l.rto, 119.140625 + 350 - (350 - 287.5) / 4);
});

test.run();
