/**
 * Runs scenarios in worker threads (one per core by default), one job at a
 * time per worker. A worker that does not answer within `hangMs` of wall
 * time (a run stuck in a synchronous loop, which the scenario's own bounds
 * cannot see) is terminated, its job is reported as a failure, and a fresh
 * worker takes its place.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { drawParams, HARD_SCENARIOS, type Result, type ScenarioOptions } from './scenario.js';

/** A drawn seed, or a fixed scenario by name. */
export interface Job {
  seed?: number;
  hard?: string;
}

export interface PoolOptions {
  jobs?: number;
  /** Wall ms before a silent worker is declared hung (default 180 s). */
  hangMs?: number;
  scenario?: ScenarioOptions;
}

interface Slot {
  worker: Worker;
  busy: boolean;
}

export class ScenarioPool {
  readonly size: number;
  private readonly hangMs: number;
  private readonly opts: ScenarioOptions;
  private readonly slots: Slot[] = [];
  private readonly waiting: Array<(s: Slot) => void> = [];

  constructor(o: PoolOptions = {}) {
    this.size = Math.max(1, o.jobs ?? Math.min(2, availableParallelism()));
    this.hangMs = o.hangMs ?? 180_000;
    this.opts = o.scenario ?? {};
    for (let i = 0; i < this.size; i++) this.slots.push({ worker: this.spawn(), busy: false });
  }

  private spawn(): Worker {
    return new Worker(new URL('./scenario-worker.js', import.meta.url));
  }

  private acquire(): Promise<Slot> {
    const free = this.slots.find((s) => !s.busy);
    if (free !== undefined) {
      free.busy = true;
      return Promise.resolve(free);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(s: Slot): void {
    const next = this.waiting.shift();
    if (next !== undefined) next(s);
    else s.busy = false;
  }

  /** Run one job on the next free worker. */
  async run(job: Job): Promise<Result> {
    const slot = await this.acquire();
    const result = await new Promise<Result>((resolve) => {
      const w = slot.worker;
      const cleanup = (): void => {
        clearTimeout(timer);
        w.off('message', onMessage);
        w.off('error', onError);
        w.off('exit', onExit);
      };
      const replace = (why: string): void => {
        cleanup();
        void w.terminate();
        slot.worker = this.spawn();
        resolve(failedJob(job, why));
      };
      const onMessage = (r: Result): void => {
        cleanup();
        resolve(r);
      };
      const onError = (e: Error): void => replace(`worker threw: ${e.stack ?? e.message}`);
      const onExit = (code: number): void => replace(`worker exited with ${code}`);
      const timer = setTimeout(() => replace(`no answer within ${this.hangMs / 1000} s of wall time (hung in a synchronous loop?)`), this.hangMs);
      w.on('message', onMessage);
      w.on('error', onError);
      w.on('exit', onExit);
      w.postMessage({ job, opts: this.opts });
    });
    this.release(slot);
    return result;
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

function failedJob(job: Job, reason: string): Result {
  const params = job.hard !== undefined ? HARD_SCENARIOS[job.hard]!() : drawParams(job.seed ?? 0);
  const r: Result = {
    seed: params.seed,
    ok: false,
    reason,
    params,
    transcript: '',
    packets: 0,
    virtualMs: 0,
    steps: 0,
    wallMs: 0,
    bytes: 0,
    faults: { lost: 0, queueDropped: 0, corrupted: 0, duplicated: 0, reordered: 0, delayed: 0, ceMarked: 0 },
    counters: { a: {}, b: {} },
  };
  if (params.name !== undefined) r.name = params.name;
  return r;
}
