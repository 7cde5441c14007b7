// Send-buffer autotuning (sndbuf.ts, Linux tcp_sndbuf_expand): the buffer
// follows cwnd, two windows of skbs (three for BBR), up to tcp_wmem[2]; a
// buffer set with SO_SNDBUF (sndBufMax = sndBuf) stays as it is.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { expandedSndBuf, skbPerMss } from '../../../src/tcp/sndbuf.js';
import type { TcpConfig } from '../../../src/tcp/config.js';
import { P, SMALL, established } from './script.js';

test('tcp_sndbuf_expand: factor x max(10, cwnd, reordering + 1) segments x the truesize of an MSS skb, up to the maximum, never down', () => {
  assert.is(skbPerMss(1460), 4352); // roundup_pow_of_two(1460 + 640) + 256
  assert.is(skbPerMss(1000), 2304);
  assert.is(expandedSndBuf(16384, 4 << 20, 1460, 4, 3, 2), 2 * 10 * 4352, 'at least TCP_INIT_CWND segments');
  assert.is(expandedSndBuf(16384, 4 << 20, 1460, 100, 3, 3), 3 * 100 * 4352, 'BBR: three windows');
  assert.is(expandedSndBuf(16384, 4 << 20, 1460, 20, 127, 2), 2 * 128 * 4352, 'reordering + 1');
  assert.is(expandedSndBuf(16384, 4 << 20, 1460, 1000, 3, 2), 4 << 20, 'tcp_wmem[2]');
  assert.is(expandedSndBuf(1 << 20, 4 << 20, 1460, 10, 3, 2), 1 << 20, 'never shrinks');
  assert.is(expandedSndBuf(16384, 16384, 1460, 100, 3, 2), 16384, 'locked (SO_SNDBUF)');
});

/** A writer that keeps the buffer full; the peer ACKs each round's flight 100 ms later. Segments sent per round. */
function rounds(cfg: Partial<TcpConfig>, n: number): { sent: number[]; sndBuf: number[] } {
  const t = established(cfg, { win: 65535, wscale: 7 });
  let now = 200;
  let out: ReturnType<typeof t.takeOut> = [];
  const fill = (): void => {
    for (;;) {
      const ok = t.write(now, 4000);
      out.push(...t.takeOut());
      if (!ok) return;
    }
  };
  fill();
  const sent: number[] = [];
  const sndBuf: number[] = [];
  for (let r = 0; r < n; r++) {
    sent.push(out.length);
    sndBuf.push(t.conn.cfg.sndBuf);
    const last = out[out.length - 1]!;
    out = [];
    now += 100;
    t.recv(now, { f: '.', seq: P(1), ack: (last.seq + last.payload!.length) >>> 0, win: 65535 });
    out.push(...t.takeOut());
    if (!t.conn.writeWaiting) fill();
  }
  return { sent, sndBuf };
}

test('a writer waiting for buffer space while cwnd has room: the buffer grows with cwnd (Linux tcp_new_space), so slow start is not held back', () => {
  const { sent, sndBuf } = rounds({ ...SMALL, sndBuf: 16 * 1024 }, 6);
  // Established: 2 x 10 segments of 2304 bytes (tcp_init_buffer_space).
  assert.is(sndBuf[0], 2 * 10 * 2304);
  // Slow start doubles cwnd each round, and the buffer follows it: the whole window goes every round.
  assert.equal(sent, [10, 20, 40, 80, 160, 320]);
  assert.is(sndBuf[5], 2 * 160 * 2304, 'two windows of the cwnd the last ACK left');
});

test('SO_SNDBUF (sndBufMax = sndBuf): the buffer stays, the writer sends what it holds each round', () => {
  const { sent, sndBuf } = rounds({ ...SMALL, sndBuf: 16 * 1024, sndBufMax: 16 * 1024 }, 4);
  assert.equal(sndBuf, [16384, 16384, 16384, 16384]);
  // Round 1 is cwnd's 10; then what 16 KiB holds: about six 2-MSS skbs at
  // 2000 + 832 bytes each (wmem.ts), never the doubling of slow start.
  assert.equal(sent, [10, 14, 12, 12]);
});

test.run();
