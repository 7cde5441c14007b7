/**
 * Passive opens spread evenly over the shards. The kernel's hash alone puts
 * 8 flows on 2 queues 4+4 only 27 % of the time (5+3 44 %, 6+2 22 %), and the
 * busier shard is the critical path. Linux's tun steers a flow to the queue
 * we last wrote its packets from (tun_flow_update, shards.ts), so a shard
 * that gets a SYN while it holds more connections than another hands the
 * SYN to the one with the fewest: that one answers, and from its SYN,ACK on
 * the kernel sends the flow there. Not everything: the kernel's ACK of the
 * SYN,ACK leaves inside that write(), before tun records the flow, and goes
 * by hash, as does whatever the peer sends after 3 s of our silence (the
 * table forgot). So the shard that handed a SYN on remembers the 4-tuple and
 * sends such segments after it, until the owner says the connection ended
 * (or the SYN made none there).
 *
 * The load is shared in one Int32Array of two slots per shard: the
 * connections it holds, which only it writes, and the SYNs handed to it that
 * it has not received yet (the hander adds one, it takes one off when the SYN
 * arrives): SYNs come in bursts, and both shards decide at once.
 */
/** Most 4-tuples one shard remembers handing on; past it, it keeps its SYNs (no eviction: a forgotten entry would reset a live connection). */
export const MAX_HANDED = 65536;

/** The map key of a 4-tuple seen from this host: the remote address as text (as TcpEndpoint.remoteAddr), the ports. */
export function tupleKey(remote: string, remotePort: number, localPort: number): string {
  return `${remote} ${remotePort} ${localPort}`;
}

/** Int32 slots the shared load array needs for `count` shards. */
export const loadSlots = (count: number): number => 2 * count;

export class PassiveBalance {
  /** 4-tuples whose SYN this shard handed on, and to which shard. */
  private readonly out = new Map<string, number>();
  /** 4-tuples another shard handed here, and which one (it hears when they end). */
  private readonly in = new Map<string, number>();

  private readonly shards: number;

  /** `load`: two slots per shard (loadSlots), shared by all of them. */
  constructor(
    readonly index: number,
    private readonly load: Int32Array,
    private readonly maxHanded = MAX_HANDED,
  ) {
    this.shards = load.length >> 1;
  }

  /** This shard holds `connections` now. */
  setOwn(connections: number): void {
    Atomics.store(this.load, this.index, connections);
  }

  /** Connections shard `j` holds, and SYNs on their way to it. */
  private loadOf(j: number): number {
    return Atomics.load(this.load, j) + Atomics.load(this.load, this.shards + j);
  }

  /** The shard this shard handed the 4-tuple's SYN to, or -1. */
  ownerOf(key: string): number {
    return this.out.get(key) ?? -1;
  }

  /** A SYN for a listener, with `connections` held here: the shard with the
   * fewest if that is fewer than here (and room is left to remember it), else this one. */
  pick(connections: number): number {
    this.setOwn(connections);
    if (this.out.size >= this.maxHanded) return this.keep(connections);
    let best = this.index;
    let least = this.loadOf(this.index);
    for (let j = 0; j < this.shards; j++) {
      const n = this.loadOf(j);
      if (n < least) {
        best = j;
        least = n;
      }
    }
    return best === this.index ? this.keep(connections) : best;
  }

  private keep(connections: number): number {
    this.setOwn(connections + 1); // the SYN makes one more here
    return this.index;
  }

  /** The SYN of `key` went to shard `to`: count it there at once (more SYNs may come before it does). */
  handedOut(key: string, to: number): void {
    this.out.set(key, to);
    Atomics.add(this.load, this.shards + to, 1);
  }

  /** A SYN another shard handed here arrived (and was received: the connection count has it, if any). */
  arrived(): void {
    Atomics.sub(this.load, this.shards + this.index, 1);
  }

  /** Shard `from` handed the SYN of `key` here and it made a connection. */
  handedIn(key: string, from: number): void {
    this.in.set(key, from);
  }

  /** The connection of `key` ended here: the shard that handed it over (to tell), or -1. */
  ended(key: string): number {
    const from = this.in.get(key);
    if (from === undefined) return -1;
    this.in.delete(key);
    return from;
  }

  /** The owner says the connection of `key` is gone (or never was). */
  forget(key: string): void {
    this.out.delete(key);
  }

  /** 4-tuples remembered both ways (tests: nothing is kept past a connection's end). */
  get remembered(): { out: number; in: number } {
    return { out: this.out.size, in: this.in.size };
  }
}
