// netstat over IPv6: tcp6 rows as net-tools prints them (`:::80`, long
// addresses cut to the column), the control socket's rows for IPv6
// connections and dual-stack listeners, and the ip6/icmp6 groups of -s.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatSocketRow, statGroup, type SocketRow } from '../../../src/trace/netstat.js';
import { socketRows } from '../../../src/trace/control.js';
import { simPair, A_ADDR6, B_ADDR6 } from '../../sim/harness.js';

const row6 = (o: Partial<SocketRow>): SocketRow => ({
  proto: 'tcp6', state: 'ESTABLISHED', recvQ: 0, sendQ: 0, localAddr: 'fd00::2', localPort: 80, remoteAddr: 'fd00::1', remotePort: 41234, ...o,
});

test('tcp6 rows line up like netstat -antp', () => {
  assert.is(formatSocketRow(row6({}), 7, 'tuntcp'), 'tcp6       0      0 fd00::2:80              fd00::1:41234           ESTABLISHED 7/tuntcp');
  assert.is(
    formatSocketRow(row6({ state: 'LISTEN', localAddr: '::', remoteAddr: '::', remotePort: 0, sendQ: 511 }), 7, 'tuntcp'),
    'tcp6       0    511 :::80                   :::*                    LISTEN      7/tuntcp',
  );
  // net-tools cuts the address so that address and port fit in 22 characters.
  assert.is(
    formatSocketRow(row6({ localAddr: '2001:db8:1234:5678::2', remoteAddr: '2001:db8:1234:5678:9abc::1' }), 7, 'tuntcp'),
    'tcp6       0      0 2001:db8:1234:5678:::80 2001:db8:1234:567:41234 ESTABLISHED 7/tuntcp',
  );
});

test('-s: ip6 and icmp6 groups; IPv6 drop reasons under drops', () => {
  assert.is(statGroup('ip6_in'), 'ip6');
  assert.is(statGroup('icmp6_echo_replied'), 'icmp6');
  assert.is(statGroup('ip6_not_for_us'), 'drops');
  assert.is(statGroup('ip6_frag_overlap'), 'drops');
});

test('the control socket: an IPv6 connection is a tcp6 row, a listener of both families a tcp6 ::: row', async () => {
  const sim = simPair({ ipv6: true });
  sim.b.createServer(() => {}).listen(80);
  sim.b.createServer(() => {}).listen(81, '0.0.0.0');
  let up = false;
  sim.a.connect(80, B_ADDR6).on('connect', () => { up = true; });
  assert.ok(await sim.until(() => up, 5_000));
  await sim.wait(10); // the handshake's last ACK reaches B
  const rows = socketRows(sim.b).map((r) => `${r.proto} ${r.localAddr}:${r.localPort} ${r.remoteAddr}:${r.remotePort} ${r.state}`);
  assert.ok(rows.includes('tcp6 :::80 :::0 LISTEN'), rows.join('\n'));
  assert.ok(rows.includes('tcp 10.0.0.2:81 0.0.0.0:0 LISTEN'), rows.join('\n'));
  assert.ok(rows.some((r) => r.startsWith(`tcp6 ${B_ADDR6}:80 ${A_ADDR6}:`) && r.endsWith('ESTABLISHED')), rows.join('\n'));
});

test.run();
