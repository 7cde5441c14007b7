// The stack fuzzer (test/fuzz/) at CI size: a few fixed seeds, every check
// after every packet, and proof that its checks catch what they are for.
// The long runs are `npm run fuzz` (scripts/fuzz.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Connection } from '../../src/tcp/connection.js';
import { TCP_FIN, TCP_RST, TCP_URG, type TcpSegment } from '../../src/wire/tcp.js';
import { seqInWindow } from '../../src/wire/seq.js';
import { describeFailure, runEpoch, runFuzz, type FuzzResult } from '../fuzz/fuzzer.js';
import { ROLE_STATE } from '../fuzz/world.js';
import { rcvWnd } from '../fuzz/tcb-view.js';

const SEEDS = [1, 2, 3];
const PACKETS = 20_000;
const results: FuzzResult[] = [];

for (const seed of SEEDS) {
  test(`seed ${seed}: ${PACKETS} mutated packets, no failure`, () => {
    const r = runFuzz({ seed, packets: PACKETS });
    results.push(r);
    assert.is(r.failures.length, 0, r.failures.map(describeFailure).join('\n'));
    assert.is(r.packets, PACKETS);
  });
}

test('the runs covered what the fuzzer is for', () => {
  const sum = (f: (r: FuzzResult) => Record<string, number>, k: string): number => results.reduce((n, r) => n + (f(r)[k] ?? 0), 0);
  // Every flag combination went out (all 256, with URG, ECE, CWR, SYN+FIN, RST+SYN, ...).
  const missing = new Set(results[0]!.flagsMissing);
  for (const r of results) for (const f of [...missing]) if (!r.flagsMissing.includes(f)) missing.delete(f);
  assert.equal([...missing], []);
  // Every option kind, good and bad, and the window edges.
  for (const k of ['opt:mss', 'opt:mss-badlen', 'opt:wscale', 'opt:wscale-badlen', 'opt:sackok', 'opt:sack-0', 'opt:sack-4', 'opt:sack-5',
    'opt:sack-badlen', 'opt:ts', 'opt:ts-badlen', 'opt:eol', 'opt:nop-run', 'opt:unknown', 'opt:len-past-or-tiny', 'sack:reversed',
    'sack:huge', 'tsval:recent-1', 'tsval:recent+2^31', 'seq:rcv.nxt-1', 'seq:rcv.nxt+wnd', 'seq:wrap', 'ack:snd.nxt+1',
    'ack:una-maxwnd-1', 'mut:data-offset', 'trunc:ip', 'trunc:tcp-header', 'ip:fragment-mf', 'ip:ttl-0', 'ip:protocol',
    'icmp-err:frag-needed', 'icmp-err:port-unreach', 'icmp-err:seq-una', 'icmp-err:seq-nxt+1']) {
    assert.ok(sum((r) => r.seen, k) > 0, `never made ${k}`);
  }
  // IPv6: TCP to its connections and listeners, extension headers with unknown options of each
  // RFC 8200 §4.2 action class, fragment trains, ICMPv6 errors, length lies, martians.
  for (const k of ['target:conn6', 'target:listener6', 'target:closed-port6', 'ip6-ext:hbh', 'ip6-ext:hbh-not-first', 'ip6-ext:dstopts',
    'ip6-ext:long-chain', 'ip6-ext:bad-length', 'ip6-ext:atomic-fragment', 'ip6-ext:fragment-header', 'ip6-ext:routing-0-left',
    'ip6-ext:routing-4-left0', 'ip6-opt:unknown-skip', 'ip6-opt:unknown-discard', 'ip6-opt:unknown-icmp', 'ip6-opt:unknown-icmp-unless-mc',
    'ip6-opt:jumbo', 'ip6-opt:padn-long', 'ip6-frag:overlap', 'ip6-frag:reversed', 'ip6-frag:shuffled', 'ip6-frag:missing', 'ip6-frag:duplicate',
    'ip6-frag:tiny', 'ip6-frag:past-64k', 'icmp6-err:ptb', 'icmp6-err:unreach-0', 'icmp6-err:unreach-4', 'icmp6-err:param-header',
    'icmp6-err:param-option', 'icmp6-err:seq-una', 'icmp6-err:quote-cut', 'ip6-plen:zero', 'ip6-plen:long', 'ip6-plen:short', 'ip6-src:multicast',
    'ip6-src:loopback', 'ip6-src:v4-mapped', 'ip6-src:v4-mapped-syn', 'ip6-dst:all-nodes', 'ip6-dst:other-host', 'ip6:echo', 'mut6:data-offset']) {
    assert.ok(sum((r) => r.seen, k) > 0, `never made ${k}`);
  }
  for (const k of ['ip6_frag_reassembled', 'ip6_frag_overlap', 'ip6_frag_duplicate', 'ip6_frag_timeout', 'ip6_fragment_bad_length', 'ip6_unknown_option',
    'ip6_bad_option_length', 'ip6_bad_padding', 'ip6_rthdr_segments_left', 'ip6_rthdr_disabled', 'ip6_incomplete_chain', 'ip6_martian_source',
    'ip6_multicast_ignored', 'ip6_not_for_us', 'ip6_bad_payload_length', 'ip6_truncated_ext_header', 'ip6_pmtu_lowered', 'icmp6_echo_replied',
    'icmp6_out_param_prob', 'icmp6_tcp_no_connection', 'tcp_v4mapped_source']) {
    assert.ok(sum((r) => r.counters, k) > 0, `the victim never counted ${k}`);
  }
  // And the packets got where they were meant to: each drop reason and each RFC 5961 answer.
  for (const k of ['tcp_bad_option', 'tcp_bad_header_length', 'tcp_bad_checksum', 'tcp_truncated', 'ip_reasm_fragments', 'ip_bad_total_length',
    'tcp_paws_rejected', 'tcp_unacceptable_segment', 'tcp_challenge_ack_rst', 'tcp_challenge_ack_syn', 'tcp_ack_too_old',
    'tcp_ack_of_unsent', 'tcp_no_ack', 'tcp_rst_received', 'tcp_syncookies_sent', 'tcp_syncookies_failed', 'tcp_out_of_order', 'tcp_trimmed_beyond_window',
    'icmp_echo_replied', 'icmp_tcp_out_of_window', 'ip_pmtu_lowered', 'icmp_frag_needed_not_lower']) {
    assert.ok(sum((r) => r.counters, k) > 0, `the victim never counted ${k}`);
  }
  // Every planned state was there when fuzzing began, in most epochs.
  for (const role of Object.keys(ROLE_STATE)) {
    const epochs = results.reduce((n, r) => n + r.epochs, 0);
    const reached = sum((r) => r.statesReached, role);
    assert.ok(reached >= epochs / 3, `${role} (${ROLE_STATE[role as keyof typeof ROLE_STATE]}) reached in ${reached} of ${epochs} epochs`);
  }
});

/** The TCP flags of a packet given in hex (after any IPv4 options). */
function tcpFlags(hex: string): number {
  const b = Buffer.from(hex, 'hex');
  return b[(b[0]! & 15) * 4 + 13]!;
}

/** Run one epoch with Connection.prototype.segmentArrives wrapped by `wrap`. */
function withBrokenArrival(wrap: (orig: Connection['segmentArrives']) => Connection['segmentArrives'], seed: number): ReturnType<typeof runEpoch> {
  const orig = Connection.prototype.segmentArrives;
  Connection.prototype.segmentArrives = wrap(orig);
  try {
    return runEpoch(seed, 0, 3000);
  } finally {
    Connection.prototype.segmentArrives = orig;
  }
}

test('an exception on a packet is reported with its seed, the packet and a replay line', () => {
  const r = withBrokenArrival((orig) => function (this: Connection, seg: TcpSegment, now: number) {
    if ((seg.flags & (TCP_URG | TCP_FIN)) === (TCP_URG | TCP_FIN)) throw new Error('planted bug');
    orig.call(this, seg, now);
  }, 5);
  const f = r.failure;
  assert.ok(f !== null, 'no failure reported');
  assert.match(f.what, /exception: Error: planted bug/);
  assert.is(f.phase, 'packet');
  const flags = tcpFlags(f.packetHex);
  assert.is(flags & (TCP_URG | TCP_FIN), TCP_URG | TCP_FIN, 'the reported packet is the one that threw');
  assert.match(f.replay, 'node dist/scripts/fuzz.js --seed 5 --epoch 0');
  assert.match(describeFailure(f), /hex: +45/);
});

test('a broken invariant is caught after the packet that broke it', () => {
  const r = withBrokenArrival((orig) => function (this: Connection, seg: TcpSegment, now: number) {
    orig.call(this, seg, now);
    if (seg.flags & TCP_URG && this.state === 'ESTABLISHED') this.sndUna = (this.sndNxt + 1) >>> 0;
  }, 6);
  assert.ok(r.failure !== null, 'no failure reported');
  assert.match(r.failure.what, /SND.UNA > SND.NXT/);
  assert.ok(tcpFlags(r.failure.packetHex) & TCP_URG, 'the reported packet is the one that broke it');
});

test('the guarded connection: a RST anywhere in the window must not reset it (RFC 5961 §3.2)', () => {
  // RFC 793's rule, which RFC 5961 replaced: any in-window RST resets.
  const r = withBrokenArrival((orig) => function (this: Connection, seg: TcpSegment, now: number) {
    const inWindow = seqInWindow(seg.seq, this.rcvNxt, rcvWnd(this));
    orig.call(this, seg.flags & TCP_RST && inWindow ? { ...seg, seq: this.rcvNxt } : seg, now);
  }, 7);
  assert.ok(r.failure !== null, 'no failure reported');
  assert.match(r.failure.what, /guarded connection changed .* state ESTABLISHED -> CLOSED/);
});

test.run();
