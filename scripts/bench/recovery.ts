/**
 * Recovery time after a single loss (issue 13: tuntcp within 2x Linux), on
 * the 20 ms path of loss.ts without random loss: a bulk transfer in which
 * exactly one data segment, the NTH-th, is dropped. The nftables rule counts
 * with `numgen inc`, which advances only for packets that matched the rule
 * so far (this flow's data segments), so the retransmission of the dropped
 * segment, a later packet, passes.
 *
 * Recovery time: from the original send of the dropped segment to the first
 * ACK that covers it, both at the sender's interface; `detect` is the part
 * until its retransmission left. Linux needs about two RTTs (SACKs of later
 * segments arrive one RTT after the send, the retransmission one more).
 *
 *  - tuntcp -> Linux: the router lab (drop in its forward hook), seen at the
 *    stack's tap, before its fault injector adds the delay;
 *  - Linux -> Linux: the TUN relay (drop at the receiver's input), seen at
 *    the sender's TUN device (observeA).
 */
import type { PacketObserver } from '../../src/link/tap.js';
import { HeldNetns, startRouterLab, startTunRelay } from '../../test/kernel/netem.js';
import { pump } from './flow.js';
import { startPeer } from './peer.js';

/** The dropped data segment, counted from 1: mid-transfer (about 0.7 MB in). */
export const NTH = 500;
const BYTES = 2 * 1024 * 1024;
const ONE_WAY_MS = 10;
const LIMIT_S = 60;
/** IPv4 total length above which a TCP segment counts as data, in the rule and here alike. */
const DATA_LEN = 100;

export interface Recovery {
  /** Original send of the dropped segment to the ACK that covers it, ms. */
  recoveryMs: number;
  /** Original send to the retransmission, ms. */
  detectMs: number;
  /** Data segments the sender sent again (1 when nothing else was lost or resent). */
  retransmits: number;
  error?: string;
}

/** ((a - b) mod 2^32) as a signed number: > 0 when a is after b. */
const seqDiff = (a: number, b: number): number => (a - b) | 0;

/**
 * Watches one IPv4 flow to `port` from the sender's side: the `nth` data
 * segment out, its retransmission, and the first ACK in that covers it.
 */
export class SingleLossWatch {
  private dataOut = 0;
  private lost: { seq: number; end: number; at: number } | null = null;
  private retransmittedAt: number | null = null;
  private ackedAt: number | null = null;
  /** The highest sequence number sent so far (end of data). */
  private sndMax: number | null = null;
  private retransmits = 0;

  constructor(
    private readonly port: number,
    private readonly nth = NTH,
    private readonly now: () => number = () => performance.now(),
  ) {}

  readonly observe: PacketObserver = (dir, h) => {
    if (h.length < 40 || h[0]! >> 4 !== 4 || h[9] !== 6) return;
    const ihl = (h[0]! & 15) * 4;
    const total = h.readUInt16BE(2);
    const port = h.readUInt16BE(ihl + (dir === 'out' ? 2 : 0));
    if (port !== this.port) return;
    const at = this.now();
    if (dir === 'in') {
      const ack = h.readUInt32BE(ihl + 8);
      if ((h[ihl + 13]! & 0x10) !== 0 && this.lost !== null && this.ackedAt === null && seqDiff(ack, this.lost.end) >= 0) this.ackedAt = at;
      return;
    }
    const seq = h.readUInt32BE(ihl + 4);
    const end = (seq + total - ihl - (h[ihl + 12]! >> 4) * 4) >>> 0;
    if (total <= DATA_LEN) return;
    if (this.sndMax !== null && seqDiff(end, this.sndMax) <= 0) {
      this.retransmits++;
      if (this.lost !== null && this.retransmittedAt === null && seqDiff(seq, this.lost.end) < 0 && seqDiff(end, this.lost.seq) > 0) this.retransmittedAt = at;
    } else {
      this.sndMax = end;
    }
    if (++this.dataOut === this.nth) this.lost = { seq, end, at };
  };

  result(): Recovery {
    const l = this.lost;
    const r: Recovery = { recoveryMs: NaN, detectMs: NaN, retransmits: this.retransmits };
    if (l === null) r.error = `only ${this.dataOut} data segments seen`;
    else if (this.retransmittedAt === null) r.error = `data segment ${this.nth} was not retransmitted: the drop missed it`;
    else if (this.ackedAt === null) r.error = 'no ACK covered the dropped segment';
    else {
      r.detectMs = this.retransmittedAt - l.at;
      r.recoveryMs = this.ackedAt - l.at;
    }
    return r;
  }
}

/** An nftables rule that drops the NTH-th data segment to `port` coming in on `iif`. */
export function dropNth(ns: HeldNetns, hook: 'forward' | 'input', iif: string, port: number): void {
  const rule = `iifname "${iif}" tcp dport ${port} ip length > ${DATA_LEN} numgen inc mod 1000000000 ${NTH - 1} counter drop`;
  ns.run('nft', ['-f', '-'], `table inet tuntcp_drop1 {\n  chain ${hook} {\n    type filter hook ${hook} priority 0; policy accept;\n    ${rule}\n  }\n}\n`);
}

/** tuntcp (connect({ cc })) -> Linux through the router lab, one run. */
export async function tuntcpRecovery(cc: 'cubic' | 'newreno' | 'bbr', port: number): Promise<Recovery> {
  const lab = await startRouterLab({ id: 6, stack: { delay: ONE_WAY_MS }, congestionControl: null });
  try {
    // The router's device toward Linux is tl6r; tuntcp's packets come in on its TUN, tl6.
    dropNth(lab.router, 'forward', 'tl6', port);
    const watch = new SingleLossWatch(port);
    lab.running.tap.observe(watch.observe);
    const rx = await startPeer({ role: 'recv', mode: 'listen', host: lab.linuxAddr, port, bytes: 0, limitS: LIMIT_S });
    const s = lab.stack.connect({ port, host: lab.linuxAddr, cc });
    void pump(s, BYTES);
    const res = await rx.result;
    s.destroy();
    const r = watch.result();
    if (res === null || res.bytes !== BYTES) r.error = `receiver got ${res?.bytes ?? 0} of ${BYTES} bytes`;
    return r;
  } finally {
    lab.close();
  }
}

/** Linux (cc) -> Linux through the TUN relay, one run. */
export async function linuxRecovery(cc: string, port: number): Promise<Recovery> {
  const A = await HeldNetns.create();
  let B: HeldNetns | null = null;
  let relay: { close(): void } | null = null;
  try {
    B = await HeldNetns.create();
    const watch = new SingleLossWatch(port);
    const addrB = '10.61.0.2';
    relay = startTunRelay(A, B, { devA: 'lq0a', devB: 'lq0b', addrA: '10.61.0.1', addrB, faults: { delay: ONE_WAY_MS }, observeA: watch.observe });
    dropNth(B, 'input', 'lq0b', port);
    const rx = await startPeer({ role: 'recv', mode: 'listen', host: addrB, port, bytes: 0, ns: B, limitS: LIMIT_S });
    const tx = await startPeer({ role: 'send', mode: 'connect', host: addrB, port, bytes: BYTES, cc, ns: A, limitS: LIMIT_S });
    const [code, res] = await Promise.all([tx.exitCode, rx.result]);
    const r = watch.result();
    if (code !== 0 || res === null || res.bytes !== BYTES) r.error = `sender exit ${code}, receiver got ${res?.bytes ?? 0} of ${BYTES} bytes`;
    return r;
  } finally {
    relay?.close();
    A.close();
    B?.close();
  }
}

/** The median of the runs that measured something (the first run when none did), with their recovery times. */
export async function medianRecovery(runs: number, one: (i: number) => Promise<Recovery>): Promise<Recovery & { runsMs: number[] }> {
  const all: Recovery[] = [];
  for (let i = 0; i < runs; i++) all.push(await one(i));
  const ok = all.filter((r) => r.error === undefined).sort((a, b) => a.recoveryMs - b.recoveryMs);
  const pick = ok[Math.floor((ok.length - 1) / 2)] ?? all[0]!;
  return { ...pick, runsMs: ok.map((r) => r.recoveryMs) };
}
