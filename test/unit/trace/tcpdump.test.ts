// The formatter against tcpdump itself: for every fixture packet, our line must
// equal what `tcpdump -nn [-S] -r FILE` prints after the timestamp. tcpdump runs
// live when installed; the stored *.tcpdump*.txt (tcpdump 4.99.3) are always
// checked too, so the test cannot pass silently without it.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readPcap, recordToIPv4 } from '../../../src/trace/pcap.js';
import { TcpdumpFormatter } from '../../../src/trace/tcpdump.js';
import { buildTcpPacket, TCP_SYN } from '../../../src/wire/tcp.js';
import { fixturePackets, fixturePath, prng, testSeed } from '../wire/fixtures.js';
import { syntheticPackets } from './synthetic.js';

const FIXTURES = ['kernel-basic', 'kernel-sack', 'synthetic', 'ipv6'];
const hasTcpdump = spawnSync('tcpdump', ['--version']).status === 0;
if (!hasTcpdump) console.log('tcpdump not installed: comparing with the stored expected output only');

/** Packets of a fixture, one per pcap record (non-IPv4 records kept as they are). */
function packets(name: string): Buffer[] {
  return readPcap(readFileSync(fixturePath(`${name}.pcap`))).map((r) => recordToIPv4(r) ?? r.data);
}

function stored(name: string, absolute: boolean): string[] {
  return readFileSync(fixturePath(`${name}.tcpdump${absolute ? '-S' : ''}.txt`), 'utf8').trimEnd().split('\n');
}

function live(name: string, absolute: boolean): string[] {
  const r = spawnSync('tcpdump', ['-nn', ...(absolute ? ['-S'] : []), '-r', fixturePath(`${name}.pcap`)], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  return r.stdout.trimEnd().split('\n').map((l) => l.slice(l.indexOf(' ') + 1));
}

function formatAll(name: string, absolute: boolean): string[] {
  const f = new TcpdumpFormatter({ absolute });
  const lines = packets(name).map((p) => f.format(p));
  assert.is(f.internalErrors, 0);
  return lines;
}

function compare(mine: string[], want: string[], what: string): void {
  assert.is(mine.length, want.length, `${what}: line count`);
  for (let i = 0; i < want.length; i++) assert.is(mine[i], want[i], `${what}, packet ${i + 1}`);
}

for (const name of FIXTURES) {
  for (const absolute of [false, true]) {
    const mode = absolute ? 'tcpdump -nn -S' : 'tcpdump -nn';
    test(`${name}.pcap: every line equals ${mode} (stored)`, () => {
      compare(formatAll(name, absolute), stored(name, absolute), `${name} ${mode} (stored)`);
    });
    test(`${name}.pcap: every line equals ${mode} (live)`, () => {
      if (!hasTcpdump) return;
      const want = live(name, absolute);
      // Malformed packets are printed differently by other tcpdump versions;
      // kernel traffic is not.
      if (name === 'synthetic' && want.join('\n') !== stored(name, absolute).join('\n')) {
        console.log(`${name}: this tcpdump differs from 4.99.3 on malformed packets; live check skipped`);
        return;
      }
      compare(formatAll(name, absolute), want, `${name} ${mode} (live)`);
    });
  }
}

test('the fixtures hold what the test expects', () => {
  const basic = formatAll('kernel-basic', false).join('\n');
  for (const s of ['Flags [S]', 'Flags [S.]', 'Flags [.]', 'Flags [P.]', 'Flags [F.]', 'Flags [R.]', 'Flags [SEW]', 'Flags [S.E]',
    'ICMP echo request', 'ICMP echo reply', 'udp port 33999 unreachable', 'UDP, length 13']) {
    assert.ok(basic.includes(s), s);
  }
  assert.ok(formatAll('kernel-sack', false).some((l) => l.includes(',sack 1 {')));
  const synth = readPcap(readFileSync(fixturePath('synthetic.pcap'))).map((r) => r.data);
  assert.equal(synth, syntheticPackets(), 'synthetic.pcap is what synthetic.ts generates (rerun it and expected.sh)');
});

test('a SYN looks like the issue example', () => {
  const syn = buildTcpPacket({ src: '10.55.0.1', dst: '10.55.0.2', protocol: 6 }, {
    srcPort: 40312, dstPort: 80, seq: 117557845, ack: 0, flags: TCP_SYN, window: 64240,
    options: [{ kind: 'mss', mss: 1460 }, { kind: 'sackOK' }, { kind: 'ts', val: 1654376461, ecr: 0 }, { kind: 'nop' }, { kind: 'wscale', shift: 7 }],
  });
  assert.is(
    new TcpdumpFormatter().format(syn),
    'IP 10.55.0.1.40312 > 10.55.0.2.80: Flags [S], seq 117557845, win 64240, options [mss 1460,sackOK,TS val 1654376461 ecr 0,nop,wscale 7], length 0',
  );
});

test('relative numbers restart per connection and after reset()', () => {
  const f = new TcpdumpFormatter();
  const lines = fixturePackets('kernel-basic.pcap').slice(0, 4).map((p) => f.format(p));
  assert.match(lines[2]!, 'Flags [.], ack 1, win 63');
  assert.match(lines[3]!, 'seq 1:23, ack 1');
  f.reset();
  assert.match(f.format(fixturePackets('kernel-basic.pcap')[3]!), 'seq 163551300:163551322, ack 3444164450');
});

test('random and mutated packets: never throws, no internal errors', () => {
  const seed = testSeed();
  const rnd = prng(seed);
  const corpus = [...packets('kernel-basic'), ...packets('kernel-sack'), ...packets('synthetic')];
  const f = new TcpdumpFormatter();
  for (let n = 0; n < 20_000; n++) {
    let b = Buffer.from(corpus[Math.floor(rnd() * corpus.length)]!);
    const k = Math.floor(rnd() * 4);
    if (k === 0) b = b.subarray(0, Math.floor(rnd() * (b.length + 1)));
    else if (k === 1) for (let i = 0; i < 1 + rnd() * 6; i++) b[Math.floor(rnd() * b.length)] ^= 1 << Math.floor(rnd() * 8);
    else if (k === 2) for (let i = 0; i < b.length; i++) if (rnd() < 0.1) b[i] = Math.floor(rnd() * 256);
    else b = Buffer.from(Array.from({ length: Math.floor(rnd() * 80) }, () => Math.floor(rnd() * 256)));
    let line = '';
    try {
      line = f.format(b);
    } catch (err) {
      assert.unreachable(`seed ${seed}, iteration ${n}: threw ${String(err)} on ${b.toString('hex')}`);
    }
    assert.type(line, 'string');
    assert.is(f.internalErrors, 0, `seed ${seed}, iteration ${n}: internal error on ${b.toString('hex')}: ${line}`);
  }
});

test.run();
