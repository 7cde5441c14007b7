/**
 * Worker thread for the scenario pool: runs one job at a time and posts back
 * its Result. Each job is a seed or the name of a fixed hard scenario.
 */
import { parentPort } from 'node:worker_threads';
import { HARD_SCENARIOS, runParams, runScenario, type ScenarioOptions } from './scenario.js';
import type { Job } from './pool.js';

const port = parentPort;
if (port === null) throw new Error('scenario-worker.js runs only as a worker thread');

port.on('message', (msg: { job: Job; opts: ScenarioOptions }) => {
  const { job, opts } = msg;
  const run = job.hard !== undefined ? runParams(HARD_SCENARIOS[job.hard]!(), opts) : runScenario(job.seed ?? 0, opts);
  void run.then((r) => port.postMessage(r));
});
