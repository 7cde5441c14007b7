/**
 * TCP timestamps (RFC 7323 §3-§5): the option on every segment once both
 * SYNs carried it, RTT samples from the echoed value (§4), and PAWS, the
 * protection against old duplicates from an earlier wrap of the sequence
 * space (§5). Values tick in milliseconds (Linux too) from a per-connection
 * random offset, so they say nothing about the host's uptime.
 */
import { seqGe, seqLe, seqLt } from '../wire/seq.js';

/**
 * The per-connection offset of our TSvals, derived from the (keyed,
 * random-looking) ISS: a SYN cookie's connection, which is built later from
 * the ISS alone, then continues the clock its SYN,ACK started.
 */
export function tsOffsetFor(iss: number): number {
  return Math.imul(iss ^ 0x9e3779b9, 2654435761) >>> 0;
}

/** TSval at `now` (ms ticks) for a connection whose clock starts at `offset`. */
export function tsValue(now: number, offset: number): number {
  return (Math.floor(now) + offset) >>> 0;
}

/**
 * RFC 7323 §5.5: after this long without an update TS.Recent is no longer
 * trusted, since the peer's clock may have moved on by more than 2^31 ticks
 * (24 days at 1 ms per tick; Linux TCP_PAWS_24DAYS).
 */
export const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;

export class Timestamps {
  /** Both SYNs carried the option. */
  enabled = false;
  /** TS.Recent: the peer's value to echo (§4.3). */
  recent = 0;
  /** When TS.Recent was last set (Linux ts_recent_stamp). */
  private recentAt = 0;

  constructor(private readonly offset: number) {}

  /** TSval for a segment sent now. */
  value(now: number): number {
    return tsValue(now, this.offset);
  }

  setRecent(tsVal: number, now: number): void {
    this.recent = tsVal;
    this.recentAt = now;
  }

  /** §5.5: TS.Recent is older than 24 days and says nothing any more. */
  private stale(now: number): boolean {
    return now - this.recentAt > PAWS_IDLE_MS;
  }

  /** RFC 7323 §5.3 R1: reject a segment whose TSval is older than TS.Recent (unless TS.Recent is stale, §5.5). */
  pawsRejects(tsVal: number | undefined, now: number): boolean {
    return this.enabled && tsVal !== undefined && seqLt(tsVal, this.recent) && !this.stale(now);
  }

  /**
   * §4.3 (2): remember TSval of a segment that covers the ACK we last sent
   * (`lastAckSent`, RCV.NXT then); after 24 idle days any TSval (§5.5).
   */
  update(tsVal: number | undefined, segSeq: number, lastAckSent: number, now: number): void {
    if (!this.enabled || tsVal === undefined) return;
    if ((seqGe(tsVal, this.recent) || this.stale(now)) && seqLe(segSeq, lastAckSent)) this.setRecent(tsVal, now);
  }

  /** §4.1: an RTT sample from an echoed TSval, or undefined. */
  rttSample(tsEcr: number | undefined, now: number): number | undefined {
    if (!this.enabled || tsEcr === undefined || tsEcr === 0) return undefined;
    const rtt = (this.value(now) - tsEcr) | 0;
    return rtt >= 0 && rtt < 3_600_000 ? Math.max(rtt, 1) : undefined;
  }
}
