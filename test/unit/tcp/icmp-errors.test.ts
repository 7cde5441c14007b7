// ICMP errors at the connection (RFC 1122 §4.2.3.9, RFC 5927, RFC 6069,
// RFC 1191): the stack has decoded the message and matched its 4-tuple; the
// connection checks the quoted sequence number and acts as Linux tcp_v4_err.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Script, established, P, U, SMALL, synOpts } from './script.js';
import { ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, ICMP_PARAM_PROBLEM, ICMP_TIME_EXCEEDED } from '../../../src/wire/icmp.js';

const NET = { type: ICMP_DEST_UNREACH, code: 0, errno: 'ENETUNREACH' } as const;
const HOST = { type: ICMP_DEST_UNREACH, code: 1, errno: 'EHOSTUNREACH' } as const;
const PORT = { type: ICMP_DEST_UNREACH, code: 3, errno: 'ECONNREFUSED' } as const;
const FILTERED = { type: ICMP_DEST_UNREACH, code: 13, errno: 'EHOSTUNREACH' } as const;

function synSent(): Script {
  const t = new Script(SMALL);
  t.connect(0);
  // 0.000 > S 0:0(0) win 4000 <mss 1000>
  t.expect({ f: 'S', seq: U(0), win: 4000, opts: synOpts(1000, 0) });
  t.clearEvents();
  return t;
}

// ------------------------------------------------------------------ SYN_SENT

for (const [name, e] of [['net unreachable', NET], ['host unreachable', HOST], ['port unreachable', PORT], ['administratively prohibited', FILTERED]] as const) {
  test(`SYN_SENT + ${name} quoting our SYN: connect fails at once with ${e.errno} (Linux tcp_v4_err)`, () => {
    const t = synSent();
    assert.is(t.icmp(50, { ...e, seq: U(0) }), 'accepted');
    t.expect();
    t.transitions('SYN_SENT->CLOSED');
    t.events(`error ${e.errno}`, 'closed');
    assert.is(t.counters.get('icmp_tcp_connect_failed'), 1);
  });
}

test('SYN_SENT + time exceeded and parameter problem end connect too (EHOSTUNREACH, EPROTO)', () => {
  const t = synSent();
  t.icmp(50, { type: ICMP_TIME_EXCEEDED, code: 0, seq: U(0), errno: 'EHOSTUNREACH' });
  t.events('error EHOSTUNREACH', 'closed');
  const u = synSent();
  u.icmp(50, { type: ICMP_PARAM_PROBLEM, code: 0, seq: U(0), errno: 'EPROTO' });
  u.events('error EPROTO', 'closed');
});

test('RFC 5927 §4.1: SYN_SENT + an error quoting a sequence number we never sent is dropped and counted', () => {
  const t = synSent();
  for (const seq of [U(-1), U(2), U(1000), P(0)]) assert.is(t.icmp(50, { ...NET, seq }), 'dropped');
  t.expect();
  t.transitions();
  t.events();
  assert.is(t.counters.get('icmp_tcp_out_of_window'), 4);
  assert.is(t.state, 'SYN_SENT');
  // The SYN is retransmitted as before.
  t.timerAt(1000);
  t.expect({ f: 'S', seq: U(0), win: 4000, opts: synOpts(1000, 0) });
});

test('passive SYN_RECEIVED + host unreachable quoting our SYN,ACK: forgotten quietly (Linux tcp_req_err)', () => {
  const t = new Script(SMALL);
  t.acceptSyn(0, { f: 'S', seq: P(0), mss: 1000 });
  t.takeOut();
  t.clearEvents();
  assert.is(t.icmp(50, { ...HOST, seq: U(0) }), 'accepted');
  t.expect();
  t.transitions('SYN_RECEIVED->CLOSED');
  t.events('closed');
  // Port unreachable does not (tcp_req_err's abort list): the SYN,ACK is retransmitted as before.
  const u = new Script(SMALL);
  u.acceptSyn(0, { f: 'S', seq: P(0), mss: 1000 });
  u.takeOut();
  u.clearEvents();
  assert.is(u.icmp(50, { ...PORT, seq: U(0) }), 'accepted');
  u.transitions();
  assert.is(u.state, 'SYN_RECEIVED');
  assert.is(u.counters.get('icmp_tcp_syn_recv_ignored'), 1);
});

// --------------------------------------------------------------- ESTABLISHED

test('RFC 5927 §4.1: ESTABLISHED + errors quoting SND.UNA-1 or SND.NXT+1 are dropped; the connection does not change', () => {
  const t = established();
  t.write(200, 1000);
  // 0.200 > P. 1:1001(1000) ack 1 win 4000
  t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 1000 });
  for (const seq of [U(0), U(1002), U(0x80000000)]) assert.is(t.icmp(250, { ...PORT, seq }), 'dropped');
  assert.is(t.icmp(250, { type: ICMP_DEST_UNREACH, code: ICMP_FRAG_NEEDED, seq: U(1002), errno: 'EMSGSIZE', mtu: 576 }), 'dropped');
  assert.is(t.counters.get('icmp_tcp_out_of_window'), 4);
  assert.is(t.conn.softError, null);
  assert.is(t.conn.sndMss, 1000);
  // SND.UNA and SND.NXT themselves are inside (Linux between(), inclusive).
  assert.is(t.icmp(260, { ...PORT, seq: U(1) }), 'accepted');
  assert.is(t.icmp(260, { ...PORT, seq: U(1001) }), 'accepted');
  t.expect();
  t.transitions();
  t.events();
});

test('RFC 1122 §4.2.3.9: ESTABLISHED + port unreachable is a soft error: reported as the timeout\'s cause (Linux sk_err_soft)', () => {
  const t = established({ ...SMALL, retries: 2 });
  t.write(200, 1000);
  t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 1000 });
  assert.is(t.icmp(250, { ...PORT, seq: U(1) }), 'accepted');
  t.expect();
  t.transitions();
  t.events();
  assert.is(t.state, 'ESTABLISHED');
  assert.is(t.conn.softError, 'ECONNREFUSED');
  // RTO 300, 600, then give up with the soft error instead of ETIMEDOUT.
  t.timerAt(500);
  t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 1000 });
  t.timerAt(1100);
  t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 1000 });
  t.timerAt(2300);
  t.transitions('ESTABLISHED->CLOSED');
  t.events('error ECONNREFUSED', 'closed');
});

test('a soft error is forgotten once an ACK moves SND.UNA: a later timeout says ETIMEDOUT', () => {
  const t = established({ ...SMALL, retries: 1 });
  t.write(200, 1000);
  t.takeOut();
  t.icmp(250, { ...HOST, seq: U(1) });
  t.recv(300, { f: '.', seq: P(1), ack: U(1001) });
  assert.is(t.conn.softError, null);
  t.write(400, 1000);
  t.takeOut();
  t.timer(t.conn.nextDeadline());
  t.takeOut();
  t.timer(t.conn.nextDeadline());
  t.events('error ETIMEDOUT', 'closed');
});

test('RFC 6069: host unreachable for the retransmitted head undoes one backoff; at once when the shorter RTO has passed', () => {
  const t = established();
  t.write(200, 1000);
  t.takeOut();
  // RTO 300: retransmissions at 0.500 (then RTO 600) and 1.100 (then 1200, due at 2.300).
  t.timerAt(500);
  t.takeOut();
  t.timerAt(1100);
  t.takeOut();
  assert.is(t.conn.nextDeadline(), 2300);
  // 1.500 < ICMP host unreachable quoting 1: the timer goes back to 1.100 + 600.
  t.icmp(1500, { ...HOST, seq: U(1) });
  t.expect();
  assert.is(t.conn.nextDeadline(), 1700);
  assert.is(t.counters.get('icmp_tcp_rto_reverted'), 1);
  // 1.600 < another: 1.100 + 300 has passed: retransmit now.
  t.icmp(1600, { ...HOST, seq: U(1) });
  // 1.600 > P. 1:1001(1000) ack 1 win 4000
  t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 1000 });
  assert.is(t.conn.nextDeadline(), 2200);
  // Not for a segment other than the head, nor for port unreachable.
  t.icmp(1700, { ...HOST, seq: U(1001) });
  t.icmp(1700, { ...PORT, seq: U(1) });
  assert.is(t.conn.nextDeadline(), 2200);
  assert.is(t.counters.get('icmp_tcp_rto_reverted'), 2);
});

test('TIME_WAIT ignores ICMP errors', () => {
  const t = established();
  t.close(200);
  t.takeOut();
  t.recv(300, { f: 'F.', seq: P(1), ack: U(2) });
  t.takeOut();
  assert.is(t.state, 'TIME_WAIT');
  assert.is(t.icmp(400, { ...PORT, seq: U(2) }), 'dropped');
  assert.is(t.counters.get('icmp_tcp_no_connection'), 1);
});

// ------------------------------------------------------------------ path MTU

test('RFC 1191: fragmentation needed is passed up as a path MTU, in any state with a valid quote', () => {
  const t = synSent();
  assert.is(t.icmp(50, { type: ICMP_DEST_UNREACH, code: ICMP_FRAG_NEEDED, seq: U(0), errno: 'EMSGSIZE', mtu: 576 }), 'path-mtu');
  t.transitions();
  t.events();
});

test('a lower path MTU lowers SND.MSS and resends what is in flight at once at the new size, cwnd kept (Linux tcp_simple_retransmit)', () => {
  const t = established();
  t.write(200, 3000);
  // 0.200 > . 1:1001(1000), . 1001:2001(1000), P. 2001:3001(1000)
  t.expect(
    { f: '.', seq: U(1), ack: P(1), win: 4000, len: 1000 },
    { f: '.', seq: U(1001), ack: P(1), win: 4000, len: 1000 },
    { f: 'P.', seq: U(2001), ack: P(1), win: 4000, len: 1000 },
  );
  const cwnd = t.conn.cc.cwnd;
  t.pathMtu(250, 576);
  assert.is(t.conn.sndMss, 536);
  // 0.250 > 536-byte pieces of 1:3001, all at once.
  t.expect(
    { f: '.', seq: U(1), ack: P(1), win: 4000, len: 536 },
    { f: '.', seq: U(537), ack: P(1), win: 4000, len: 536 },
    { f: '.', seq: U(1073), ack: P(1), win: 4000, len: 536 },
    { f: '.', seq: U(1609), ack: P(1), win: 4000, len: 536 },
    { f: '.', seq: U(2145), ack: P(1), win: 4000, len: 536 },
    { f: 'P.', seq: U(2681), ack: P(1), win: 4000, len: 320 },
  );
  assert.is(t.conn.cc.cwnd, cwnd, 'no congestion response');
  assert.is(t.counters.get('tcp_pmtu_retransmits'), 1);
  // Acknowledged: new data goes out in 536-byte segments.
  t.recv(350, { f: '.', seq: P(1), ack: U(3001) });
  t.write(400, 1000);
  // (the 464-byte rest waits for the ACK: Nagle)
  t.expect({ f: '.', seq: U(3001), ack: P(1), win: 4000, len: 536 });
  // A higher path MTU (the estimate expired) gives the handshake's MSS back, no more.
  t.pathMtu(500, 1500);
  assert.is(t.conn.sndMss, 1000);
  t.expect();
});

test('a path MTU known before the handshake caps the MSS the handshake settles', () => {
  const t = new Script(SMALL);
  t.conn.pathMtu = 600;
  t.connect(0);
  // Our SYN still offers the link's MSS (Linux advertises from the device MTU).
  t.expect({ f: 'S', seq: U(0), win: 4000, opts: synOpts(1000, 0) });
  t.recv(100, { f: 'S.', seq: P(0), ack: U(1), mss: 1460 });
  t.takeOut();
  assert.is(t.conn.sndMss, 560);
});

test.run();
