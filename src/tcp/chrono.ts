/**
 * Where a sender's time goes, as Linux measures it for TCP_INFO
 * (tcp_chrono_start/stop, tcpi_busy_time, tcpi_rwnd_limited,
 * tcpi_sndbuf_limited): busy while it has data queued or in flight, and of
 * that time, how much the peer's window or our send buffer held it back.
 * One state at a time; a more telling one (higher) takes over from a less
 * telling one, and when it ends the sender is busy again, or idle if nothing
 * is left. Times in ms, passed in.
 */
export const CHRONO_BUSY = 1;
export const CHRONO_RWND_LIMITED = 2;
export const CHRONO_SNDBUF_LIMITED = 3;

export class Chrono {
  /** 0: idle; else one of the CHRONO_* states. */
  private type = 0;
  private since = 0;
  /** Time spent in each state, indexed by type - 1. */
  private readonly spent = [0, 0, 0];

  private set(type: number, now: number): void {
    if (this.type > 0) this.spent[this.type - 1]! += now - this.since;
    this.since = now;
    this.type = type;
  }

  /** Linux tcp_chrono_start: a more telling state takes over. */
  start(type: number, now: number): void {
    if (type > this.type) this.set(type, now);
  }

  /** Linux tcp_chrono_stop: idle when nothing is queued or in flight, else busy if `type` was the state. */
  stop(type: number, now: number, queuesEmpty: boolean): void {
    if (queuesEmpty) this.set(0, now);
    else if (type === this.type) this.set(CHRONO_BUSY, now);
  }

  /** Time in state `type` so far, ms. */
  time(type: number, now: number): number {
    return this.spent[type - 1]! + (this.type === type ? now - this.since : 0);
  }
}
