/**
 * Tiny packet helpers for the TUN tests (tun.test.ts, tx-thread.test.ts):
 * independent of src/wire on purpose, so a codec bug cannot hide itself.
 */
export function sum16(buf: Uint8Array, start = 0, end = buf.length, acc = 0): number {
  for (let i = start; i + 1 < end; i += 2) acc += (buf[i]! << 8) | buf[i + 1]!;
  if ((end - start) & 1) acc += buf[end - 1]! << 8;
  return acc;
}

export function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  return ~acc & 0xffff;
}

export function ipBytes(a: string): number[] {
  return a.split('.').map(Number);
}

export function ipString(b: Uint8Array, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/** IPv4 header (20 bytes) + UDP header (8 bytes), checksums filled in. */
export function udpHeader(src: string, sport: number, dst: string, dport: number, payload: Uint8Array): Buffer {
  const h = Buffer.alloc(28);
  const total = 28 + payload.length;
  h[0] = 0x45;
  h.writeUInt16BE(total, 2);
  h.writeUInt16BE(0x1234, 4);
  h[8] = 64;
  h[9] = 17;
  h.set(ipBytes(src), 12);
  h.set(ipBytes(dst), 16);
  h.writeUInt16BE(fold(sum16(h, 0, 20)), 10);
  h.writeUInt16BE(sport, 20);
  h.writeUInt16BE(dport, 22);
  h.writeUInt16BE(8 + payload.length, 24);
  // Pseudo-header: src, dst, zero+protocol, UDP length.
  let acc = sum16(h, 12, 20) + 17 + 8 + payload.length;
  acc = sum16(h, 20, 28, acc);
  acc = sum16(payload, 0, payload.length, acc);
  const c = fold(acc);
  h.writeUInt16BE(c === 0 ? 0xffff : c, 26);
  return h;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitFor(pred: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) return false;
    await sleep(5);
  }
  return true;
}

