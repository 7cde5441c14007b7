/**
 * tuntcp <-> tuntcp in one process: two NetStacks over the in-memory link
 * (src/link/memory.ts) on the real clock. No kernel and no system calls, so
 * this is what the TCP code itself costs: both stacks' segmentation, ACKs,
 * checksums and socket streams on one core. With `offload` the link is like
 * Linux loopback: no checksums, super-segments of up to 64 KiB. Time-bounded (at most `maxBytes`
 * or `seconds`, whichever comes first) so a slow build still finishes.
 */
import { createMemoryPair } from '../../src/link/memory.js';
import { RealClock } from '../../src/stack/clock.js';
import { NetStack } from '../../src/socket/net-stack.js';
import { pump, sink } from './flow.js';
import { ownCpuSeconds, sleep } from './proc.js';
import type { InprocRow } from './results.js';

export async function inprocRow(mtu: number, offload: boolean, maxBytes: number, seconds: number): Promise<InprocRow> {
  const clock = new RealClock();
  const [la, lb] = createMemoryPair({ mtu, offload });
  const a = new NetStack({ link: la, addr: '10.0.0.1', clock, tcp: { msl: 1000 } });
  const b = new NetStack({ link: lb, addr: '10.0.0.2', clock, tcp: { msl: 1000 } });
  try {
    const k = sink();
    b.createServer(k.handler).listen(5001);
    const cpu0 = process.cpuUsage();
    const stopAt = performance.now() + seconds * 1000;
    const s = a.connect({ port: 5001, host: '10.0.0.2' });
    const sent = await pump(s, maxBytes, () => performance.now() > stopAt);
    // Everything written must arrive: wait for the FIN at the receiver.
    await Promise.race([k.done, sleep(30_000)]);
    const cpu = ownCpuSeconds(cpu0);
    const row: InprocRow = {
      mtu,
      offload,
      bytes: k.bytes,
      seconds: k.secs(),
      gbitPerSec: (k.bytes * 8) / k.secs() / 1e9,
      cpuPerGB: cpu / (k.bytes / 1e9),
      retransmits: a.counters.get('tcp_retransmitted_segments'),
    };
    if (!k.ended || k.bytes !== sent) row.error = `received ${k.bytes} of ${sent} bytes`;
    return row;
  } finally {
    void a.close({ linger: 0 });
    void b.close({ linger: 0 });
  }
}
