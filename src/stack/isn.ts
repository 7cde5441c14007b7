/**
 * Initial sequence numbers per RFC 6528 §3:
 *   ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
 * M is a timer ticking every 4 microseconds, F a keyed hash (here the first
 * 32 bits of HMAC-SHA-256 under a random per-stack key), so ISNs of one
 * 4-tuple increase with time while different 4-tuples are unpredictable.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { ipToNumber } from '../wire/ipv4.js';
import { ip6ToBytes } from '../wire/ipv6.js';

const NO_ADDR6 = new Uint8Array(16);

export class IsnGenerator {
  private readonly key: Buffer;
  private readonly tuple = Buffer.alloc(12);
  /** IPv6: both addresses whole (RFC 6528 §3 hashes the 4-tuple, all of it). */
  private readonly tuple6 = Buffer.alloc(36);

  constructor(key?: Buffer) {
    this.key = key ?? randomBytes(16);
  }

  isn(nowMs: number, localIp: string, localPort: number, remoteIp: string, remotePort: number): number {
    let t = this.tuple;
    if (remoteIp.includes(':')) {
      t = this.tuple6;
      t.set(ip6ToBytes(localIp) ?? NO_ADDR6, 0);
      t.writeUInt16BE(localPort, 16);
      t.set(ip6ToBytes(remoteIp) ?? NO_ADDR6, 18);
      t.writeUInt16BE(remotePort, 34);
    } else {
      t.writeUInt32BE(ipToNumber(localIp), 0);
      t.writeUInt16BE(localPort, 4);
      t.writeUInt32BE(ipToNumber(remoteIp), 6);
      t.writeUInt16BE(remotePort, 10);
    }
    const f = createHmac('sha256', this.key).update(t).digest().readUInt32BE(0);
    const m = Math.floor(nowMs * 250) >>> 0; // 4 µs ticks
    return (m + f) >>> 0;
  }
}

