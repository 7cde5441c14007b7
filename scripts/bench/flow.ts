/**
 * Bulk data on tuntcp sockets: a sender that writes as fast as the socket
 * takes it, and a receiving server handler that counts and times it, with
 * the same first-byte-to-last-byte rule as the Python peer (peer.ts).
 * The clock is a parameter so simulations in virtual time use them too.
 */
import type { Socket } from '../../src/socket/socket.js';

const CHUNK = Buffer.alloc(64 * 1024, 0x78);

/**
 * Write `bytes` in 64 KiB chunks whenever the socket drains, then end().
 * Stops early (and ends) once `until()` says so, for time-bounded runs.
 * Resolves with the bytes written.
 */
export function pump(s: Socket, bytes: number, until: () => boolean = () => false): Promise<number> {
  let sent = 0;
  return new Promise((resolve) => {
    const more = (): void => {
      while (sent < bytes && !until()) {
        const n = Math.min(CHUNK.length, bytes - sent);
        sent += n;
        if (!s.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) return;
      }
      s.removeListener('drain', more);
      s.end();
      resolve(sent);
    };
    s.on('drain', more);
    s.once('connect', more);
    s.on('error', () => resolve(sent));
    // The peer's FIN must reach 'end' for the socket to close.
    s.resume();
  });
}

export interface Sink {
  /** Give this to createServer(). */
  handler: (s: Socket) => void;
  bytes: number;
  /** Seconds from the first byte to the last, on `now`'s clock. */
  secs(): number;
  /** The sender's FIN arrived (we answer with ours). */
  ended: boolean;
  done: Promise<void>;
}

/** A server handler that counts bytes until the peer's FIN, and answers it with FIN. */
export function sink(now: () => number = () => performance.now()): Sink {
  let first = 0;
  let last = 0;
  let finish = (): void => undefined;
  const k: Sink = {
    bytes: 0,
    ended: false,
    secs: () => (last - first) / 1000,
    done: new Promise<void>((r) => (finish = r)),
    handler: (s: Socket) => {
      s.on('data', (d: Buffer) => {
        last = now();
        if (k.bytes === 0) first = last;
        k.bytes += d.length;
      });
      s.on('end', () => {
        k.ended = true;
        s.end();
        finish();
      });
      s.on('error', () => finish());
    },
  };
  return k;
}
