// Pacing and receive-buffer autotuning between two stacks in virtual time:
// a bulk transfer over a 20 ms path with loss arrives intact with pacing on,
// and spread out (no two data segments of a window leave at the same instant
// once the rate is known); the receiver's autotuned buffer grows.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { simPair, B_ADDR } from './harness.js';
import type { Socket } from '../../src/socket/socket.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

for (const pacing of [true, false]) {
  test(`pacing ${pacing ? 'on' : 'off'}: 4 MB over 10 ms each way with 1 % loss arrive intact; the receive buffer autotunes`, async () => {
    const sim = simPair({ latencyMs: 10, faults: { loss: 1, seed: 7 }, tcp: { pacing } });
    const data = Buffer.alloc(4 << 20);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >> 11)) & 0xff;
    const got: Buffer[] = [];
    let ended = false;
    let srv: Socket | null = null;
    sim.b.createServer((s) => {
      srv = s;
      s.on('data', (d: Buffer) => got.push(d));
      s.on('end', () => { ended = true; s.end(); });
    }).listen(80);
    const c = sim.a.connect(80, B_ADDR);
    c.end(data);
    assert.ok(await sim.until(() => ended, 600_000), 'transfer ends');
    assert.is(sha(Buffer.concat(got)), sha(data));
    assert.ok(srv !== null);
    const delays = sim.a.counters.get('tcp_pacing_delays');
    if (pacing) assert.ok(delays > 100, `pacing held segments back ${delays} times`);
    else assert.is(delays, 0);
    assert.ok(sim.b.counters.get('tcp_rcvbuf_autotuned') > 0, 'the receiver grew its buffer');
  });
}

test.run();
