// Public API of the DNS stub resolver.
export { createStubResolver } from './stub-resolver.ts';
export type { StreamExchange, StubResolver, StubResolverOptions, StubResolverStats, DnsServerSpec, DnsQueryResult, DnsReply, DnsFailure, DnsFailureReason } from './stub-resolver.ts';
export { parseResolvConf, isLoopbackAddress, MAX_RESOLV_CONF_SERVERS } from './resolv-conf.ts';
export type { DnsServer, ResolvConf } from './resolv-conf.ts';
export { checkQueryName, sameName, foldCase } from './names.ts';
export type { QueryNameCheck, QueryNameProblem } from './names.ts';
export { DnsTcpFramer, frameTcpMessage } from './tcp-framer.ts';
export { EDNS_UDP_PAYLOAD_SIZE, EDE_OPTION_CODE, EDE_NAMES, decodeExtendedError, extendedErrorsOf, describeExtendedError, isDnssecBogusCode } from './message.ts';
export type { ExtendedDnsError } from './message.ts';
export { createPipelinedTcpChannels } from './tcp-pipelined.ts';
export type { PipelinedTcpChannels, PipelinedTcpOptions, PipelinedTcpStats, StreamOpener, StreamOpenResult } from './tcp-pipelined.ts';
