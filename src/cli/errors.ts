/** Errors reach users as one line with a code, never a stack trace. */
export function errorLine(context: string, err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  const msg = typeof e?.message === 'string' ? e.message : String(err);
  const body = code && !msg.includes(code) ? `${code} ${msg}` : msg;
  return `tuntcp: ${context ? context + ' ' : ''}${body}`;
}

/** Print the error line and exit non-zero. */
export function die(context: string, err: unknown): never {
  process.stderr.write(errorLine(context, err) + '\n');
  process.exit(1);
}
