/**
 * Errors shaped like Node's own socket errors: `code`, `errno`, `syscall`,
 * and a message such as "connect ECONNREFUSED 10.55.0.1:9999".
 */
import { constants } from 'node:os';

export interface SocketError extends Error {
  code: string;
  errno: number;
  syscall: string;
  address?: string;
  port?: number;
}

export function socketError(code: string, syscall: string, address?: string, port?: number): SocketError {
  const where = address !== undefined ? ` ${address}${port !== undefined ? ':' + port : ''}` : '';
  const err = new Error(`${syscall} ${code}${where}`) as SocketError;
  err.code = code;
  const errno = (constants.errno as Record<string, number>)[code];
  err.errno = errno !== undefined ? -errno : 0;
  err.syscall = syscall;
  if (address !== undefined) err.address = address;
  if (port !== undefined) err.port = port;
  return err;
}

export function codedError(Ctor: ErrorConstructor, code: string, message: string): Error {
  return Object.assign(new Ctor(message), { code });
}

/** node:net's validatePort: an integer 0..65535 (a numeric string too), else RangeError. */
export function validPort(port: unknown): number {
  const n = typeof port === 'string' && port.trim() !== '' ? Number(port) : port;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65535) {
    const shown = typeof port === 'string' ? `type string ('${port}')` : `type ${typeof port} (${String(port)})`;
    throw codedError(RangeError, 'ERR_SOCKET_BAD_PORT', `Port should be >= 0 and < 65536. Received ${shown}.`);
  }
  return n;
}
