// The send queue (send-queue.ts) against a plain byte array on random
// workloads: writes of every size (many blocks), ACKs of any amount, and
// reads that mostly move forward (new data) but also jump back (retransmissions)
// and forward past several blocks, so the read cursor is moved, reset and
// carried across consume() in every way.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Prng } from '../../../src/link/prng.js';
import { SendQueue } from '../../../src/tcp/send-queue.js';

test('reads agree with a byte-array model over random writes, ACKs and reads', () => {
  const rng = new Prng(15);
  for (let round = 0; round < 30; round++) {
    const q = new SendQueue();
    let model = Buffer.alloc(0);
    let next = 0; // the byte written next, as a pattern
    let sent = 0; // offset of the next new-data read
    for (let step = 0; step < 300; step++) {
      const r = rng.int(10);
      if (r < 3) {
        const n = 1 + (rng.int(4) === 0 ? rng.int(300_000) : rng.int(3000));
        const data = Buffer.alloc(n);
        for (let i = 0; i < n; i++) data[i] = (next + i * 7) & 0xff;
        next += n;
        q.push(data);
        model = Buffer.concat([model, data]);
      } else if (r < 4 && model.length > 0) {
        const n = rng.int(model.length + 1);
        q.consume(n);
        model = model.subarray(n);
        sent = Math.max(0, sent - n);
      } else if (model.length > 0) {
        // Mostly the next segment; sometimes a retransmission from anywhere.
        let offset = rng.int(5) === 0 ? rng.int(model.length) : Math.min(sent, model.length - 1);
        if (rng.int(20) === 0) offset = model.length - 1;
        const len = 1 + rng.int(Math.min(model.length - offset, 66_000));
        const got = q.read(offset, len);
        assert.ok(got.equals(model.subarray(offset, offset + len)), `round ${round} step ${step}: read(${offset}, ${len})`);
        if (offset === sent) sent = offset + len;
      }
      assert.is(q.length, model.length);
    }
  }
});

test.run();
