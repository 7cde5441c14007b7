/** Small helpers shared by the SVG pictures: escaping and number formatting. */

/** Text for XML/HTML content and attribute values. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A coordinate with at most one decimal: small files, stable goldens. */
export function n(x: number): string {
  return (Math.round(x * 10) / 10).toString();
}

/** Bytes as a short label: 1460, 14.6k, 1.2M. */
export function bytesLabel(b: number): string {
  if (b >= 1e6) return `${(b / 1e6).toFixed(1)}M`;
  if (b >= 1e4) return `${(b / 1e3).toFixed(1)}k`;
  return String(Math.round(b));
}

/** A round step for about `count` ticks over `span`. */
export function tickStep(span: number, count = 5): number {
  if (!(span > 0)) return 1;
  const raw = span / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}
