import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { planIPv6, type IPv6Flags } from '../../../src/cli/addr6.js';
import { checkStackArgs } from '../../../src/cli/options.js';
import { stackArgs } from '../../kernel/lab.js';

const plan = (f: Partial<IPv6Flags>) => planIPv6({ addr: '10.55.0.2', peer: '10.55.0.1/24', ...f });

test('default: fd00:0:<IPv4 network>::/64, host bits of --peer and --addr', () => {
  assert.equal(plan({}), { addr6: 'fd00:0:a37::2', peer6: 'fd00:0:a37::1/64' });
  assert.equal(plan({ addr: '192.168.7.200', peer: '192.168.7.1/24' }), { addr6: 'fd00:0:c0a8:700::c8', peer6: 'fd00:0:c0a8:700::1/64' });
  assert.equal(plan({ addr: '10.56.1.2', peer: '10.56.0.1/16' }), { addr6: 'fd00:0:a38::102', peer6: 'fd00:0:a38::1/64' });
});

test('two stacks on different --peer networks never share a prefix', () => {
  const a = plan({ addr: '10.55.0.2', peer: '10.55.0.1/24' });
  const b = plan({ addr: '10.56.0.2', peer: '10.56.0.1/24' });
  assert.is.not((a as { peer6: string }).peer6, (b as { peer6: string }).peer6);
});

test('host bits that say nothing: the whole IPv4 addresses are the low 32 bits', () => {
  // /32: no host bits at all
  assert.equal(plan({ addr: '10.66.0.2', peer: '10.55.0.1/32' }), { addr6: 'fd00:0:a37:1::a42:2', peer6: 'fd00:0:a37:1::a37:1/64' });
  // --addr outside --peer's subnet
  assert.equal(plan({ addr: '10.99.0.2', peer: '10.55.0.1/24' }), { addr6: 'fd00:0:a37::a63:2', peer6: 'fd00:0:a37::a37:1/64' });
  // the peer is the network address itself
  assert.equal(plan({ addr: '10.55.0.2', peer: '10.55.0.0/24' }), { addr6: 'fd00:0:a37::a37:2', peer6: 'fd00:0:a37::a37:0/64' });
});

test('--peer6 alone: --addr6 takes the derived host bits inside it', () => {
  assert.equal(plan({ peer6: '2001:db8:1::1/64' }), { addr6: '2001:db8:1::2', peer6: '2001:db8:1::1/64' });
  assert.equal(plan({ peer6: '2001:db8::1/120' }), { addr6: '2001:db8::2', peer6: '2001:db8::1/120' });
  assert.match(plan({ peer6: '2001:db8::1/128' }) as string, /give --addr6/);
  assert.match(plan({ peer6: '2001:db8::2/64' }) as string, /give --addr6/);
});

test('--addr6 alone keeps the derived --peer6; both given are taken as they are', () => {
  assert.equal(plan({ addr6: 'fd00:0:a37::99' }), { addr6: 'fd00:0:a37::99', peer6: 'fd00:0:a37::1/64' });
  assert.equal(plan({ addr6: '2001:db8:9::2', peer6: 'FD00::1/8' }), { addr6: '2001:db8:9::2', peer6: 'fd00::1/8' });
});

test('bad flags: each with its own message', () => {
  assert.is(plan({ ipv6: false }), null);
  assert.match(plan({ ipv6: false, addr6: 'fd00::2' }) as string, '--no-ipv6 cannot be combined');
  assert.match(plan({ addr6: '10.55.0.2' }) as string, 'is not an IPv6 address');
  assert.match(plan({ addr6: 'fe80::1%eth0' }) as string, 'is not an IPv6 address');
  assert.match(plan({ peer6: 'fd00::1' }) as string, 'is not IPv6/prefix');
  assert.match(plan({ peer6: 'fd00::1/0' }) as string, 'is not IPv6/prefix');
  assert.match(plan({ peer6: 'fd00::1/129' }) as string, 'is not IPv6/prefix');
  assert.match(plan({ addr6: 'fd00:0:a37::1' }) as string, 'must differ');
  assert.match(plan({ addr6: 'ff02::1' }) as string, 'multicast');
  assert.match(plan({ addr6: '::' }) as string, 'unspecified');
  assert.match(plan({ addr6: '::1' }) as string, 'loopback');
  assert.match(plan({ addr6: '::ffff:10.55.0.2' }) as string, 'IPv4-mapped');
  assert.match(plan({ peer6: 'ff02::1/64' }) as string, 'multicast');
});

test('checkStackArgs reports the IPv6 flags too', () => {
  assert.is(checkStackArgs(stackArgs()), null);
  assert.is(checkStackArgs(stackArgs({ ipv6: false })), null);
  assert.match(checkStackArgs(stackArgs({ addr6: 'nope' })) ?? '', '--addr6 nope');
});

test.run();
