// `tuntcp demo` (npm start): exits 0 within a minute, shows every step of
// both connections' lives with explanations, in English and in Chinese.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertPrivateNamespace, run, linkExists, CLI } from './lab.js';

assertPrivateNamespace();

test('demo in English: handshake, GET, both close orders, a retransmission; exit 0 within a minute', async () => {
  const t0 = Date.now();
  const r = await run(process.execPath, [CLI, 'demo'], 60_000);
  const secs = (Date.now() - t0) / 1000;
  assert.is(r.code, 0, r.stderr);
  assert.ok(secs < 60, `took ${secs} s`);
  const out = r.stdout;
  for (const want of [
    'MSL is shortened to 2 s',
    'Flags [S], seq',
    'Flags [S.], seq',
    'CLOSED -> SYN_SENT',
    'SYN_SENT -> ESTABLISHED',
    'HTTP/1.1 200 OK',
    'Hello from the Linux kernel side',
    'ESTABLISHED -> FIN_WAIT_1',
    'FIN_WAIT_1 -> FIN_WAIT_2',
    'FIN_WAIT_2 -> TIME_WAIT',
    '(timewait ',
    'TIME_WAIT -> CLOSED  2MSL timer expired',
    'LISTEN -> SYN_RECEIVED',
    'SYN_RECEIVED -> ESTABLISHED',
    'ESTABLISHED -> CLOSE_WAIT',
    'CLOSE_WAIT -> LAST_ACK',
    'LAST_ACK -> CLOSED',
    'TIME-WAIT',
    '! dropped on purpose',
    '! retransmission: seq 1:27',
    '[RFC 9293 §3.10.7.3]',
    '--ladder', // the pictures are mentioned at the end (issue 14)
    '--html',
  ]) {
    assert.ok(out.includes(want), `missing: ${want}`);
  }
  // The states come in the order of the steps.
  assert.ok(out.indexOf('FIN_WAIT_2 -> TIME_WAIT') < out.indexOf('CLOSE_WAIT -> LAST_ACK'));
  assert.ok(out.indexOf('CLOSE_WAIT -> LAST_ACK') < out.indexOf('! retransmission'));
  assert.not.match(out, /IP6 /, 'IPv6 noise is silenced');
  assert.not.ok(linkExists('tdemo0'), 'the device lived in the demo\'s own namespace');
});

test('demo --lang zh: Chinese explanations and headings', async () => {
  const r = await run(process.execPath, [CLI, 'demo', '--lang', 'zh'], 60_000);
  assert.is(r.code, 0, r.stderr);
  for (const want of ['tuntcp 演示', '收到对 SYN,ACK 的确认：三次握手完成', '四次挥手完成', '故意丢弃', '重传', 'SYN_SENT -> ESTABLISHED']) {
    assert.ok(r.stdout.includes(want), `missing: ${want}`);
  }
});

test.run();
