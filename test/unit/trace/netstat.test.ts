// The netstat formatting with exact lines: state spellings, the `netstat -antp`
// columns, TIME_WAIT's time left, and the -s grouping. Also the control
// socket's answers to good and bad requests, on a stack over an in-memory link.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ALL_STATES } from '../../../src/tcp/state.js';
import {
  NETSTAT_HEADER, formatSocketRow, formatStats, formatTable, netstatState, statGroup, type SocketRow,
} from '../../../src/trace/netstat.js';
import { answer } from '../../../src/trace/control.js';
import type { NetStack } from '../../../src/socket/net-stack.js';
import { simPair, A_ADDR } from '../../sim/harness.js';

const row = (o: Partial<SocketRow>): SocketRow => ({
  proto: 'tcp', state: 'ESTABLISHED', recvQ: 0, sendQ: 0,
  localAddr: '10.55.0.2', localPort: 7, remoteAddr: '10.55.0.1', remotePort: 40000, ...o,
});

test('states are spelled like Linux netstat', () => {
  assert.equal(ALL_STATES.map(netstatState), [
    'CLOSE', 'LISTEN', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT1', 'FIN_WAIT2', 'CLOSE_WAIT', 'CLOSING', 'LAST_ACK', 'TIME_WAIT',
  ]);
});

test('header and rows line up like netstat -antp', () => {
  assert.is(NETSTAT_HEADER, 'Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name');
  assert.is(
    formatSocketRow(row({ state: 'LISTEN', remoteAddr: '0.0.0.0', remotePort: 0, sendQ: 128 }), 4242, 'tuntcp'),
    'tcp        0    128 10.55.0.2:7             0.0.0.0:*               LISTEN      4242/tuntcp',
  );
  assert.is(
    formatSocketRow(row({ recvQ: 12, sendQ: 345678 }), 4242, 'tuntcp'),
    'tcp       12 345678 10.55.0.2:7             10.55.0.1:40000         ESTABLISHED 4242/tuntcp',
  );
  assert.is(
    formatSocketRow(row({ localPort: 51000, remotePort: 9000, state: 'TIME_WAIT', timeWaitLeftMs: 57_349 }), 1, 'tuntcp'),
    'tcp        0      0 10.55.0.2:51000         10.55.0.1:9000          TIME_WAIT   1/tuntcp (timewait 57.3s)',
  );
});

test('table: listeners first, then by port; no stacks -> a note', () => {
  assert.equal(formatTable([]), [NETSTAT_HEADER, '(no tuntcp stacks running)']);
  const lines = formatTable([
    { pid: 9, program: 'tuntcp', addr: '10.55.0.2', sockets: [row({ remotePort: 40001 }), row({ state: 'LISTEN', remoteAddr: '0.0.0.0', remotePort: 0 }), row({})] },
  ]);
  assert.equal(lines.slice(1).map((l) => l.split(/\s+/).slice(3, 6).join(' ')), [
    '10.55.0.2:7 0.0.0.0:* LISTEN',
    '10.55.0.2:7 10.55.0.1:40000 ESTABLISHED',
    '10.55.0.2:7 10.55.0.1:40001 ESTABLISHED',
  ]);
});

test('-s groups every counter once, with a fixed skeleton of zeros', () => {
  assert.is(statGroup('tcp_bad_checksum'), 'checksum errors');
  assert.is(statGroup('ip_not_for_us'), 'drops');
  assert.is(statGroup('tcp_rst_sent'), 'rst');
  assert.is(statGroup('tcp_rst_ratelimited'), 'rst');
  assert.is(statGroup('tcp_syncookies_sent'), 'tcp');
  assert.is(statGroup('tcp_syn_retransmitted'), 'retransmissions');
  assert.is(statGroup('tcp_in'), 'tcp');
  assert.is(statGroup('stack_internal_error'), 'other');
  const out = formatStats([{ pid: 7, program: 'tuntcp', addr: '10.55.0.2', counters: { ip_in: 3, tcp_in: 2, dropped: 1, ip_not_for_us: 1 } }]);
  assert.equal(out, [
    '7/tuntcp 10.55.0.2:',
    'ip:',
    '    ip_in: 3',
    '    ip_out: 0',
    'icmp:',
    '    icmp_echo_replied: 0',
    '    icmp_in: 0',
    'tcp:',
    '    tcp_active_opens: 0',
    '    tcp_in: 2',
    '    tcp_out: 0',
    '    tcp_passive_opens: 0',
    'rst:',
    '    tcp_rst_received: 0',
    '    tcp_rst_sent: 0',
    'retransmissions:',
    '    tcp_fast_retransmits: 0',
    '    tcp_retransmitted_segments: 0',
    '    tcp_rto_expired: 0',
    'checksum errors:',
    '    icmp_bad_checksum: 0',
    '    ip_bad_checksum: 0',
    '    tcp_bad_checksum: 0',
    'drops:',
    '    dropped: 1',
    '    ip_not_for_us: 1',
  ]);
  assert.equal(formatStats([]), ['(no tuntcp stacks running)']);
});

test('control answers: sockets with TIME_WAIT time left, stats, and errors for bad requests', async () => {
  const { a: srv, b: cli, until } = simPair({ tcp: { msl: 1000 } });
  srv.createServer((s) => { s.resume(); s.on('end', () => s.end()); }).listen(7);
  const c = cli.connect(7, A_ADDR);
  let connected = false;
  c.on('connect', () => (connected = true));
  assert.ok(await until(() => connected));
  const parse = (stack: NetStack, req: string): Record<string, unknown> => JSON.parse(answer(stack, 'tuntcp', req)) as Record<string, unknown>;
  const rowsOf = (stack: NetStack): SocketRow[] => parse(stack, '{"cmd":"sockets"}').sockets as SocketRow[];
  assert.ok(await until(() => rowsOf(srv).some((r) => r.state === 'ESTABLISHED')));
  const open = parse(srv, '{"cmd":"sockets"}');
  assert.is(open.ok, true);
  assert.is(open.pid, process.pid);
  assert.is(open.addr, A_ADDR);
  assert.equal(rowsOf(srv).map((r) => `${r.state} ${r.localPort} ${r.remotePort}`), ['LISTEN 7 0', `ESTABLISHED 7 ${c.localPort}`]);
  c.resume();
  c.end(); // the client closes first: it ends in TIME_WAIT for 2*MSL = 2s
  assert.ok(await until(() => rowsOf(cli)[0]?.state === 'TIME_WAIT', 1000));
  const tw = rowsOf(cli)[0]!;
  assert.ok(tw.timeWaitLeftMs! > 1500 && tw.timeWaitLeftMs! <= 2000, String(tw.timeWaitLeftMs));
  const stats = parse(srv, '{"cmd":"stats"}');
  assert.ok(((stats.counters as Record<string, number>).tcp_in ?? 0) > 0);
  assert.equal(parse(srv, 'nonsense'), { ok: false, error: 'request is not JSON' });
  assert.is(parse(srv, '{"cmd":"reboot"}').ok, false);
  assert.is(parse(srv, 'null').ok, false);
  assert.is(parse(srv, '').ok, false);
});

test.run();
