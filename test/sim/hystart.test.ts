// Slow start's exit between two stacks in virtual time: a 20 Mbit/s
// bottleneck with a deep queue (1 MB, 400 ms) on a 20 ms path. Standard slow
// start doubles until the queue overflows and loses hundreds of segments;
// Linux's hybrid slow start (the default) and HyStart++ (RFC 9406) see the
// queue in the RTT and leave slow start long before.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { simPair, B_ADDR } from './harness.js';

async function transfer(hystart: boolean | 'rfc9406'): Promise<{ retransmits: number; detect: number; exits: number; ms: number }> {
  const sim = simPair({ latencyMs: 10, faults: { rate: 20_000_000, queueBytes: 1_000_000 }, tcp: { hystart } });
  let got = 0;
  sim.b.createServer((s) => s.on('data', (d: Buffer) => { got += d.length; })).listen(80);
  const c = sim.a.connect(80, B_ADDR);
  const size = 6 << 20;
  c.end(Buffer.alloc(size, 1));
  const t0 = sim.clock.now();
  assert.ok(await sim.until(() => got === size, 600_000), 'transfer ends');
  const r = {
    retransmits: sim.a.counters.get('tcp_retransmitted_segments'),
    detect: sim.a.counters.get('tcp_hystart_delay_detect') + sim.a.counters.get('tcp_hystart_train_detect'),
    exits: sim.a.counters.get('tcp_hystart_exits'),
    ms: sim.clock.now() - t0,
  };
  c.destroy();
  return r;
}

for (const variant of [true, 'rfc9406'] as const) {
  const name = variant === true ? 'Linux hybrid slow start' : 'HyStart++';
  test(`${name} leaves slow start on the queue's delay: far fewer retransmissions than standard slow start`, async () => {
    const on = await transfer(variant);
    const off = await transfer(false);
    if (process.env.TUNTCP_VERBOSE) console.log({ variant, on, off });
    assert.ok(on.detect >= 1, `delay or ACK train detected ${on.detect} times`);
    assert.is(off.detect, 0);
    assert.ok(on.retransmits * 4 < off.retransmits, `retransmissions: ${name} ${on.retransmits}, standard slow start ${off.retransmits}`);
    assert.ok(on.ms <= off.ms * 1.1, `time: ${on.ms} ms with ${name}, ${off.ms} ms without`);
  });
}

test.run();
