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
