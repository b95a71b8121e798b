// Public API of the relay's upstream half (the contract is api.ts).
export { createUpstreams } from './upstreams.ts';
export type { UpstreamOptions, UpstreamPoolOptions, UpstreamTimeouts, StarttlsMode } from './options.ts';
export { DEFAULT_UPSTREAM_TIMEOUTS, DEFAULT_POOL, DEFAULT_HELO_NAME, DEFAULT_STARTTLS } from './options.ts';
export type * from './api.ts';
