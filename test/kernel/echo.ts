/**
 * Kernel-test helpers for moving data through a stack and checking it:
 * a SHA-256 over chunks, an echo round trip with a time limit, and a
 * kernel server that listens before the test goes on.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server as NetServer, type Socket as NetSocket } from 'node:net';
import type { Socket } from '../../src/socket/socket.js';

export function sha(b: Buffer | Buffer[]): string {
  const h = createHash('sha256');
  for (const x of Array.isArray(b) ? b : [b]) h.update(x);
  return h.digest('hex');
}

export type AnySocket = NetSocket | Socket;

export const secsSince = (t0: number): number => (performance.now() - t0) / 1000;

/**
 * Write `payload`, half-close, and collect what comes back until the peer's
 * FIN, within `limitS` seconds. On timeout the error says how far it got.
 */
export function echoThrough(sock: AnySocket, payload: Buffer, limitS: number, describe: () => string): Promise<{ got: Buffer[]; secs: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const got: Buffer[] = [];
    let n = 0;
    const timer = setTimeout(() => {
      reject(new Error(`not done after ${limitS} s: ${n} of ${payload.length} bytes echoed back; ${describe()}`));
    }, limitS * 1000);
    sock.on('data', (d: Buffer) => {
      got.push(d);
      n += d.length;
    });
    sock.on('end', () => {
      clearTimeout(timer);
      resolve({ got, secs: secsSince(t0) });
    });
    sock.on('error', (err: Error) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.end(payload);
  });
}

export function listenKernel(server: NetServer, port: number, host: string): Promise<void> {
  return new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(port, host, () => res());
  });
}

/** A kernel server that hashes what it gets and answers with the hash when the client half-closes. */
export async function hashServer(host: string, port: number): Promise<() => void> {
  const server = createServer({ allowHalfOpen: true }, (s: NetSocket) => {
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => s.end(sha(chunks)));
    s.on('error', () => {});
  });
  await listenKernel(server, port, host);
  return () => server.close();
}

/** Upload `data` through `sock`, half-close, and resolve with the server's answer (hashServer: its hash). */
export function upload(sock: Socket, data: Buffer, limitS: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = '';
    const t = setTimeout(() => reject(new Error(`upload not done after ${limitS} s`)), limitS * 1000);
    sock.on('data', (d: Buffer) => (answer += d.toString()));
    sock.on('end', () => { clearTimeout(t); resolve(answer); });
    sock.on('error', (e) => { clearTimeout(t); reject(e); });
    sock.end(data);
  });
}
