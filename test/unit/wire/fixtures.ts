// Shared by the wire and trace tests: kernel packets captured by
// test/fixtures/capture.sh, as raw IPv4.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readPcapIPv4 } from '../../../src/trace/pcap.js';

/** test/fixtures/ in the source tree (this file runs from dist/test/unit/wire/). */
export const fixtureDir = fileURLToPath(new URL('../../../../test/fixtures/', import.meta.url));

export function fixturePath(name: string): string {
  return fixtureDir + name;
}

/** Every IPv4 packet of a fixture pcap. */
export function fixturePackets(name: string): Buffer[] {
  return readPcapIPv4(readFileSync(fixturePath(name)));
}

/** Small seeded PRNG (mulberry32) so failures can be replayed from the seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed for randomized tests: $SEED or a fresh one. */
export function testSeed(): number {
  const env = process.env.SEED;
  return env !== undefined && env !== '' ? Number(env) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
}
