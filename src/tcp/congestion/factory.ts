/** Picks a congestion control algorithm by name (`--cc cubic|newreno`). */
import type { CongestionControl, CongestionObserver } from './congestion.js';
import { Cubic } from './cubic.js';
import { NewReno } from './newreno.js';

export type CongestionControlName = CongestionControl['name'];

export const CONGESTION_CONTROLS: readonly CongestionControlName[] = ['cubic', 'newreno'];

export function createCongestionControl(name: CongestionControlName, mss: number, observer?: CongestionObserver, hystart: boolean | 'rfc9406' = true): CongestionControl {
  return name === 'newreno' ? new NewReno(mss) : new Cubic(mss, observer, hystart);
}
