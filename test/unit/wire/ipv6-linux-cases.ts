// Extension-header cases sent to the Linux kernel by test/fixtures/ipv6-linux.py
// (in a private namespace, over veth): each is a TCP SYN to a closed port behind
// some headers, so Linux answers RST (delivered), an ICMPv6 parameter problem,
// or nothing (dropped). `node dist/test/unit/wire/ipv6-linux-cases.js` prints
// them as JSON for the probe; ipv6-linux.test.ts checks walkIPv6 against the
// answers recorded in test/fixtures/ipv6-linux.json.
import { fileURLToPath } from 'node:url';
import { buildIPv6Packet } from '../../../src/wire/ipv6.js';

const A = '2001:db8::1';
const B = '2001:db8::2';

function syn(): Buffer {
  const t = Buffer.alloc(20);
  t.writeUInt16BE(40000, 0);
  t.writeUInt16BE(33999, 2);
  t.writeUInt32BE(1, 4);
  t[12] = 0x50;
  t[13] = 0x02;
  t.writeUInt16BE(1024, 14);
  return t;
}

function ext(next: number, body: number[]): Buffer {
  const len = Math.ceil((body.length + 2) / 8) * 8;
  const b = Buffer.alloc(len);
  b[0] = next;
  b[1] = len / 8 - 1;
  b.set(body, 2);
  return b;
}

function opts(...o: number[]): number[] {
  const rest = (8 - ((o.length + 2) % 8)) % 8;
  if (rest === 0) return o;
  if (rest === 1) return [...o, 0];
  return [...o, 1, rest - 2, ...new Array<number>(rest - 2).fill(0)];
}

function frag(next: number, off: number, more: boolean, id: number): Buffer {
  const b = Buffer.alloc(8);
  b[0] = next;
  b.writeUInt16BE(off | (more ? 1 : 0), 2);
  b.writeUInt32BE(id, 4);
  return b;
}

/** parts[last] is the TCP SYN (checksum filled in) unless `bare`. */
function pkt(first: number, parts: Buffer[], bare = false): Buffer {
  const start = parts.slice(0, -1).reduce((n, b) => n + b.length, 0);
  return buildIPv6Packet({ src: A, dst: B }, first, Buffer.concat(parts), bare ? undefined : { upperStart: start, at: 16, protocol: 6 });
}

export function linuxCases(): Record<string, Buffer> {
  const c: Record<string, Buffer> = {};
  c.plain = pkt(6, [syn()]);
  for (const t of [0x1e, 0x5e, 0x9e, 0xde]) {
    c[`dst_opt_${t.toString(16)}`] = pkt(60, [ext(6, opts(1, 0, t, 1, 0xaa)), syn()]);
    c[`hbh_opt_${t.toString(16)}`] = pkt(0, [ext(6, opts(1, 0, t, 1, 0xaa)), syn()]);
  }
  c.hbh_not_first = pkt(60, [ext(0, opts()), ext(6, opts()), syn()]);
  c.pad_long = pkt(60, [ext(6, new Array<number>(14).fill(0)), syn()]);
  c.padn_nonzero = pkt(60, [ext(6, [1, 4, 0, 0, 0, 1]), syn()]);
  c.opt_overrun = pkt(60, [ext(6, [0x1e, 5, 0, 0, 0, 0]), syn()]);
  c.nine_opts = pkt(60, [ext(6, opts(...Array.from({ length: 9 }, () => [0x1e, 0]).flat())), syn()]);
  c.eight_opts = pkt(60, [ext(6, opts(...Array.from({ length: 8 }, () => [0x1e, 0]).flat())), syn()]);
  c.jumbo_opt = pkt(0, [ext(6, opts(0xc2, 4, 0, 1, 0, 0)), syn()]);
  for (const type of [0, 2, 3, 4, 9]) {
    for (const segleft of [0, 1]) {
      c[`rh_type${type}_segleft${segleft}`] = pkt(43, [ext(6, [type, segleft, 0, 0, 0, 0, ...new Array<number>(16).fill(0)]), syn()]);
    }
  }
  c.frag_atomic = pkt(44, [frag(6, 0, false, 7), syn()]);
  c.frag_badlen = pkt(44, [frag(6, 8, true, 1), Buffer.alloc(12)], true);
  c.frag_toolong = pkt(44, [frag(6, 65528, false, 1), Buffer.alloc(9)], true);
  c.frag_incomplete = pkt(44, [frag(6, 0, true, 1), Buffer.alloc(16)], true);
  c.frag_incomplete_dst = pkt(44, [frag(60, 0, true, 1), Buffer.from([6, 1, 1, 4, 0, 0, 0, 0])], true);
  c.unknown_nh = pkt(60, [ext(253, opts()), Buffer.alloc(8)], true);
  c.unknown_nh_direct = pkt(253, [Buffer.alloc(8)], true);
  const whole = pkt(60, [ext(6, opts(0x1e, 10, ...new Array<number>(10).fill(0))), syn()]);
  const cut = Buffer.from(whole.subarray(0, 50));
  cut.writeUInt16BE(10, 4);
  c.truncated_ext = cut;
  return c;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(linuxCases())) out[k] = v.toString('hex');
  console.log(JSON.stringify(out));
}
