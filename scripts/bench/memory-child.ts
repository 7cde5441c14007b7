/**
 * Entry of the fresh node process memory.ts measures in:
 *   node --expose-gc memory-child.js N ID
 * prints the MemoryRow as one JSON line. Runs in the caller's namespace.
 */
import { memoryRow } from './memory.js';

const [n, id] = process.argv.slice(2).map(Number);
const row = await memoryRow(n!, id!);
process.stdout.write(`${JSON.stringify(row)}\n`);
process.exit(0);
