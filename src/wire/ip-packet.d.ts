// Types for the untyped `ip-packet` package (CommonJS, compact-encoding style
// state objects). Only what src/wire/ipv4.ts uses.
declare module 'ip-packet' {
  interface State {
    buffer: Uint8Array;
    start: number;
    end: number;
  }
  interface Decoded {
    version: number;
    ihl: number;
    dscp: number;
    ecn: number;
    length: number;
    identification: number;
    flags: number;
    fragmentOffset: number;
    ttl: number;
    protocol: number;
    sourceIp: string;
    destinationIp: string;
    checksum: number;
    data: Uint8Array;
  }
  const ipPacket: {
    decode(state: State): Decoded;
    checksum(packet: Uint8Array): number;
  };
  export default ipPacket;
}
