// Checksum and segmentation offload over the in-memory link (like Linux
// loopback with TSO), in virtual time: super-segments of whole MSS-sized
// pieces go out, the data arrives intact, and without offload nothing larger
// than one MSS is ever sent.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { VirtualClock } from '../../src/stack/clock.js';
import { createMemoryPair } from '../../src/link/memory.js';
import { TapLink } from '../../src/link/tap.js';
import { NetStack } from '../../src/socket/net-stack.js';
import type { TcpConfig } from '../../src/tcp/config.js';
import { decodeIPv4 } from '../../src/wire/ipv4.js';
import { buildTcpPacket, decodeTcp, TCP_SYN } from '../../src/wire/tcp.js';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

interface Sent {
  payload: number;
  gsoSize: number;
  total: number;
}

/** A -> B over a memory pair, A's side tapped: every data segment A sends, with its gsoSize. */
async function transfer(offload: boolean, bytes: number, tcpB: Partial<TcpConfig> = {}): Promise<{ sent: Sent[]; intact: boolean; a: NetStack; b: NetStack }> {
  const clock = new VirtualClock(1_000_000);
  const [la, lb] = createMemoryPair({ clock, latencyMs: 1, mtu: 1500, offload });
  const sent: Sent[] = [];
  const tap = new TapLink(la);
  const inner = tap.send.bind(tap);
  tap.send = (header: Buffer, payload?: Buffer, gsoSize = 0): void => {
    const plen = payload?.length ?? 0;
    if (plen > 0) sent.push({ payload: plen, gsoSize, total: header.length + plen });
    inner(header, payload, gsoSize);
  };
  const isnKey = Buffer.alloc(16, 3);
  const a = new NetStack({ link: tap, addr: '10.0.0.1', clock, isnKey });
  const b = new NetStack({ link: lb, addr: '10.0.0.2', clock, isnKey, tcp: tcpB });
  const data = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) data[i] = (i * 7919) & 0xff;
  const got: Buffer[] = [];
  let ended = false;
  b.createServer((s) => {
    s.on('data', (d: Buffer) => got.push(d));
    s.on('end', () => { ended = true; });
  }).listen(80);
  const c = a.connect(80, '10.0.0.2');
  c.end(data);
  for (let i = 0; i < 100_000 && !ended; i++) {
    await turn();
    const next = clock.nextTime();
    if (next !== Infinity) clock.advanceTo(next);
  }
  const sha = (x: Buffer | Buffer[]): string => {
    const h = createHash('sha256');
    for (const y of Array.isArray(x) ? x : [x]) h.update(y);
    return h.digest('hex');
  };
  return { sent, intact: ended && sha(got) === sha(data), a, b };
}

const EFF_MSS = 1460 - 12; // MTU 1500, timestamps on

test('offload: super-segments of whole MSS-sized pieces, data intact, checksums never computed', async () => {
  const { sent, intact, a, b } = await transfer(true, 2_000_000);
  assert.ok(intact, '2 MB arrived intact');
  const supers = sent.filter((s) => s.gsoSize > 0);
  assert.ok(supers.length > 0, 'super-segments were sent');
  for (const s of supers) {
    assert.is(s.gsoSize, EFF_MSS);
    assert.ok(s.payload > EFF_MSS && s.total <= 65535, `super-segment of ${s.payload} bytes`);
  }
  // Only the stream's last segment may end in a partial piece.
  assert.ok(supers.slice(0, -1).every((s) => s.payload % EFF_MSS === 0), 'whole MSS multiples');
  assert.ok(Math.max(...supers.map((s) => s.payload)) >= 40 * EFF_MSS, 'up to ~64 KiB per segment');
  assert.is(a.counters.get('tcp_gso_out'), supers.length);
  assert.ok(b.counters.get('tcp_gso_in') > 0);
  assert.is(b.counters.get('tcp_bad_checksum'), 0);
});

test('offload, window-limited (8 KiB receive buffer): super-segments stay whole MSS multiples', async () => {
  const { sent, intact } = await transfer(true, 300_000, { rcvBuf: 8192 });
  assert.ok(intact);
  const supers = sent.filter((s) => s.gsoSize > 0);
  assert.ok(supers.length > 0);
  const bad = supers.slice(0, -1).filter((s) => s.payload > 8192 || s.payload % EFF_MSS !== 0);
  assert.equal(bad, []);
});

test('no offload: no segment carries more than one MSS, and none asks for segmentation', async () => {
  const { sent, intact, a } = await transfer(false, 500_000);
  assert.ok(intact);
  assert.ok(sent.every((s) => s.payload <= EFF_MSS && s.gsoSize === 0 && s.total <= 1500));
  assert.is(a.counters.get('tcp_gso_out'), 0);
});

test('offload: a received segment with a wrong checksum is still accepted only when the link vouches for it', () => {
  // The stack side of the contract: decodeTcp skips the check exactly when told to.
  const clock = new VirtualClock(0);
  const [la] = createMemoryPair({ clock, offload: true });
  const s = new NetStack({ link: la, addr: '10.0.0.1', clock });
  const pkt = buildTcpPacket({ src: '10.0.0.2', dst: '10.0.0.1', protocol: 6 }, { srcPort: 1234, dstPort: 80, seq: 1, ack: 0, flags: TCP_SYN, window: 65535 });
  pkt[36]! ^= 0xff; // the TCP checksum field
  const ip = decodeIPv4(pkt);
  assert.ok(typeof ip !== 'string');
  assert.is(decodeTcp(ip, true), 'tcp_bad_checksum');
  assert.ok(typeof decodeTcp(ip, false) !== 'string');
  // Untrusted: dropped as a bad checksum; trusted: answered (RST, no listener).
  s.receiveBatch([pkt], new Uint8Array([0]));
  assert.is(s.counters.get('tcp_bad_checksum'), 1);
  s.receiveBatch([pkt], new Uint8Array([1]));
  assert.is(s.counters.get('tcp_rst_sent'), 1);
});

test.run();
