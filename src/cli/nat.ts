/**
 * `tuntcp connect --nat`: let the stack reach hosts beyond the TUN's kernel
 * side. The kernel forwards the stack's packets out of the default route's
 * interface and masquerades them behind that interface's address; replies
 * are de-masqueraded by conntrack and forwarded back into the TUN. IPv4 and
 * IPv6 alike, each through its own default route when there is one (IPv6:
 * the stack's unique-local prefix behind the host's address, NAT66).
 *
 *   tuntcp 10.55.0.2 --TUN-- 10.55.0.1 kernel --ip_forward--> default dev (masquerade)
 *   tuntcp fd00:0:a37::2 --TUN-- fd00:0:a37::1 kernel --forwarding--> default dev (masquerade)
 *
 * Everything set up here is undone exactly: one nftables table of our own per
 * family, `ip tuntcp_nat_<pid>` and `ip6 tuntcp_nat_<pid>`, deleted by name;
 * net.ipv4.ip_forward restored to the value it had; for IPv6,
 * net.ipv6.conf.all.forwarding, which Linux copies to `default` and every
 * device when written, and so every conf/<x>/forwarding is restored. While
 * IPv6 forwards, Linux ignores router advertisements on devices with
 * accept_ra=1 (routes already learned stay until their lifetime ends).
 * Nothing else (no policies, no other tables) is touched. Commands run with
 * argument arrays, never through a shell.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { ip6ToBytes, ip6ToString } from '../wire/ipv6.js';

const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';
const IP6_CONF = '/proc/sys/net/ipv6/conf';

export class NatError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'NatError';
    this.code = code;
  }
}

/** One family to masquerade: the TUN's subnet out of a default route's device. */
export interface NatOut {
  family: 4 | 6;
  /** The kernel side's address on the TUN with its prefix, e.g. '10.55.0.1/24', 'fd00:0:a37::1/64'. */
  peer: string;
  /** The default route's device for this family. */
  dev: string;
}

export interface NatHandle {
  /** The nftables tables holding the masquerade rules, e.g. ['ip tuntcp_nat_42', 'ip6 tuntcp_nat_42']. */
  tables: string[];
  /** Delete the tables and restore forwarding. Safe to call twice; never throws. */
  remove(): void;
}

function run(cmd: string, args: string[], input?: string): { ok: boolean; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 10_000 });
  if (r.error !== undefined) return { ok: false, stdout: '', stderr: r.error.message };
  return { ok: r.status === 0, stdout: r.stdout, stderr: r.stderr.trim().split('\n').join('; ') };
}

/** The device of the default IPv4 (or IPv6) route, or null when there is none. */
export function defaultRouteDevice(family: 4 | 6 = 4): string | null {
  const r = run('ip', ['-j', `-${family}`, 'route', 'show', 'default']);
  if (!r.ok) throw new NatError('EIPROUTE2', `ip -j -${family} route show default: ${r.stderr || 'failed'}`);
  let routes: unknown;
  try {
    routes = JSON.parse(r.stdout.trim() || '[]');
  } catch {
    throw new NatError('EIPROUTE2', 'ip -j route show default: output is not JSON');
  }
  if (!Array.isArray(routes)) return null;
  for (const route of routes as unknown[]) {
    const dev = (route as { dev?: unknown } | null)?.dev;
    if (typeof dev === 'string' && dev.length > 0) return dev;
  }
  return null;
}

/** '10.55.0.1/24' -> '10.55.0.0/24'. */
export function subnetOf(cidr: string): string {
  const [ip = '', len = ''] = cidr.split('/');
  const prefix = Number(len);
  const n = ip.split('.').reduce((acc, o) => ((acc << 8) | Number(o)) >>> 0, 0);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const net = (n & mask) >>> 0;
  return `${[24, 16, 8, 0].map((s) => (net >>> s) & 0xff).join('.')}/${prefix}`;
}

/** 'fd00:0:a37::1/64' -> 'fd00:0:a37::/64'. */
export function subnetOf6(cidr: string): string {
  const [ip = '', len = ''] = cidr.split('/');
  const prefix = Number(len);
  const b = ip6ToBytes(ip) ?? Buffer.alloc(16);
  for (let bit = prefix; bit < 128; bit++) b[bit >> 3] = b[bit >> 3]! & ~(0x80 >> (bit & 7));
  return `${ip6ToString(b, 0)}/${prefix}`;
}

/** The forwarding switches a family's write touches, with their values now. */
function forwardingFiles(family: 4 | 6): Map<string, string> {
  const files = family === 4 ? [IP_FORWARD] : readdirSync(IP6_CONF).map((d) => `${IP6_CONF}/${d}/forwarding`);
  const saved = new Map<string, string>();
  for (const f of files) {
    try {
      saved.set(f, readFileSync(f, 'utf8').trim());
    } catch (err) {
      // A device that went away meanwhile has nothing to restore; the switch itself must be readable.
      if (family === 4 || f.endsWith('/all/forwarding')) throw new NatError('ESYSCTL', `read ${f}: ${(err as Error).message}`);
    }
  }
  return saved;
}

/**
 * Enable forwarding and masquerade each family's TUN subnet out of its
 * device. Throws NatError; on failure whatever was already done is undone.
 */
export function enableNat(outs: NatOut[]): NatHandle {
  const table = `tuntcp_nat_${process.pid}`;
  for (const o of outs) {
    if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(o.dev)) throw new NatError('EINVAL', `default route device ${JSON.stringify(o.dev)} has an unexpected name`);
  }
  const tables: string[] = [];
  const restore: Array<Map<string, string>> = [];
  let removed = false;
  const remove = (): void => {
    if (removed) return;
    removed = true;
    for (const t of tables) run('nft', ['delete', 'table', ...t.split(' ')]);
    // The `all` switch first: writing it copies its value to every device.
    for (const saved of restore) {
      for (const [f, v] of [...saved].sort(([a], [b]) => Number(b.includes('/all/')) - Number(a.includes('/all/')))) {
        try {
          if (readFileSync(f, 'utf8').trim() !== v) writeFileSync(f, v);
        } catch {
          // nothing more we can do on the way out (the device may be gone)
        }
      }
    }
  };
  try {
    for (const o of outs) {
      const nft = o.family === 4 ? 'ip' : 'ip6';
      const subnet = o.family === 4 ? subnetOf(o.peer) : subnetOf6(o.peer);
      const script = [
        `table ${nft} ${table} {`,
        '  chain postrouting {',
        '    type nat hook postrouting priority srcnat; policy accept;',
        `    ${nft} saddr ${subnet} oifname "${o.dev}" masquerade`,
        '  }',
        '}',
        '',
      ].join('\n');
      const r = run('nft', ['-f', '-'], script);
      if (!r.ok) throw new NatError('ENFT', `nft: ${r.stderr || `failed to add the ${nft} masquerade table`}`);
      tables.push(`${nft} ${table}`);
      const saved = forwardingFiles(o.family);
      const sw = o.family === 4 ? IP_FORWARD : `${IP6_CONF}/all/forwarding`;
      if (saved.get(sw) !== '1') {
        restore.push(saved);
        try {
          writeFileSync(sw, '1');
        } catch (err) {
          throw new NatError('ESYSCTL', `write ${sw}: ${(err as Error).message}`);
        }
      }
    }
  } catch (err) {
    remove();
    throw err;
  }
  return { tables, remove };
}
