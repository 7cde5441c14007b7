/**
 * The ephemeral ports of the shards of one multi-queue device: Linux's
 * ip_local_port_range (32768-60999) cut into disjoint slices, one per shard.
 * No two shards can then pick the same local port (no lock, no shared
 * memory), and a local port alone names the shard that owns an active open:
 * a segment the kernel steered to another queue goes to that shard
 * (shards.ts). Listening ports are the same in every shard.
 */
import { EPHEMERAL_HIGH, EPHEMERAL_LOW } from '../stack/stack.js';

export { EPHEMERAL_HIGH, EPHEMERAL_LOW };

/** Linux's MAX_TAP_QUEUES: the most queues one TUN device can have. */
export const MAX_QUEUES = 256;

/** Shard `index` of `count`: its slice [low, high] of the ephemeral range. */
export function shardPorts(index: number, count: number): [number, number] {
  const span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
  const low = EPHEMERAL_LOW + Math.floor((span * index) / count);
  const high = EPHEMERAL_LOW + Math.floor((span * (index + 1)) / count) - 1;
  return [low, high];
}

/** The shard whose slice holds `port`, or -1 when it is no ephemeral port. */
export function shardOfPort(port: number, count: number): number {
  if (port < EPHEMERAL_LOW || port > EPHEMERAL_HIGH) return -1;
  const span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
  // The inverse of shardPorts' floor: the largest index whose low is <= port.
  let i = Math.floor(((port - EPHEMERAL_LOW) * count) / span);
  while (i + 1 < count && shardPorts(i + 1, count)[0] <= port) i++;
  while (i > 0 && shardPorts(i, count)[0] > port) i--;
  return i;
}
