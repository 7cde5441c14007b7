// The rarer paths of the state diagram, two stacks in virtual time:
// simultaneous open (SYN_RECEIVED from SYN_SENT), simultaneous close
// (CLOSING), and a new SYN that reuses a 4-tuple in TIME_WAIT.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { simPair, A_ADDR, B_ADDR } from './harness.js';
import type { TcpState } from '../../src/tcp/state.js';
import type { NetStack } from '../../src/socket/net-stack.js';

function track(s: NetStack, port: number): TcpState[] {
  const seen: TcpState[] = [];
  s.observeState((ep, _from, to) => { if (ep.localPort === port) seen.push(to); });
  return seen;
}

test('simultaneous open: SYN_SENT -> SYN_RECEIVED -> ESTABLISHED on both sides', async () => {
  const sim = simPair({ latencyMs: 10 });
  const sa = track(sim.a, 6000);
  const sb = track(sim.b, 5000);
  const a = sim.a.connect({ port: 5000, host: B_ADDR, localPort: 6000 });
  const b = sim.b.connect({ port: 6000, host: A_ADDR, localPort: 5000 });
  let got = '';
  b.setEncoding('utf8');
  b.on('data', (d: string) => { got += d; });
  a.write('crossed SYNs');
  assert.ok(await sim.until(() => got === 'crossed SYNs', 5000));
  assert.equal(sa, ['SYN_SENT', 'SYN_RECEIVED', 'ESTABLISHED']);
  assert.equal(sb, ['SYN_SENT', 'SYN_RECEIVED', 'ESTABLISHED']);
  a.destroy();
  b.destroy();
});

test('simultaneous close: FIN_WAIT_1 -> CLOSING -> TIME_WAIT on both sides', async () => {
  const sim = simPair({ latencyMs: 10 });
  let srv: import('../../src/socket/socket.js').Socket | null = null;
  sim.b.createServer({ allowHalfOpen: true }, (s) => { srv = s; s.resume(); }).listen(80);
  const a = sim.a.connect({ port: 80, host: B_ADDR, allowHalfOpen: true });
  a.resume();
  await sim.until(() => srv !== null, 1000);
  const sa = track(sim.a, a.localPort!);
  const sb = track(sim.b, 80);
  a.end();
  srv!.end();
  assert.ok(await sim.until(() => a.tcpState === 'TIME_WAIT' && srv!.tcpState === 'TIME_WAIT', 2000));
  assert.equal(sa, ['FIN_WAIT_1', 'CLOSING', 'TIME_WAIT']);
  assert.equal(sb, ['FIN_WAIT_1', 'CLOSING', 'TIME_WAIT']);
  assert.ok(await sim.until(() => a.tcpState === 'CLOSED' && srv!.tcpState === 'CLOSED', 61_000));
});

test('a new SYN with a higher sequence number reuses a 4-tuple in TIME_WAIT', async () => {
  const sim = simPair({ latencyMs: 1 });
  let n = 0;
  sim.b.createServer((s) => {
    n++;
    s.resume();
    s.end(`conn ${n}`); // the server closes first and ends in TIME_WAIT
  }).listen(80);
  const once = async (): Promise<string> => {
    const c = sim.a.connect({ port: 80, host: B_ADDR, localPort: 40000 });
    let text = '';
    let done = false;
    c.setEncoding('utf8');
    c.on('data', (d: string) => { text += d; });
    c.on('close', () => { done = true; });
    await sim.until(() => done, 2000);
    return text;
  };
  assert.is(await once(), 'conn 1');
  await sim.wait(50);
  const tw = [...sim.b.connections()].find((ep) => ep.remotePort === 40000);
  assert.is(tw?.conn.state, 'TIME_WAIT');
  // The client's TCB is gone (it closed second), so the same 4-tuple can be used again.
  assert.is(await once(), 'conn 2');
  assert.is(sim.b.counters.get('tcp_time_wait_reused'), 1);
});

test('ephemeral ports skip a 4-tuple that is still in TIME_WAIT', async () => {
  const sim = simPair({ latencyMs: 1 });
  sim.b.createServer((s) => s.resume()).listen(80);
  const c = sim.a.connect({ port: 80, host: B_ADDR });
  c.resume();
  await sim.until(() => c.tcpState === 'ESTABLISHED', 1000);
  c.end();
  await sim.until(() => c.tcpState === 'TIME_WAIT', 1000);
  const used = new Set<number>([c.localPort!]);
  for (let i = 0; i < 50; i++) {
    const d = sim.a.connect({ port: 80, host: B_ADDR });
    assert.not.ok(used.has(d.localPort!), `port ${d.localPort} reused while in TIME_WAIT`);
    used.add(d.localPort!);
    d.destroy();
  }
});

test.run();
