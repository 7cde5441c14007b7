/**
 * A packetdrill script as data: option lines, then events, each at a time.
 * Times are in microseconds of script time, as packetdrill keeps them.
 */

/** packetdrill's event_time: `t`, `+t`, `*`, `t1~t2`, `+t1~+t2`. */
export interface TimeSpec {
  kind: 'abs' | 'rel' | 'any' | 'absRange' | 'relRange';
  us: number;
  /** End of a range. */
  endUs?: number;
}

/** One TCP option as written in a script packet. */
export type OptionSpec =
  | { kind: 'nop' }
  | { kind: 'eol' }
  | { kind: 'mss'; value: number }
  | { kind: 'wscale'; value: number }
  | { kind: 'sackOK' }
  | { kind: 'sack'; blocks: Array<[number, number]> }
  | { kind: 'ts'; val: number; ecr: number };

/** IP-level ECN as written in brackets before the flags. */
export type EcnSpec = 'noecn' | 'ect0' | 'ect1' | 'ce' | 'ect01';

export interface PacketSpec {
  dir: '<' | '>';
  ecn?: EcnSpec;
  /** Flag characters as written ("S.", "P.", "F.", "SEW"). */
  flags: string;
  /** Relative sequence number, end and length: `seq:end(len)`. */
  seq: number;
  len: number;
  ack?: number;
  /** Undefined: not checked on outgoing packets (FLAG_WIN_NOCHECK). */
  win?: number;
  /** null: `<...>`, options not checked. Empty: none. */
  options: OptionSpec[] | null;
  /** The packet as written, for messages. */
  text: string;
}

/** An argument or return value of a system call. */
export type Expr =
  | { t: 'ellipsis' }
  | { t: 'int'; v: number }
  | { t: 'word'; v: string }
  | { t: 'str'; v: string }
  | { t: 'list'; items: Expr[] }
  | { t: 'struct'; items: Expr[] }
  | { t: 'or'; items: Expr[] }
  /** `name(args)=value` or `name=value` inside a struct. */
  | { t: 'field'; name: string; args: Expr[] | null; value: Expr };

export interface SyscallSpec {
  name: string;
  args: Expr[];
  /** `...t`: a blocking call that returns at time t (microseconds). */
  endUs?: number;
  ret: Expr;
  /** `-1 EPIPE (Broken pipe)`: the errno name. */
  errno?: string;
  text: string;
}

export type Action =
  | { type: 'packet'; packet: PacketSpec }
  | { type: 'syscall'; call: SyscallSpec }
  | { type: 'code'; code: string }
  | { type: 'command'; command: string };

export interface DrillEvent {
  line: number;
  time: TimeSpec;
  action: Action;
}

export interface DrillScript {
  /** `--name=value` option lines (value '' for a bare `--name`). */
  options: Map<string, string>;
  events: DrillEvent[];
}

/** The script uses something this runner does not model: the file is SKIPped. */
export class DrillSkip extends Error {}

/** The script cannot be parsed: the file FAILs at this line. */
export class DrillSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}
