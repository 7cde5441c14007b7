/**
 * Shared by the tcpdump formatter's printers: bounds-checked reads that stop
 * where tcpdump's GET_* macros would ("[|proto]"), and the growing output line.
 */
import { bytesToIp } from '../wire/ipv4.js';

/** Thrown where tcpdump would print " [|proto]"; caught by TcpdumpFormatter.format. */
export class Truncated {
  /** `suffix`: print-tcp.c's trunc label adds ">" once options have started. */
  constructor(readonly proto: string, readonly suffix = '') {}
}

/** The line being built; printers append to it, so text printed before a
 * truncation stays, as on tcpdump's stdout. */
export class Line {
  text = '';
}

export function hex(b: Uint8Array, from = 0, to = b.length): string {
  let s = '';
  for (let i = from; i < to; i++) s += (b[i]! < 16 ? '0' : '') + b[i]!.toString(16);
  return s;
}

/** Bounds-checked reads over the captured bytes of one protocol layer. */
export class View {
  constructor(readonly b: Buffer, readonly proto: string) {}
  has(off: number, n: number): boolean {
    return off >= 0 && off + n <= this.b.length;
  }
  u8(off: number): number {
    if (!this.has(off, 1)) throw new Truncated(this.proto);
    return this.b[off]!;
  }
  u16(off: number): number {
    if (!this.has(off, 2)) throw new Truncated(this.proto);
    return (this.b[off]! << 8) | this.b[off + 1]!;
  }
  u32(off: number): number {
    if (!this.has(off, 4)) throw new Truncated(this.proto);
    return this.b.readUInt32BE(off);
  }
  ip(off: number): string {
    if (!this.has(off, 4)) throw new Truncated(this.proto);
    return bytesToIp(this.b, off);
  }
}
