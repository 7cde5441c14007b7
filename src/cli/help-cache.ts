/**
 * yargs renders a command's whole --help text right after its handler
 * returns (command.js: usage.cacheHelpMessage), in case a later failure
 * wants to show it. For `connect` and `listen`, whose handlers return with
 * the SYN sent or the port open, that is 100-400 ms of layout work (cliui,
 * string widths) in the middle of the handshake, before the event loop sees
 * the SYN,ACK. We never show help after a handler ran (showHelpOnFail is
 * off; errors go out as one line), so the cache is skipped; `--help` itself
 * does not use it and is unchanged.
 */
import type { Argv } from 'yargs';

interface WithUsage {
  getInternalMethods?(): { getUsageInstance?(): { cacheHelpMessage?: () => void } } | undefined;
}

/** Stop `y` from rendering the help text after a handler; harmless if yargs' internals change. */
export function skipHelpCache<T>(y: Argv<T>): Argv<T> {
  const usage = (y as unknown as WithUsage).getInternalMethods?.()?.getUsageInstance?.();
  if (usage !== undefined && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => undefined;
  return y;
}
