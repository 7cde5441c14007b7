// ACK coalescing within a receive batch: exact segments out, in order.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AckCoalescer } from '../../../src/stack/ack-coalescer.js';
import type { OutSegment } from '../../../src/tcp/connection.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST } from '../../../src/wire/tcp.js';

const ack = (n: number, window = 1000): OutSegment => ({ seq: 1, ack: n, flags: TCP_ACK, window });
const sackAck = (n: number): OutSegment => ({ ...ack(n), options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks: [[n + 100, n + 200]] }] });

function rig(): { c: AckCoalescer<string>; sent: Array<[string, OutSegment]> } {
  const sent: Array<[string, OutSegment]> = [];
  return { c: new AckCoalescer<string>((k, s) => sent.push([k, s])), sent };
}

test('outside a batch every segment leaves at once', () => {
  const { c, sent } = rig();
  c.offer('a', ack(10));
  c.offer('a', ack(20));
  assert.equal(sent.map(([, s]) => s.ack), [10, 20]);
});

test('in a batch only the newest cumulative ACK per connection leaves, at the end', () => {
  const { c, sent } = rig();
  c.begin();
  c.offer('a', ack(10));
  c.offer('b', ack(5));
  c.offer('a', ack(20));
  c.offer('a', ack(30, 500));
  assert.equal(sent, []);
  c.end();
  assert.equal(sent, [['a', ack(30, 500)], ['b', ack(5)]]);
  assert.is(c.merged, 2);
});

test('a duplicate ACK or window update (same number) goes out in order with the held one', () => {
  const { c, sent } = rig();
  c.begin();
  c.offer('a', ack(10));
  c.offer('a', ack(10));
  c.offer('a', ack(10, 2000));
  c.end();
  assert.equal(sent.map(([, s]) => [s.ack, s.window]), [[10, 1000], [10, 1000], [10, 2000]]);
  assert.is(c.merged, 0);
});

test('SACK-bearing ACKs are never held; a held ACK goes before them', () => {
  const { c, sent } = rig();
  c.begin();
  c.offer('a', ack(10));
  c.offer('a', sackAck(10));
  c.offer('a', sackAck(10));
  c.end();
  assert.equal(sent.map(([, s]) => s), [ack(10), sackAck(10), sackAck(10)]);
});

test('data with an ACK as new makes the held ACK redundant; a RST does not', () => {
  const { c, sent } = rig();
  c.begin();
  c.offer('a', ack(10));
  const data: OutSegment = { seq: 1, ack: 10, flags: TCP_ACK | TCP_PSH, window: 1000, payload: Buffer.from('hi') };
  c.offer('a', data);
  c.offer('b', ack(7));
  const rst: OutSegment = { seq: 1, ack: 0, flags: TCP_RST, window: 0 };
  c.offer('b', rst);
  c.offer('c', ack(3));
  const fin: OutSegment = { seq: 1, ack: 3, flags: TCP_ACK | TCP_FIN, window: 1000 };
  c.offer('c', fin);
  c.end();
  assert.equal(sent, [['a', data], ['b', ack(7)], ['b', rst], ['c', fin]]);
  assert.is(c.merged, 2);
});

test('a held ACK of a connection gone by the end of the batch is not sent', () => {
  const { c, sent } = rig();
  c.begin();
  c.offer('a', ack(10));
  c.offer('b', ack(20));
  c.end((k) => k === 'a');
  assert.equal(sent, [['b', ack(20)]]);
});

test.run();
