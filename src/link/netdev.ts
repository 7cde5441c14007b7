/**
 * The kernel side of a TUN device, set up with iproute2's `ip` command: the
 * kernel's own address on the link, MTU, link up, and a route to the stack's
 * address, for IPv4 and (when addr6 is given) IPv6. Commands run with
 * argument arrays, never through a shell; the device's IPv6 sysctls are
 * written under /proc/sys/net/ipv6/conf/DEV.
 *
 * Errors are one line with a `code`: 'EINVAL' for bad arguments (checked here
 * before anything runs), 'EIPROUTE2' when `ip` is missing or fails (the
 * message carries ip's stderr).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { ip6ToBytes, ip6ToString, IPV6_MIN_MTU } from '../wire/ipv6.js';

export interface TunConfig {
  /** Interface name, as returned by TunLink.open. */
  name: string;
  /** The kernel's address on the link, in CIDR form, e.g. '10.55.0.1/24'. */
  peer: string;
  /** The stack's address, e.g. '10.55.0.2'. The kernel routes it via the device. */
  addr: string;
  mtu: number;
  /** The stack's IPv6 address, e.g. 'fd00:0:a37::2'. Absent: IPv6 is turned
   * off on the device (no address at all, not even link-local). */
  addr6?: string;
  /** The kernel's IPv6 address on the link in CIDR form, e.g.
   * 'fd00:0:a37::1/64'. Required with addr6. */
  peer6?: string;
}

export class NetdevError extends Error {
  readonly code: 'EIPROUTE2' | 'EINVAL';
  /** ip's stderr, when ip ran. */
  readonly stderr: string;
  constructor(code: 'EIPROUTE2' | 'EINVAL', message: string, stderr = '') {
    super(message);
    this.name = 'NetdevError';
    this.code = code;
    this.stderr = stderr;
  }
}

/** Packets the kernel may queue toward the stack (like a NIC's ring). */
const TX_QUEUE_LEN = 4096;

/** Where to look for `ip` when PATH lacks the sbin directories. */
const IP_CANDIDATES = ['ip', '/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'];

interface IpResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

function runIp(args: string[]): IpResult {
  for (const bin of IP_CANDIDATES) {
    const r = spawnSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
    if (r.error !== undefined) {
      if ((r.error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new NetdevError('EIPROUTE2', `ip ${args.join(' ')}: ${r.error.message}`);
    }
    return { ok: r.status === 0, stdout: r.stdout, stderr: oneLine(r.stderr) };
  }
  throw new NetdevError('EIPROUTE2', 'the `ip` command (iproute2) was not found: install iproute2');
}

function oneLine(s: string): string {
  return s.trim().split('\n').map((l) => l.trim()).filter((l) => l.length > 0).join('; ');
}

function ip(args: string[]): void {
  const r = runIp(args);
  if (!r.ok) throw new NetdevError('EIPROUTE2', `ip ${args.join(' ')}: ${r.stderr || 'failed'}`, r.stderr);
}

/** Parse a dotted IPv4 address to a 32-bit number, or null. */
function parseIPv4(s: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (m === null) return null;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255) return null;
    v = v * 256 + o;
  }
  return v;
}

function invalid(message: string): NetdevError {
  return new NetdevError('EINVAL', message);
}

function checkName(name: string): void {
  // Kernel rule (dev_valid_name): 1..15 bytes, no '/', ':' or whitespace.
  if (name.length === 0 || Buffer.byteLength(name) > 15 || /[\s/:]/.test(name)) {
    throw invalid(`'${name}' is not a valid interface name`);
  }
}

/**
 * Give the kernel side of TUN device `name` the address `peer` (CIDR), set the
 * MTU, bring the link up and route `addr` through it. Idempotent.
 */
export function configureTun(cfg: TunConfig): void {
  checkName(cfg.name);
  const m = /^([\d.]+)(?:\/(\d{1,2}))?$/.exec(cfg.peer);
  const peerIp = m === null ? null : parseIPv4(m[1]!);
  const prefix = m?.[2] === undefined ? 32 : Number(m[2]);
  if (peerIp === null || prefix < 1 || prefix > 32) {
    throw invalid(`peer '${cfg.peer}' is not an IPv4 address with a prefix (like 10.55.0.1/24)`);
  }
  const addrIp = parseIPv4(cfg.addr);
  if (addrIp === null) throw invalid(`addr '${cfg.addr}' is not an IPv4 address`);
  if (addrIp === peerIp) throw invalid(`addr ${cfg.addr} must differ from the kernel's address ${cfg.peer}`);
  if (!Number.isInteger(cfg.mtu) || cfg.mtu < 68 || cfg.mtu > 65535) throw invalid(`mtu ${cfg.mtu} is out of range 68..65535`);

  const six = cfg.addr6 === undefined ? null : checkIPv6(cfg);

  const peer = `${m![1]!}/${prefix}`;
  ip(['addr', 'replace', peer, 'dev', cfg.name]);
  // Before the link comes up, so the kernel never sends a router solicitation.
  configureIPv6Sysctls(cfg.name, six !== null);
  if (six !== null) {
    // nodad: the stack does not answer neighbour solicitations (none are
    // needed on a layer-3 device, and the kernel skips DAD on NOARP links).
    ip(['-6', 'addr', 'replace', six.peer6, 'dev', cfg.name, 'nodad']);
  }
  // txqueuelen: the kernel's queue toward us. The TUN default of 500 overflows
  // when a burst arrives while we are busy: 10 000 clients closing at once
  // lost 22 520 packets and took 3.4 s to close; with 4096, 5 778 and 0.8 s.
  ip(['link', 'set', 'dev', cfg.name, 'mtu', String(cfg.mtu), 'txqueuelen', String(TX_QUEUE_LEN), 'up']);
  // The connected route of the peer subnet already covers addr when it is inside it.
  const mask = prefix === 32 ? 0xffffffff : (0xffffffff << (32 - prefix)) >>> 0;
  const inSubnet = ((addrIp & mask) >>> 0) === ((peerIp & mask) >>> 0);
  if (!inSubnet) ip(['route', 'replace', `${cfg.addr}/32`, 'dev', cfg.name]);
  if (six !== null && !six.inPrefix) ip(['-6', 'route', 'replace', `${six.addr6}/128`, 'dev', cfg.name]);
}

interface IPv6Setup {
  /** The stack's address as `ip` and tcpdump write it. */
  addr6: string;
  /** The kernel's address and prefix, e.g. 'fd00:0:a37::1/64'. */
  peer6: string;
  /** addr6 lies inside peer6's prefix: the connected route covers it. */
  inPrefix: boolean;
}

function checkIPv6(cfg: TunConfig): IPv6Setup {
  const addr = ip6ToBytes(cfg.addr6 ?? '');
  if (addr === null) throw invalid(`addr6 '${cfg.addr6}' is not an IPv6 address`);
  const m = /^([^/]+)\/(\d{1,3})$/.exec(cfg.peer6 ?? '');
  const peer = m === null ? null : ip6ToBytes(m[1]!);
  const len = m === null ? 0 : Number(m[2]);
  if (peer === null || len < 1 || len > 128) {
    throw invalid(`peer6 '${cfg.peer6}' is not an IPv6 address with a prefix (like fd00:0:a37::1/64)`);
  }
  if (addr.equals(peer)) throw invalid(`addr6 ${cfg.addr6} must differ from the kernel's address ${cfg.peer6}`);
  // Linux turns IPv6 off on a device below the IPv6 minimum MTU (addrconf.c).
  if (cfg.mtu < IPV6_MIN_MTU) throw invalid(`mtu ${cfg.mtu} is below IPv6's minimum of ${IPV6_MIN_MTU} (RFC 8200 §5)`);
  return { addr6: ip6ToString(addr, 0), peer6: `${ip6ToString(peer, 0)}/${len}`, inPrefix: samePrefix6(addr, peer, len) };
}

/** Whether a and b agree in their first `len` bits. */
export function samePrefix6(a: Uint8Array, b: Uint8Array, len: number): boolean {
  for (let bit = 0; bit < len; bit += 8) {
    const n = Math.min(8, len - bit);
    const mask = (0xff << (8 - n)) & 0xff;
    if (((a[bit >> 3]! ^ b[bit >> 3]!) & mask) !== 0) return false;
  }
  return true;
}

/**
 * The device's IPv6 switches. On: no router solicitations, no router
 * advertisements taken, no DAD (the kernel would otherwise solicit a router
 * on the link every few seconds: noise in every trace). Off: IPv6 disabled on
 * the device, so it has no address (not even link-local) and the kernel sends
 * nothing IPv6 into it. A kernel without IPv6 (ipv6.disable=1) has no such
 * directory: nothing to do when off; when on, the `ip -6` that follows says why.
 */
function configureIPv6Sysctls(name: string, on: boolean): void {
  const dir = `/proc/sys/net/ipv6/conf/${name}`;
  if (!existsSync(dir)) return;
  const settings: Array<[string, string]> = on
    ? [['disable_ipv6', '0'], ['accept_ra', '0'], ['router_solicitations', '0'], ['accept_dad', '0']]
    : [['disable_ipv6', '1']];
  for (const [key, value] of settings) {
    try {
      writeFileSync(`${dir}/${key}`, value);
    } catch (err) {
      // Off is a courtesy (a read-only /proc/sys leaves the kernel's chatter,
      // which the stack counts and drops); on must hold.
      if (on) throw new NetdevError('EIPROUTE2', `write ${dir}/${key}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
}

/** Remove device `name`. A device that does not exist is not an error. */
export function deleteTun(name: string): void {
  checkName(name);
  const r = runIp(['link', 'del', 'dev', name]);
  if (r.ok || /does not exist|cannot find device/i.test(r.stderr)) return;
  throw new NetdevError('EIPROUTE2', `ip link del dev ${name}: ${r.stderr || 'failed'}`, r.stderr);
}

/**
 * The device the kernel sends packets for `addr` through (`ip route get`),
 * 'local' when `addr` is one of the kernel's own addresses, or null when ip
 * cannot say. Another interface's route (or address) for the stack's address
 * means the stack is unreachable though it runs.
 */
export function routeDevice(addr: string): string | null {
  const r = runIp(['-j', 'route', 'get', addr]);
  if (!r.ok) return null;
  try {
    const routes = JSON.parse(r.stdout) as Array<{ type?: string; dev?: string }>;
    const first = routes[0];
    if (first === undefined) return null;
    return first.type === 'local' ? 'local' : (first.dev ?? null);
  } catch {
    return null;
  }
}
