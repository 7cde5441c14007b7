// Two stacks in virtual time, the receiver forced to renege on SACKed data
// (RFC 2018 §8), as Linux does when it prunes its out-of-order queue under
// memory pressure. The sender must notice and resend, not stall.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { simPair, B_ADDR } from './harness.js';
import { Prng } from '../../src/link/prng.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

test('a receiver that drops what it SACKed: the sender sees the reneging and the transfer completes', async () => {
  const sim = simPair({ latencyMs: 10, faults: { loss: 2, seed: 11 } });
  const r = new Prng(5);
  const data = Buffer.allocUnsafe(2 << 20);
  for (let i = 0; i < data.length; i++) data[i] = r.int(256);
  const got: Buffer[] = [];
  let ended = false;
  sim.b.createServer((s) => {
    s.on('data', (d: Buffer) => got.push(d));
    s.on('end', () => { ended = true; });
  }).listen(9);
  const c = sim.a.connect(9, B_ADDR);
  c.end(data);
  // Every fifth time the receiver is seen holding out-of-order data (which it SACKed at
  // once), it drops all of it, twenty times in all.
  let seen = 0;
  let reneged = 0;
  const renege = (): void => {
    for (const ep of sim.b.connections()) {
      if (reneged < 20 && ep.conn.recvBuffer.hasOutOfOrder && ++seen % 5 === 0) {
        ep.conn.recvBuffer.renege();
        reneged++;
      }
    }
  };
  const done = await sim.until(() => {
    renege();
    return ended;
  }, 120_000);
  assert.ok(done, `transfer finished: ${got.reduce((n, b) => n + b.length, 0)} of ${data.length} bytes by ${sim.clock.now()} ms, ${reneged} reneged`);
  assert.is(reneged, 20, 'the receiver reneged');
  assert.is(sha(Buffer.concat(got)), sha(data));
  assert.ok(sim.a.counters.get('tcp_sack_reneging') > 0, 'the sender saw it');
});

test.run();
