#!/usr/bin/env node
/** The tuntcp command line. Each command lives in its own file. */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { upCommand } from './up.js';
import { listenCommand } from './listen.js';
import { connectCommand } from './connect.js';
import { netstatCommand } from './netstat.js';
import { demoCommand } from './demo.js';
import { compareCommand } from './compare.js';
import { drillCommand } from './drill.js';
import { reportCommand } from './report.js';
import { skipHelpCache } from './help-cache.js';

await skipHelpCache(yargs(hideBin(process.argv)))
  .scriptName('tuntcp')
  .command(upCommand)
  .command(listenCommand)
  .command(connectCommand)
  .command(netstatCommand)
  .command(demoCommand)
  .command(compareCommand)
  .command(drillCommand)
  .command(reportCommand)
  .demandCommand(1, 'name a command (see --help)')
  .strict()
  .showHelpOnFail(false, 'run with --help for usage')
  .help()
  .alias('h', 'help')
  .wrap(Math.min(100, process.stdout.columns || 100))
  .parseAsync();
