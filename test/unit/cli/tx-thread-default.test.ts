// The TUN writer thread's default (options.ts txThreadWanted): on when a core
// is left beside the stack threads, off otherwise; the flag always wins.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { txThreadWanted, type StackArgs } from '../../../src/cli/options.js';

const args = (txThread?: boolean): StackArgs => ({ txThread }) as StackArgs;

test('default: on with a core to spare (2 cores, one stack), off when every core runs a stack thread', () => {
  assert.is(txThreadWanted(args(), 1, 2), true);
  assert.is(txThreadWanted(args(), 2, 2), false, '--queues 2 on 2 cores');
  assert.is(txThreadWanted(args(), 1, 1), false, 'one core');
  assert.is(txThreadWanted(args(), 2, 4), true);
});

test('--tx-thread and --no-tx-thread override the default', () => {
  assert.is(txThreadWanted(args(true), 1, 1), true);
  assert.is(txThreadWanted(args(false), 1, 8), false);
});

test.run();
