/**
 * `tuntcp drill [--json] [--verbose] FILE.pkt...`: runs packetdrill scripts
 * against a fresh tuntcp stack each, in virtual time (src/drill/). One line
 * per file, `PASS path`, `FAIL path:LINE: ...` or `SKIP path: reason`, then
 * `N passed, N failed, N skipped`; exit status 0 only when nothing failed.
 */
import type { CommandModule } from 'yargs';
import type { DrillResult } from '../drill/runner.js';
import type { Stack } from '../stack/stack.js';
import type { PacketObserver } from '../link/tap.js';
import { ladderOption, type Pictures } from './pictures.js';

interface DrillArgs {
  files: string[];
  json: boolean;
  verbose: boolean;
  ladder: boolean;
}

export function resultLine(r: DrillResult): string {
  if (r.status === 'PASS') return `PASS ${r.path}`;
  if (r.status === 'SKIP') return `SKIP ${r.path}: ${r.message}`;
  return `FAIL ${r.path}:${r.line ?? 0}: ${r.message}`;
}

export const drillCommand: CommandModule<object, DrillArgs> = {
  command: 'drill <files..>',
  describe:
    'run packetdrill scripts (FILE.pkt) against tuntcp over an in-memory link in virtual time; ' +
    'prints PASS/FAIL/SKIP per file and "N passed, N failed, N skipped"',
  builder: (y) =>
    y
      .positional('files', { type: 'string', array: true, demandOption: true, describe: 'packetdrill scripts' })
      .option('json', { type: 'boolean', default: false, describe: 'one JSON object per file' })
      .option('verbose', { type: 'boolean', default: false, describe: 'print every event: tcpdump lines, calls and state changes' })
      .options(ladderOption) as never,
  handler: async (argv) => {
    // Loaded here, not at startup: the other commands never need the drill.
    const { runDrillFile } = await import('../drill/runner.js');
    const { startPictures, finishPictures } = await import('./pictures.js');
    const counts = { PASS: 0, FAIL: 0, SKIP: 0 };
    for (const file of argv.files) {
      let r: DrillResult;
      let pictures: Pictures | null = null;
      const onStack = argv.ladder ? (stack: Stack, tap: { observe(o: PacketObserver): void }) => (pictures = startPictures(stack, tap, { ladder: true })) : undefined;
      try {
        r = runDrillFile(file, { verbose: argv.verbose, onStack });
      } catch (e) {
        r = { path: file, status: 'FAIL', line: 0, message: `internal error: ${(e as Error).stack ?? String(e)}`, log: [] };
      }
      counts[r.status]++;
      if (argv.json) {
        const { log, ...rest } = r;
        console.log(JSON.stringify(argv.verbose ? { ...rest, log } : rest));
      } else {
        if (argv.verbose) for (const l of r.log) console.log(`  ${l}`);
        finishPictures(pictures);
        console.log(resultLine(r));
      }
    }
    console.log(`${counts.PASS} passed, ${counts.FAIL} failed, ${counts.SKIP} skipped`);
    process.exitCode = counts.FAIL > 0 ? 1 : 0;
  },
};
