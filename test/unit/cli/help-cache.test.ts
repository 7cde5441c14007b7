// skipHelpCache (src/cli/help-cache.ts): a command's handler runs without
// yargs rendering its help text afterwards, and --help still prints it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import yargs, { type Argv } from 'yargs';
import { skipHelpCache } from '../../../src/cli/help-cache.js';

interface Internals {
  getInternalMethods(): { getUsageInstance(): { hasCachedHelpMessage(): boolean } };
}

function cli(args: string[], ran: string[]): Argv {
  return yargs(args)
    .scriptName('tuntcp')
    .command({
      command: 'connect <host> <port>',
      describe: 'open a connection',
      builder: (y) => y.option('mtu', { type: 'number', default: 1500, describe: 'the MTU of the device' }),
      handler: (a) => {
        ran.push(String(a.host));
      },
    })
    .strict()
    .help()
    .exitProcess(false);
}

const cached = (y: Argv): boolean => (y as unknown as Internals).getInternalMethods().getUsageInstance().hasCachedHelpMessage();

test('yargs renders the help text after a handler; skipHelpCache stops that', async () => {
  const ran: string[] = [];
  const plain = cli(['connect', '10.0.0.1', '80'], ran);
  await plain.parseAsync();
  assert.ok(cached(plain), 'yargs itself caches the help (what this works around)');
  const y = skipHelpCache(cli(['connect', '10.0.0.1', '80'], ran));
  await y.parseAsync();
  assert.equal(ran, ['10.0.0.1', '10.0.0.1'], 'both handlers ran');
  assert.not.ok(cached(y), 'no help text rendered');
});

test('--help still prints the command help', async () => {
  const ran: string[] = [];
  let out = '';
  const y = skipHelpCache(cli(['connect', '--help'], ran));
  await y.parseAsync(['connect', '--help'], {}, (_err, _argv, output) => {
    out = output;
  });
  assert.match(out, /the MTU of the device/);
  assert.equal(ran, []);
});

test.run();
