/** tuntcp's public API. */
export { NetStack, type ConnectOptions } from './socket/net-stack.js';
export { Server, type ServerOptions, type ListenOptions } from './socket/server.js';
export { Socket, type SocketOptions } from './socket/socket.js';
export { Stack, type StackOptions } from './stack/stack.js';
export { RealClock, VirtualClock, type Clock } from './stack/clock.js';
export type { Link } from './link/link.js';
export { createMemoryPair, type MemoryPairOptions } from './link/memory.js';
export { FaultLink, type FaultOptions } from './link/fault.js';
export { TapLink, type PacketObserver } from './link/tap.js';
export { DEFAULT_TCP_CONFIG, type TcpConfig } from './tcp/config.js';
export type { TcpState } from './tcp/state.js';
export { TunLink, type TunOpenOptions } from './link/tun.js';
export { configureTun, deleteTun, type TunConfig } from './link/netdev.js';
export { PcapWriter, readPcap } from './trace/pcap.js';
export { TcpdumpFormatter } from './trace/tcpdump.js';
