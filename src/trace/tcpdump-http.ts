/**
 * The first line of an HTTP request or response, as tcpdump prints it after
 * ": HTTP" for port 80 or 8080 (print-http.c, util-print.c txtproto_print).
 */
import { View } from './tcpdump-bytes.js';

// print-tcp.c tries these ports' decoders before HTTP; we do not decode them.
export const EARLIER_PORTS = new Set([23, 25, 43, 179, 1723, 6379, 22, 139, 445, 10288, 6633, 6653, 21]);
export const HTTP_PORTS = new Set([80, 8080]);

// print-http.c httpcmds: a first token from this list (any case) marks a request.
const HTTP_METHODS = new Set([
  'GET', 'PUT', 'COPY', 'HEAD', 'LOCK', 'MOVE', 'POLL', 'POST', 'BCOPY', 'BMOVE', 'MKCOL', 'TRACE', 'LABEL', 'MERGE',
  'DELETE', 'SEARCH', 'UNLOCK', 'REPORT', 'UPDATE', 'NOTIFY', 'BDELETE', 'CONNECT', 'OPTIONS', 'CHECKIN', 'PROPFIND',
  'CHECKOUT', 'CCM_POST', 'SUBSCRIBE', 'PROPPATCH', 'BPROPFIND', 'BPROPPATCH', 'UNCHECKOUT', 'MKACTIVITY',
  'MKWORKSPACE', 'UNSUBSCRIBE', 'RPC_CONNECT', 'VERSION-CONTROL', 'BASELINE-CONTROL',
]);

const isPrint = (c: number): boolean => c >= 0x20 && c <= 0x7e;
const isSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;

/** util-print.c fetch_token: [token, index after it and its trailing blanks], or null. */
function fetchToken(v: View, idx: number, len: number): [string, number] | null {
  let tok = '';
  for (; idx < len; idx++) {
    if (!v.has(idx, 1)) return null;
    const c = v.b[idx]!;
    if (c >= 0x80) return null;
    if (isSpace(c)) break;
    if (!isPrint(c) || tok.length + 2 > 129) return null;
    tok += String.fromCharCode(c);
  }
  if (tok === '') return null;
  for (; idx < len && v.has(idx, 1); idx++) {
    const c = v.b[idx]!;
    if (c === 0x0d || c === 0x0a || !isPrint(c) || !isSpace(c)) break;
  }
  return [tok, idx];
}

/**
 * util-print.c txtproto_print for HTTP without -v: the first line of a request
 * or response; null for body continuations and binary data. `truncated`: no
 * line ending in this segment, which tcpdump 4.99.3 marks " [|http]".
 */
export function httpLine(v: View, len: number): { text: string; truncated: boolean } | null {
  const first = fetchToken(v, 0, len);
  if (first === null) return null;
  let show = HTTP_METHODS.has(first[0].toUpperCase());
  const second = fetchToken(v, first[1], len); // RESP_CODE_SECOND_TOKEN
  if (second !== null && /^[0-9]{3}$/.test(second[0])) show = true;
  if (!show) return null;
  // print_txt_line: up to LF or CR-LF; a lone CR or a control byte means binary.
  let text = '';
  for (let idx = 0; idx < len; idx++) {
    const c = v.u8(idx);
    if (c === 0x0a) return { text, truncated: false };
    if (c === 0x0d) return idx + 1 < len && v.u8(idx + 1) === 0x0a ? { text, truncated: false } : null;
    if (!isPrint(c) && c !== 0x09) return null;
    text += String.fromCharCode(c);
  }
  return { text, truncated: true };
}
