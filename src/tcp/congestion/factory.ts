/** Picks a congestion control algorithm by name (`--cc cubic|newreno|bbr`). */
import type { CongestionControl, CongestionObserver } from './congestion.js';
import { Cubic } from './cubic.js';
import { NewReno } from './newreno.js';
import { Bbr } from './bbr.js';

export type CongestionControlName = CongestionControl['name'];

export const CONGESTION_CONTROLS: readonly CongestionControlName[] = ['cubic', 'newreno', 'bbr'];

export function createCongestionControl(name: CongestionControlName, mss: number, observer?: CongestionObserver, hystart: boolean | 'rfc9406' = true, initCwnd = 10): CongestionControl {
  if (name === 'bbr') return new Bbr(mss, observer);
  return name === 'newreno' ? new NewReno(mss, initCwnd) : new Cubic(mss, observer, hystart, initCwnd);
}
