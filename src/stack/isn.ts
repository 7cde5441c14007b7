/**
 * Initial sequence numbers per RFC 6528 §3:
 *   ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
 * M is a timer ticking every 4 microseconds, F a keyed hash (here the first
 * 32 bits of HMAC-SHA-256 under a random per-stack key), so ISNs of one
 * 4-tuple increase with time while different 4-tuples are unpredictable.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { ipToNumber } from '../wire/ipv4.js';

export class IsnGenerator {
  private readonly key: Buffer;
  private readonly tuple = Buffer.alloc(12);

  constructor(key?: Buffer) {
    this.key = key ?? randomBytes(16);
  }

  isn(nowMs: number, localIp: string, localPort: number, remoteIp: string, remotePort: number): number {
    this.tuple.writeUInt32BE(ipToNumber(localIp), 0);
    this.tuple.writeUInt16BE(localPort, 4);
    this.tuple.writeUInt32BE(ipToNumber(remoteIp), 6);
    this.tuple.writeUInt16BE(remotePort, 10);
    const f = createHmac('sha256', this.key).update(this.tuple).digest().readUInt32BE(0);
    const m = Math.floor(nowMs * 250) >>> 0; // 4 µs ticks
    return (m + f) >>> 0;
  }
}

