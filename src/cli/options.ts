/**
 * Options shared by every command that starts a stack, and their checks.
 * Fault flags apply on the stack's side of the link, in both directions.
 */
import { availableParallelism } from 'node:os';
import { isIPv4 } from 'node:net';
import type { Options } from 'yargs';
import { hasFaults } from '../link/fault.js';
import { planIPv6 } from './addr6.js';

/** For commands whose stack can be sharded (up, listen): src/shard/. */
export const queuesOption = {
  queues: {
    type: 'number',
    default: 1,
    describe:
      'TUN queues (IFF_MULTI_QUEUE), each served by a worker thread with a stack shard of its own: flows spread over ' +
      'the cores by the kernel\'s flow hash (one per core is the useful most; the kernel allows 256)',
  },
} as const satisfies Record<string, Options>;

export const stackOptions = {
  tun: { type: 'string', default: 'tuntcp0', describe: 'TUN device name' },
  addr: { type: 'string', default: '10.55.0.2', describe: "the stack's own IPv4 address" },
  peer: { type: 'string', default: '10.55.0.1/24', describe: 'address/prefix of the kernel side of the TUN' },
  mtu: { type: 'number', default: 1500, describe: 'MTU of the TUN device' },
  addr6: {
    type: 'string',
    describe:
      "the stack's own IPv6 address; default: --peer6's prefix + the host bits of --addr " +
      '(--addr 10.55.0.2 --peer 10.55.0.1/24: fd00:0:a37::2)',
  },
  peer6: {
    type: 'string',
    describe:
      "IPv6 address/prefix of the kernel side of the TUN; default: fd00:0:HHHH:HHHH::/64, HHHH:HHHH = --peer's IPv4 network, " +
      "+ the host bits of --peer (10.55.0.1/24: fd00:0:a37::1/64); without usable host bits the whole IPv4 addresses are the low 32 bits",
  },
  ipv6: {
    type: 'boolean',
    default: true,
    describe: 'dual-stack: IPv6 beside IPv4 (off below MTU 1280); --no-ipv6: IPv4 only, no IPv6 address on the device',
  },
  pcap: { type: 'string', describe: 'write every packet in and out to this pcap file (LINKTYPE_RAW)' },
  trace: { type: 'boolean', default: false, describe: "print every packet in tcpdump's format" },
  absolute: { type: 'boolean', default: false, describe: 'with --trace: absolute sequence numbers (tcpdump -S)' },
  loss: { type: 'number', default: 0, describe: 'percent of packets dropped (each direction)' },
  duplicate: { type: 'number', default: 0, describe: 'percent of packets duplicated' },
  reorder: { type: 'number', default: 0, describe: 'percent of packets held back and overtaken' },
  delay: { type: 'number', default: 0, describe: 'one-way delay added in ms' },
  jitter: { type: 'number', default: 0, describe: 'random extra delay up to this many ms' },
  corrupt: { type: 'number', default: 0, describe: 'percent of packets with one byte changed' },
  ce: { type: 'number', default: 0, describe: 'percent of ECN-capable (ECT) packets marked CE instead of dropped (each direction)' },
  rate: { type: 'number', default: 0, describe: 'bottleneck rate in Mbit/s (0 = none)' },
  seed: { type: 'number', default: 1, describe: 'seed of the fault injector PRNG' },
  msl: { type: 'number', default: 30, describe: 'maximum segment lifetime in seconds (TIME_WAIT lasts 2*MSL)' },
  cc: { choices: ['cubic', 'newreno', 'bbr'] as const, default: 'cubic' as const, describe: 'congestion control (bbr: draft-ietf-ccwg-bbr, paces itself)' },
  pacing: { type: 'boolean', default: false, describe: 'pace sending at 200 % (slow start) / 120 % of cwnd/SRTT, as Linux with the fq qdisc; off as with Linux\'s default qdisc' },
  ecn: {
    type: 'boolean',
    describe: 'ask for ECN in our SYNs (RFC 3168, as net.ipv4.tcp_ecn=1); by default a peer that asks gets it (tcp_ecn=2); --no-ecn: never',
  },
  'mtu-probing': {
    type: 'boolean',
    default: true,
    describe: 'RFC 4821 black-hole detection and path MTU probing (Linux tcp_mtu_probing=1); --no-mtu-probing: off, as Linux by default',
  },
  explain: { type: 'boolean', default: false, describe: 'print every state change of tuntcp with its cause and RFC rule' },
  lang: { choices: ['en', 'zh'] as const, default: 'en' as const, describe: 'language of explanations (with --explain)' },
  offload: {
    type: 'boolean',
    describe:
      'kernel checksum and segmentation offload on the TUN (IFF_VNET_HDR, TSO): up to 64 KiB per packet; ' +
      'on unless a fault flag is given; --no-offload: one packet per segment, as on the wire',
  },
  'tx-thread': {
    type: 'boolean',
    describe:
      'write packets to the TUN from a thread of the addon, so the kernel work of each write runs beside the stack ' +
      '(default: on when the machine has a core beyond the stack threads (--queues); --no-tx-thread: off)',
  },
} satisfies Record<string, Options>;

export interface StackArgs {
  tun: string;
  addr: string;
  peer: string;
  mtu: number;
  /** The stack's IPv6 address (absent: derived, see addr6.ts). */
  addr6?: string;
  /** The kernel side's IPv6 address/prefix (absent: derived). */
  peer6?: string;
  /** false: --no-ipv6. Absent: on (dual-stack). */
  ipv6?: boolean;
  pcap?: string;
  trace: boolean;
  absolute: boolean;
  loss: number;
  duplicate: number;
  reorder: number;
  delay: number;
  jitter: number;
  corrupt: number;
  /** Percent of ECT packets marked CE (absent: 0). */
  ce?: number;
  rate: number;
  seed: number;
  msl: number;
  cc: 'cubic' | 'newreno' | 'bbr';
  /** TcpConfig.pacing (absent: off). */
  pacing?: boolean;
  /** true: ask for ECN (tcp_ecn=1); false: off (0); absent: accept only (2). */
  ecn?: boolean;
  /** RFC 4821 probing (TcpConfig.mtuProbing); absent: on. */
  mtuProbing?: boolean;
  explain: boolean;
  lang: 'en' | 'zh';
  /** Kernel offloads on the TUN device (IFF_VNET_HDR + TUNSETOFFLOAD):
   * checksum offload and TSO/GSO, so one read or write carries up to 64 KiB.
   * Absent: on, unless a fault is injected (see offloadWanted). */
  offload?: boolean;
  /** TunOpenOptions.txThread: TUN writes from the addon's writer thread (absent: txThreadWanted decides). */
  txThread?: boolean;
}

/** Offload as Linux has it for its devices, on by default; off when faults
 * are injected, since the fault injector passes no offload metadata. */
export function offloadWanted(a: StackArgs): boolean {
  return a.offload ?? !hasFaults(a);
}

/**
 * The writer thread pays when it has a core of its own: each TUN write runs
 * the kernel's receive path, which then leaves the stack's thread (npm run
 * bench:txthread). With as many stack threads (--queues) as cores it would
 * only take turns with them, so it is off there unless asked for.
 */
export function txThreadWanted(a: StackArgs, queues: number, cores = availableParallelism()): boolean {
  return a.txThread ?? cores > queues;
}

/** Returns an error message for the first bad option, or null. */
export function checkStackArgs(a: StackArgs): string | null {
  if (!isIPv4(a.addr)) return `--addr ${a.addr} is not an IPv4 address`;
  const [peerIp, len, ...rest] = a.peer.split('/');
  const prefix = Number(len);
  if (!peerIp || !isIPv4(peerIp) || rest.length > 0 || !Number.isInteger(prefix) || prefix < 1 || prefix > 32)
    return `--peer ${a.peer} is not IPv4/prefix (e.g. 10.55.0.1/24)`;
  if (peerIp === a.addr) return '--addr and --peer must differ';
  if (!Number.isInteger(a.mtu) || a.mtu < 68 || a.mtu > 65535) return `--mtu ${a.mtu} is outside 68..65535`;
  const six = planIPv6(a);
  if (typeof six === 'string') return six;
  if (a.tun.length === 0 || a.tun.length > 15 || /[\s/]/.test(a.tun)) return `--tun ${a.tun} is not a valid interface name`;
  for (const k of ['loss', 'duplicate', 'reorder', 'corrupt', 'ce'] as const)
    if (!((a[k] ?? 0) >= 0 && (a[k] ?? 0) <= 100)) return `--${k} ${a[k]} is not a percentage`;
  for (const k of ['delay', 'jitter', 'rate'] as const) if (!(a[k] >= 0)) return `--${k} ${a[k]} must be >= 0`;
  if (!Number.isInteger(a.seed)) return `--seed ${a.seed} must be an integer`;
  if (!(a.msl > 0)) return `--msl ${a.msl} must be > 0`;
  if (a.offload === true && hasFaults(a)) return '--offload cannot be combined with fault injection (--loss, --delay, ...)';
  return null;
}
