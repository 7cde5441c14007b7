// The connection table: numeric keys must keep every 4-tuple apart and keep insertion order.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EndpointTable, TcpEndpoint, type EndpointOwner } from '../../../src/stack/endpoint.js';
import type { Connection } from '../../../src/tcp/connection.js';
import { ipToNumber } from '../../../src/wire/ipv4.js';

const owner = {} as EndpointOwner;
const conn = {} as Connection;
const ep = (remote: string, remotePort: number, localPort: number): TcpEndpoint =>
  new TcpEndpoint(owner, conn, '10.0.0.2', localPort, remote, remotePort);

test('4-tuples that share any two parts stay apart; remove takes only the holder', () => {
  const t = new EndpointTable();
  const eps = [
    ep('10.0.0.1', 40000, 80),
    ep('10.0.0.1', 40000, 81), // same remote, other local port
    ep('10.0.0.1', 40001, 80), // other remote port
    ep('255.255.255.255', 65535, 65535), // the largest key
    ep('0.0.0.1', 40000, 80), // other remote address
  ];
  for (const e of eps) t.add(e);
  for (const e of eps) assert.is(t.get(e.remoteIp, e.remotePort, e.localPort), e);
  assert.is(t.get(ipToNumber('10.0.0.1'), 40002, 80), undefined);
  assert.ok(t.usesPort(81));
  assert.not.ok(t.usesPort(82));
  const stranger = ep('10.0.0.1', 40000, 81);
  t.remove(stranger);
  assert.is(t.get(stranger.remoteIp, 40000, 81), eps[1], 'not the holder: nothing removed');
  t.remove(eps[1]!);
  assert.is(t.get(stranger.remoteIp, 40000, 81), undefined);
  assert.not.ok(t.usesPort(81));
  assert.equal([...t.values()], [eps[0], eps[2], eps[3], eps[4]], 'insertion order');
});

test('add replaces the holder of a 4-tuple; the newcomer goes last', () => {
  const t = new EndpointTable();
  const a = ep('10.0.0.1', 1, 2);
  const b = ep('10.0.0.3', 1, 2);
  const a2 = ep('10.0.0.1', 1, 2);
  t.add(a);
  t.add(b);
  t.add(a2);
  assert.is(t.get(a.remoteIp, 1, 2), a2);
  assert.equal([...t.values()], [b, a2]);
});

test.run();
