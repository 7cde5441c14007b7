/**
 * `tuntcp connect --nat`: let the stack reach hosts beyond the TUN's kernel
 * side. The kernel forwards the stack's packets out of the default route's
 * interface and masquerades them behind that interface's address; replies
 * are de-masqueraded by conntrack and forwarded back into the TUN.
 *
 *   tuntcp 10.55.0.2 --TUN-- 10.55.0.1 kernel --ip_forward--> default dev (masquerade)
 *
 * Everything set up here is undone exactly: one nftables table of our own,
 * `ip tuntcp_nat_<pid>`, deleted by name, and net.ipv4.ip_forward restored to
 * the value it had. Nothing else (no policies, no other tables) is touched.
 * Commands run with argument arrays, never through a shell.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';

export class NatError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'NatError';
    this.code = code;
  }
}

export interface NatHandle {
  /** The nftables table (family ip) holding the masquerade rule. */
  table: string;
  /** The default route's device the stack's packets leave through. */
  dev: string;
  /** The TUN subnet being masqueraded, e.g. '10.55.0.0/24'. */
  subnet: string;
  /** Delete the table and restore ip_forward. Safe to call twice; never throws. */
  remove(): void;
}

function run(cmd: string, args: string[], input?: string): { ok: boolean; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 10_000 });
  if (r.error !== undefined) return { ok: false, stdout: '', stderr: r.error.message };
  return { ok: r.status === 0, stdout: r.stdout, stderr: r.stderr.trim().split('\n').join('; ') };
}

/** The device of the default IPv4 route, or null when there is none. */
export function defaultRouteDevice(): string | null {
  const r = run('ip', ['-j', '-4', 'route', 'show', 'default']);
  if (!r.ok) throw new NatError('EIPROUTE2', `ip -j route show default: ${r.stderr || 'failed'}`);
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

/**
 * Enable forwarding and masquerade `peerCidr`'s subnet out of `dev`.
 * Throws NatError; on failure whatever was already done is undone.
 */
export function enableNat(peerCidr: string, dev: string): NatHandle {
  const subnet = subnetOf(peerCidr);
  const table = `tuntcp_nat_${process.pid}`;
  if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(dev)) throw new NatError('EINVAL', `default route device ${JSON.stringify(dev)} has an unexpected name`);
  let oldForward: string;
  try {
    oldForward = readFileSync(IP_FORWARD, 'utf8').trim();
  } catch (err) {
    throw new NatError('ESYSCTL', `read ${IP_FORWARD}: ${(err as Error).message}`);
  }
  let tableMade = false;
  let forwardSet = false;
  let removed = false;
  const remove = (): void => {
    if (removed) return;
    removed = true;
    if (tableMade) run('nft', ['delete', 'table', 'ip', table]);
    if (forwardSet) {
      try {
        writeFileSync(IP_FORWARD, oldForward);
      } catch {
        // nothing more we can do on the way out
      }
    }
  };
  const script = [
    `table ip ${table} {`,
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    ip saddr ${subnet} oifname "${dev}" masquerade`,
    '  }',
    '}',
    '',
  ].join('\n');
  const r = run('nft', ['-f', '-'], script);
  if (!r.ok) throw new NatError('ENFT', `nft: ${r.stderr || 'failed to add the masquerade table'}`);
  tableMade = true;
  try {
    if (oldForward !== '1') {
      writeFileSync(IP_FORWARD, '1');
      forwardSet = true;
    }
  } catch (err) {
    remove();
    throw new NatError('ESYSCTL', `write ${IP_FORWARD}: ${(err as Error).message}`);
  }
  return { table, dev, subnet, remove };
}
