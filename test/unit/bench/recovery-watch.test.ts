import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildTcpPacket } from '../../../src/wire/tcp.js';
import { SingleLossWatch } from '../../../scripts/bench/recovery.js';

// The sender's view of one flow to port 5001; sequence numbers cross the 2^32 wrap.
const ISS = 0xffff_f000;
const MSS = 1000;
const ACK = 0x10;

function data(i: number): Buffer {
  return buildTcpPacket({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 6 }, { srcPort: 40000, dstPort: 5001, seq: (ISS + 1 + i * MSS) >>> 0, ack: 1, flags: ACK, window: 1000 }, Buffer.alloc(MSS));
}

function ack(i: number): Buffer {
  return buildTcpPacket({ src: '10.0.0.2', dst: '10.0.0.1', protocol: 6 }, { srcPort: 5001, dstPort: 40000, seq: 1, ack: (ISS + 1 + i * MSS) >>> 0, flags: ACK, window: 1000 });
}

function rig(nth: number) {
  let now = 0;
  const w = new SingleLossWatch(5001, nth, () => now);
  return { w, at: (t: number) => (now = t) };
}

test('recovery runs from the send of the nth data segment to the first ACK past its end', () => {
  const { w, at } = rig(3);
  for (let i = 0; i < 6; i++) {
    at(i);
    w.observe('out', data(i)); // segments 0..5; the third (i = 2) is the lost one
  }
  at(20);
  w.observe('in', ack(2)); // up to the lost one: does not cover it
  at(31);
  w.observe('out', data(2)); // its retransmission
  at(40);
  w.observe('in', ack(2));
  at(52);
  w.observe('in', ack(6)); // covers it
  at(60);
  w.observe('in', ack(6));
  assert.equal(w.result(), { recoveryMs: 50, detectMs: 29, retransmits: 1 });
});

test('a drop that missed the nth segment is an error, not a number', () => {
  const { w, at } = rig(3);
  for (let i = 0; i < 4; i++) w.observe('out', data(i));
  at(30);
  w.observe('out', data(1)); // another segment was resent, not the third
  w.observe('in', ack(4));
  const r = w.result();
  assert.ok(Number.isNaN(r.recoveryMs));
  assert.match(r.error ?? '', /data segment 3 was not retransmitted/);
  assert.equal(r.retransmits, 1);
});

test('packets of other ports and pure ACKs out do not count', () => {
  const { w } = rig(2);
  const other = buildTcpPacket({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 6 }, { srcPort: 40000, dstPort: 5002, seq: 1, ack: 1, flags: ACK, window: 1000 }, Buffer.alloc(MSS));
  w.observe('out', other);
  w.observe('out', ack(0).subarray(0)); // 40 bytes, to port 40000: neither ours nor data
  w.observe('out', data(0));
  assert.match(w.result().error ?? '', /only 1 data segments seen/);
});

test.run();
