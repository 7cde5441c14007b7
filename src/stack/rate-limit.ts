/**
 * A token bucket: at most `burst` events at once and `perSecond` on average.
 * The stack uses it for the RSTs it sends in answer to segments that match no
 * connection, like FreeBSD's badport_bandlim (net.inet.icmp.icmplim, 200/s):
 * a flood of stray segments must not turn the host into a reflector.
 * Time is passed in (ms), so tests run it on a virtual clock.
 */
export class TokenBucket {
  private tokens: number;
  private last = -Infinity;

  /** `perSecond` <= 0 or Infinity: no limit. `burst` defaults to one second's worth. */
  constructor(
    private readonly perSecond: number,
    private readonly burst = perSecond,
  ) {
    this.tokens = burst;
  }

  /** Take one token if there is one. */
  take(now: number): boolean {
    if (!(this.perSecond > 0 && this.perSecond < Infinity)) return true;
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSecond) / 1000);
      this.last = now;
    }
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}
