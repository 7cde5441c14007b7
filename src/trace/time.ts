/** tcpdump's default timestamp: local wall-clock time with microseconds, HH:MM:SS.uuuuuu. */
export function formatClock(d: Date, micros = d.getMilliseconds() * 1000): string {
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}.${String(micros).padStart(6, '0')}`;
}
