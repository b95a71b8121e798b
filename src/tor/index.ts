// Public API of the Tor side.
export { connectViaTor, isolationUsername, DEFAULT_TOR_CONNECT_TIMEOUT_MS } from './socks-connect.ts';
export type { TorConnectOptions, TorConnectResult, TorConnected, TorConnectFailure, TorConnectFailureKind } from './socks-connect.ts';
export { socksReplyInfo, readSocksServerBytes } from './socks-reply.ts';
export type { SocksReplyInfo, SocksServerBytes } from './socks-reply.ts';
export { parseSocksEndpoint, formatSocksEndpoint } from './socks-endpoint.ts';
export type { SocksEndpoint } from './socks-endpoint.ts';
export { probeOnion, describeProbe, SMTP_GREETING_TIMEOUT_MS } from './probe.ts';
export type { ProbeOptions, ProbeResult, ProbeReachable, ProbeFailed, ProbeStage } from './probe.ts';
export { HealthChecker, withHealthPolicy } from './health.ts';
export type { HealthCheckerOptions, OnionHealth, ResolveFn } from './health.ts';
export { dnsOverTorChannels, DNS_ISOLATION_USERNAME } from './dns-over-tor.ts';
