/**
 * Transfer progress and summaries for commands that move data: a line on a
 * TTY refreshed twice a second (bytes each way, rate), and a final summary,
 * as one JSON line with --json.
 */
export interface TransferCounts {
  readonly bytesRead: number;
  readonly bytesWritten: number;
}

export interface TransferSummary {
  local: string;
  remote: string;
  bytesRead: number;
  bytesWritten: number;
  seconds: number;
  readMbitPerSec: number;
  writeMbitPerSec: number;
  /** CPU seconds (user + system) of this process since the connection opened. */
  cpuSeconds: number;
  exitCode: number;
}

function human(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

export class Progress {
  private readonly t0 = performance.now();
  private readonly cpu0 = process.cpuUsage();
  private timer: NodeJS.Timeout | null = null;
  private shown = false;

  constructor(
    private readonly counts: TransferCounts,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  /** Refresh a progress line, only when the output is a terminal. */
  start(): void {
    if (!this.out.isTTY) return;
    this.timer = setInterval(() => this.draw(), 500);
    this.timer.unref();
  }

  private seconds(): number {
    return (performance.now() - this.t0) / 1000;
  }

  private draw(): void {
    const s = Math.max(this.seconds(), 1e-3);
    const rate = ((this.counts.bytesRead + this.counts.bytesWritten) * 8) / s / 1e6;
    this.out.write(`\r${human(this.counts.bytesRead)} in, ${human(this.counts.bytesWritten)} out, ${rate.toFixed(1)} Mbit/s, ${s.toFixed(1)} s   `);
    this.shown = true;
  }

  summary(local: string, remote: string, exitCode: number): TransferSummary {
    const seconds = this.seconds();
    const cpu = process.cpuUsage(this.cpu0);
    const mbit = (b: number): number => (seconds > 0 ? (b * 8) / seconds / 1e6 : 0);
    return {
      local,
      remote,
      bytesRead: this.counts.bytesRead,
      bytesWritten: this.counts.bytesWritten,
      seconds: Number(seconds.toFixed(3)),
      readMbitPerSec: Number(mbit(this.counts.bytesRead).toFixed(3)),
      writeMbitPerSec: Number(mbit(this.counts.bytesWritten).toFixed(3)),
      cpuSeconds: Number((cpu.user / 1e6 + cpu.system / 1e6).toFixed(3)),
      exitCode,
    };
  }

  /** Stop the progress line; print the summary (JSON with `json`, a sentence on a TTY). */
  finish(local: string, remote: string, exitCode: number, json: boolean): void {
    if (this.timer !== null) clearInterval(this.timer);
    if (this.shown) this.out.write('\n');
    const s = this.summary(local, remote, exitCode);
    if (json) this.out.write(JSON.stringify(s) + '\n');
    else if (this.out.isTTY) this.out.write(`${human(s.bytesRead)} in, ${human(s.bytesWritten)} out in ${s.seconds} s\n`);
  }
}
