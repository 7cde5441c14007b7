// walkIPv6 against what Linux answered (test/fixtures/ipv6-linux.json, recorded
// by test/fixtures/ipv6-linux.py in a private namespace): delivered (Linux sent
// the RST of a closed port), a parameter problem with the same code and
// pointer, or silence. An unknown upper layer is "deliver" to the walker; the
// stack answers it as Linux does, code 1 at nextHeaderPointer.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { IPPROTO_TCP } from '../../../src/wire/ipv4.js';
import { walkIPv6, type Ip6Verdict } from '../../../src/wire/ipv6.js';
import { fixturePath } from './fixtures.js';
import { linuxCases } from './ipv6-linux-cases.js';

type Answer = { icmp6: number; code: number; pointer: number } | { tcp_flags: number } | null;
const recorded = JSON.parse(readFileSync(fixturePath('ipv6-linux.json'), 'utf8')) as { cases: Record<string, { hex: string; linux: Answer }> };

/** What Linux would have sent had it reached the same verdict. */
function expected(v: Ip6Verdict): Answer {
  switch (v.action) {
    case 'deliver':
      return v.protocol === IPPROTO_TCP ? { tcp_flags: 0x14 } : { icmp6: 4, code: 1, pointer: v.nextHeaderPointer };
    case 'param_problem':
      return { icmp6: 4, code: v.code, pointer: v.pointer };
    default:
      // Dropped, or a lone fragment waiting for the rest: nothing goes back.
      return null;
  }
}

test('the recorded cases are the ones ipv6-linux-cases.ts builds', () => {
  const built = linuxCases();
  assert.equal(Object.keys(built).sort(), Object.keys(recorded.cases).sort());
  for (const [name, pkt] of Object.entries(built)) assert.is(pkt.toString('hex'), recorded.cases[name]!.hex, name);
});

test('every verdict of the extension-header walk is the one Linux reached', () => {
  for (const [name, c] of Object.entries(recorded.cases)) {
    assert.equal(expected(walkIPv6(Buffer.from(c.hex, 'hex'))), c.linux, name);
  }
});

test.run();
