/**
 * The eleven states of RFC 9293 §3.3.2, spelled as netstat prints them (the
 * table in the project's seed notes).
 */
export type TcpState =
  | 'CLOSED'
  | 'LISTEN'
  | 'SYN_SENT'
  | 'SYN_RECEIVED'
  | 'ESTABLISHED'
  | 'FIN_WAIT_1'
  | 'FIN_WAIT_2'
  | 'CLOSE_WAIT'
  | 'CLOSING'
  | 'LAST_ACK'
  | 'TIME_WAIT';

export const ALL_STATES: readonly TcpState[] = [
  'CLOSED', 'LISTEN', 'SYN_SENT', 'SYN_RECEIVED', 'ESTABLISHED', 'FIN_WAIT_1',
  'FIN_WAIT_2', 'CLOSE_WAIT', 'CLOSING', 'LAST_ACK', 'TIME_WAIT',
];

/** States in which we may still receive data from the peer (its FIN not yet seen). */
export function canReceive(s: TcpState): boolean {
  return s === 'ESTABLISHED' || s === 'FIN_WAIT_1' || s === 'FIN_WAIT_2';
}

/** States in which the user may still queue data to send (our FIN not yet queued). */
export function canSend(s: TcpState): boolean {
  return s === 'ESTABLISHED' || s === 'CLOSE_WAIT' || s === 'SYN_SENT' || s === 'SYN_RECEIVED';
}
