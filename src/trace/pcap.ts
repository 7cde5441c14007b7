/**
 * pcap files (the classic libpcap format, https://www.tcpdump.org/manpages/pcap-savefile.5.html):
 * a writer for what the stack sends and receives, so `tcpdump -r` / Wireshark can
 * read it, and a reader for tests and tools.
 */
import { closeSync, openSync, writeSync, writevSync } from 'node:fs';

/** Link types (https://www.tcpdump.org/linktypes.html). */
export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_LINUX_SLL2 = 276;

const MAGIC_US = 0xa1b2c3d4;
const MAGIC_NS = 0xa1b23c4d;
const SNAPLEN = 262144;

/** Milliseconds since the Unix epoch, with microsecond resolution. */
function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Appends raw IPv4 packets (LINKTYPE_RAW) to a pcap file. Writes are
 * synchronous, header and payload go out with one writev (never concatenated).
 */
export class PcapWriter {
  private fd: number | null = null;
  private readonly record = Buffer.alloc(16);
  /** Packets written so far. */
  count = 0;

  constructor(path?: string) {
    if (path !== undefined) this.open(path);
  }

  /** Create (or truncate) `path` and write the global header. */
  open(path: string): this {
    this.close();
    this.fd = openSync(path, 'w');
    const h = Buffer.alloc(24);
    h.writeUInt32LE(MAGIC_US, 0);
    h.writeUInt16LE(2, 4); // version 2.4
    h.writeUInt16LE(4, 6);
    h.writeInt32LE(0, 8); // thiszone: timestamps are UTC
    h.writeUInt32LE(0, 12); // sigfigs
    h.writeUInt32LE(SNAPLEN, 16);
    h.writeUInt32LE(LINKTYPE_RAW, 20);
    writeSync(this.fd, h);
    this.count = 0;
    return this;
  }

  /**
   * Append one packet: a Buffer, or its parts in wire order (header, payload).
   * `timeMs` is milliseconds since the Unix epoch (fractions kept to the
   * microsecond); the wall clock by default. A no-op when closed.
   */
  write(packet: Buffer | readonly Buffer[], timeMs: number = wallClockMs()): void {
    if (this.fd === null) return;
    const parts: Buffer[] = Buffer.isBuffer(packet) ? [packet] : packet.filter((p) => p.length > 0);
    let len = 0;
    for (const p of parts) len += p.length;
    let sec = Math.floor(timeMs / 1000);
    let usec = Math.round((timeMs - sec * 1000) * 1000);
    if (usec >= 1_000_000) {
      sec += 1;
      usec -= 1_000_000;
    }
    const caplen = Math.min(len, SNAPLEN);
    const r = this.record;
    r.writeUInt32LE(sec >>> 0, 0);
    r.writeUInt32LE(usec, 4);
    r.writeUInt32LE(caplen, 8);
    r.writeUInt32LE(len, 12);
    if (caplen < len) {
      // Cut to the snapshot length without copying.
      let left = caplen;
      for (let i = 0; i < parts.length; i++) {
        const p = parts[i]!;
        if (p.length > left) parts[i] = p.subarray(0, left);
        left -= parts[i]!.length;
      }
    }
    writevSync(this.fd, [r, ...parts]);
    this.count++;
  }

  /** Close the file. Safe to call twice. */
  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
  }
}

export interface PcapRecord {
  /** Microseconds since the Unix epoch. */
  timeUs: number;
  linkType: number;
  /** Captured bytes (a view into the file buffer). */
  data: Buffer;
  /** Length on the wire (>= data.length when the capture was cut). */
  origLength: number;
}

/**
 * Parse a whole pcap file. Either byte order, micro- or nanosecond timestamps.
 * Never throws: stops at the first record that does not fit (a capture cut off
 * mid-write) and returns [] for something that is not a pcap file.
 */
export function readPcap(buf: Buffer): PcapRecord[] {
  const out: PcapRecord[] = [];
  if (buf.length < 24) return out;
  let le: boolean;
  const m = buf.readUInt32LE(0);
  if (m === MAGIC_US || m === MAGIC_NS) le = true;
  else if (buf.readUInt32BE(0) === MAGIC_US || buf.readUInt32BE(0) === MAGIC_NS) le = false;
  else return out;
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const nano = u32(0) === MAGIC_NS;
  const linkType = u32(20) & 0x0fffffff; // upper bits: FCS info
  let off = 24;
  while (off + 16 <= buf.length) {
    const sec = u32(off);
    const frac = u32(off + 4);
    const caplen = u32(off + 8);
    const origLength = u32(off + 12);
    if (off + 16 + caplen > buf.length) break;
    out.push({
      timeUs: sec * 1e6 + (nano ? Math.floor(frac / 1000) : frac),
      linkType,
      data: buf.subarray(off + 16, off + 16 + caplen),
      origLength,
    });
    off += 16 + caplen;
  }
  return out;
}

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;

/**
 * The IPv4 packet inside a record of a common link type (Ethernet with VLAN
 * tags, Linux cooked v1/v2, raw, BSD loopback), or null when it carries
 * something else or is too short.
 */
export function recordToIPv4(rec: { linkType: number; data: Buffer }): Buffer | null {
  const d = rec.data;
  switch (rec.linkType) {
    case LINKTYPE_RAW:
    case 12: // DLT_RAW as written by some BSDs
    case 14:
      return d.length > 0 && d[0]! >> 4 === 4 ? d : null;
    case LINKTYPE_ETHERNET: {
      let off = 12;
      while (off + 2 <= d.length) {
        const type = d.readUInt16BE(off);
        if (type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ) {
          off += 4;
          continue;
        }
        return type === ETHERTYPE_IPV4 ? d.subarray(off + 2) : null;
      }
      return null;
    }
    case LINKTYPE_LINUX_SLL:
      return d.length >= 16 && d.readUInt16BE(14) === ETHERTYPE_IPV4 ? d.subarray(16) : null;
    case LINKTYPE_LINUX_SLL2:
      return d.length >= 20 && d.readUInt16BE(0) === ETHERTYPE_IPV4 ? d.subarray(20) : null;
    case LINKTYPE_NULL:
      // Address family in host byte order of the capturing machine; AF_INET is 2.
      return d.length >= 4 && (d.readUInt32LE(0) === 2 || d.readUInt32BE(0) === 2) ? d.subarray(4) : null;
    default:
      return null;
  }
}

/** Every IPv4 packet in a pcap file, in order (other frames skipped). */
export function readPcapIPv4(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (const r of readPcap(buf)) {
    const p = recordToIPv4(r);
    if (p !== null) out.push(p);
  }
  return out;
}
