// Slow start in a simulated bulk transfer (20 ms each way): with the
// receiver's delayed ACKs (one per two segments) cwnd doubles every round
// trip, as with Linux's tcp_slow_start, instead of growing 1.5x as RFC 5681's
// one SMSS per ACK allows.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { measureSlowStart } from './slow-start.js';

for (const cc of ['cubic', 'newreno'] as const) {
  test(`${cc}: cwnd doubles per RTT while the receiver ACKs every second segment`, async () => {
    const run = await measureSlowStart({ latencyMs: 20, rate: 100_000_000, rtts: 6, cc });
    // The first RTT after the handshake ends before the first ACK is back (serialization at 100 Mbit/s).
    assert.equal(run.cwnd, [10, 10, 20, 40, 80, 160, 320]);
    const perAck = run.received / run.acks;
    assert.ok(perAck > 1.8 && perAck <= 2.05, `${perAck.toFixed(2)} segments per ACK`);
  });
}

test.run();
