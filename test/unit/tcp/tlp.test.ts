// Tail Loss Probe (RFC 8985 §7) over a link that offloads segmentation: the
// probe is one segment, the last MSS of the last super-segment, as Linux's
// tcp_send_loss_probe cuts its skb. Exact segments, packetdrill style.
//
// Setup (options-script.ts): SACK and timestamps both ways, MSS 1012 (1000
// bytes of data per segment), NewReno, RACK on; gsoMax 64000 lets a flight
// leave as one super-segment. The handshake gives SRTT 100, RTO 300.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { P, U, type OutSpec } from './script.js';
import { expect, TS, PT, CFG, TV, open } from './options-script.js';

function D(at: number, from: number, len: number, f = '.', ecr = PT(100)): OutSpec {
  return { f, seq: U(from), ack: P(1), win: 4000, len, opts: TS(TV(at), ecr) };
}

test('RFC 8985 §7.3: the probe resends the highest-sequence segment (3001:4001), not the whole super-segment it left in', () => {
  const t = open({ ...CFG, gsoMax: 64000, minTsoSegs: 44 }); // one super-segment, not cut by tcp_tso_autosize
  t.write(200, 4000);
  // 0.200 > P. 1:4001(4000)   (one super-segment of four segments)
  expect(t, D(200, 1, 4000, 'P.'));
  // PTO = 2*SRTT + 2 ms (several segments in flight): 0.402
  assert.is(t.conn.nextDeadline(), 402);
  t.timerAt(402);
  // 0.402 > P. 3001:4001(1000)
  expect(t, D(402, 3001, 1000, 'P.'));
  assert.is(t.counters.get('tcp_tlp_probes'), 1);
});

test('RFC 8985 §7.3: a last super-segment of 2500 bytes: the probe is its tail, 2001:2501 (500 bytes)', () => {
  const t = open({ ...CFG, gsoMax: 64000, minTsoSegs: 44 }); // one super-segment, not cut by tcp_tso_autosize
  t.write(200, 2500);
  expect(t, D(200, 1, 2500, 'P.'));
  t.timerAt(402);
  expect(t, D(402, 2001, 500, 'P.'));
});

test.run();
