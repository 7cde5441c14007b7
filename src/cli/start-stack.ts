/**
 * Builds a running stack from the common CLI options: the TUN device and its
 * kernel-side setup, the optional fault injector, the observer tap with pcap
 * and trace output, and a clean shutdown that removes the device on
 * SIGINT/SIGTERM.
 */
import type { Link } from '../link/link.js';
import { TunLink } from '../link/tun.js';
import { configureTun, deleteTun } from '../link/netdev.js';
import { FaultLink, hasFaults } from '../link/fault.js';
import { TapLink } from '../link/tap.js';
import { joinPacket } from '../link/link.js';
import { RealClock } from '../stack/clock.js';
import { NetStack } from '../socket/net-stack.js';
import { PcapWriter } from '../trace/pcap.js';
import { TcpdumpFormatter } from '../trace/tcpdump.js';
import { formatClock } from '../trace/time.js';
import { openControlSocket } from '../trace/control.js';
import { explainTransition } from '../trace/explain.js';
import { offloadWanted, type StackArgs } from './options.js';

export interface RunningStack {
  stack: NetStack;
  tap: TapLink;
  /** Close everything and remove the device. Safe to call twice. */
  shutdown(): void;
}

export function startStack(a: StackArgs): RunningStack {
  if (a.offload === true && hasFaults(a)) {
    throw Object.assign(new Error('offload cannot be combined with fault injection'), { code: 'EINVAL' });
  }
  const tun = TunLink.open({ name: a.tun, mtu: a.mtu, offload: offloadWanted(a) });
  let pcap: PcapWriter | null = null;
  try {
    configureTun({ name: tun.name, peer: a.peer, addr: a.addr, mtu: a.mtu });
    const clock = new RealClock();
    let link: Link = tun;
    if (hasFaults(a)) {
      link = new FaultLink(
        tun,
        { loss: a.loss, duplicate: a.duplicate, reorder: a.reorder, corrupt: a.corrupt, delay: a.delay, jitter: a.jitter, rate: a.rate * 1e6, seed: a.seed },
        clock,
      );
    }
    const tap = new TapLink(link);
    if (a.pcap !== undefined) {
      const writer = new PcapWriter(a.pcap);
      pcap = writer;
      tap.observe((_dir, header, payload) => writer.write(payload ? [header, payload] : header));
    }
    if (a.trace) {
      const fmt = new TcpdumpFormatter({ absolute: a.absolute });
      tap.observe((_dir, header, payload) => {
        process.stdout.write(`${formatClock(new Date())} ${fmt.format(joinPacket(header, payload))}\n`);
      });
    }
    const stack = new NetStack({ link: tap, addr: a.addr, clock, tcp: { msl: a.msl * 1000, cc: a.cc } });
    const control = openControlSocket(stack, { program: 'tuntcp' }); // for `tuntcp netstat`
    if (a.explain) {
      stack.observeState((ep, from, to, cause) => {
        process.stdout.write(`${formatClock(new Date())} * ${explainTransition(`tuntcp :${ep.localPort}`, from, to, cause, a.lang)}\n`);
      });
    }
    let done = false;
    const shutdown = (): void => {
      if (done) return;
      done = true;
      control.close();
      stack.close();
      pcap?.close();
      deleteTun(tun.name);
    };
    return { stack, tap, shutdown };
  } catch (err) {
    tun.close();
    pcap?.close();
    deleteTun(tun.name);
    throw err;
  }
}

/** Run until SIGINT or SIGTERM, then shut down and exit 0. */
export function runUntilSignal(r: RunningStack): void {
  const stop = (): void => {
    r.shutdown();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
