/**
 * A transparent wrapper that shows every packet passing between the stack and
 * its link to observers (pcap writer, tcpdump-style tracer). It sits closest to
 * the stack, so it records exactly what the stack sent and received (after any
 * fault injection on the way in, before it on the way out).
 */
import type { Link } from './link.js';

export type PacketDirection = 'in' | 'out';
export type PacketObserver = (dir: PacketDirection, header: Buffer, payload?: Buffer) => void;

export class TapLink implements Link {
  onReceive: ((packets: Buffer[], trusted?: Uint8Array) => void) | null = null;
  private readonly observers: PacketObserver[] = [];

  constructor(private readonly inner: Link) {
    inner.onReceive = (packets, trusted) => {
      for (const p of packets) for (const o of this.observers) o('in', p);
      this.onReceive?.(packets, trusted);
    };
  }

  get mtu(): number {
    return this.inner.mtu;
  }

  get offload(): boolean {
    return this.inner.offload === true;
  }

  observe(o: PacketObserver): void {
    this.observers.push(o);
  }

  send(header: Buffer, payload?: Buffer, gsoSize = 0): void {
    for (const o of this.observers) o('out', header, payload);
    this.inner.send(header, payload, gsoSize);
  }

  close(): void {
    this.inner.close();
  }

  ref(): void {
    this.inner.ref?.();
  }

  unref(): void {
    this.inner.unref?.();
  }
}
